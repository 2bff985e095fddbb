# imagine-bot: slim image, non-root user, database on a volume.
# Python 3.11, as in CI (.python-version); requirements.lock is resolved for it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_PATH=/data/bot.sqlite3 \
    METRICS_ADDRESS=127.0.0.1:9108

RUN useradd --create-home --uid 10001 imagine \
    && mkdir /data && chown imagine:imagine /data

WORKDIR /app
# Dependencies first, in a layer of their own: a code change does not
# reinstall them. Exact versions, checked against their hashes.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
# Then the bot itself (its dependencies are all installed above).
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps . && rm -rf build ./*.egg-info

USER imagine
VOLUME ["/data"]
# /healthz on METRICS_ADDRESS (loopback inside the container): 200 while the
# gateway is connected and the database answers.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
# SIGTERM lets running jobs finish (SHUTDOWN_GRACE_SECONDS) and keeps the rest queued.
STOPSIGNAL SIGTERM
CMD ["imagine-bot"]
