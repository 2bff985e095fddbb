# imagine-bot: slim image, non-root user, database on a volume.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_PATH=/data/bot.sqlite3

RUN useradd --create-home --uid 10001 imagine \
    && mkdir /data && chown imagine:imagine /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install .

USER imagine
VOLUME ["/data"]
# SIGTERM lets running jobs finish (SHUTDOWN_GRACE_SECONDS) and keeps the rest queued.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
