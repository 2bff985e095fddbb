"""``python -m bot.healthcheck``: exit 0 when the running bot's ``/healthz`` says 200.

For Docker's ``HEALTHCHECK`` (the slim image has no curl), and for anyone
in the bot's folder. It reads ``METRICS_ADDRESS`` as the bot does (the
environment, then ``.env``) and prints the bot's answer (``docker inspect``
keeps it).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from dotenv import load_dotenv

from bot.config import ConfigError, load_settings_for

# A server bound to every address is reached through loopback.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


def healthz_url(env: Mapping[str, str]) -> str | None:
    """The bot's /healthz URL from ``METRICS_ADDRESS``; None when the server is off."""
    settings = load_settings_for(env, lambda name: name == "METRICS_ADDRESS")
    if settings.metrics_address is None:
        return None
    host, port = settings.metrics_address
    host = _LOOPBACK.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main(env: Mapping[str, str] = os.environ) -> int:
    """Check once; 0 healthy, 1 not (or not reachable, or not configured)."""
    try:
        url = healthz_url(env)
    except ConfigError as exc:
        print(f"Configuration error: {exc}")
        return 1
    if url is None:
        print("METRICS_ADDRESS is not set: the bot serves no /healthz")
        return 1
    try:
        # Only ever our own http://host:port/healthz, built above.
        with urllib.request.urlopen(url, timeout=4) as resp:  # noqa: S310
            print(resp.read().decode(errors="replace").strip())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy (HTTP {exc.code}): {exc.read().decode(errors='replace').strip()}")
    except OSError as exc:
        print(f"no answer from {url}: {exc}")
    return 1


if __name__ == "__main__":
    load_dotenv(Path.cwd() / ".env", override=False)
    sys.exit(main())
