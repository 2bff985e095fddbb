"""Starting the bot: what stops it for good, and what it waits out.

Spec, "Operating it": what a restart cannot fix (configuration, a token
Discord rejects, a database path that cannot be used) ends the process with
exit code 2 and one line naming the cause, so a supervisor stops restarting
it (systemd's ``RestartPreventExitStatus=2``). A network failure reaching
Discord at start is waited out inside the process, with exponential backoff
and jitter, one log line per attempt and never a traceback: restarting the
whole process every few seconds would not reach Discord any sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import discord

from bot.storage.database import Database

log = logging.getLogger(__name__)

EXIT_FATAL = 2
# discord.py retries a 429 itself; one that still surfaces (Cloudflare's ban of
# an address) lifts with time, like a 5xx.
_TOO_MANY_REQUESTS = 429
_SERVER_ERROR = 500


class FatalStartError(Exception):
    """A cause a restart cannot fix; ``line`` names it and says what to do."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of first*factor^(n-1).

    The jitter spreads restarts of many bots after an outage; the lower half
    bound keeps each wait long enough to matter.
    """

    first: float = 1.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.first * self.factor ** (attempt - 1))
        # Jitter, not cryptography.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311


def fatal_cause(exc: BaseException) -> str | None:
    """The one line to print if ``exc`` is something a restart cannot fix, else None."""
    if isinstance(exc, FatalStartError):
        return exc.line
    if isinstance(exc, discord.LoginFailure):
        return (
            "DISCORD_TOKEN: Discord rejected the token; copy it again from the"
            " Developer Portal (Bot > Reset Token)"
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return "Discord refused the gateway intents the bot asked for"
    if isinstance(exc, discord.HTTPException) and not _passing(exc.status):
        where = f"{exc.response.method} {exc.response.url}" if exc.response else "a request"
        return (
            f"DISCORD_API_URL: Discord answered HTTP {exc.status} to {where} at start;"
            " check DISCORD_API_URL"
        )
    return None


def is_network_failure(exc: BaseException) -> bool:
    """True for a failure that waiting may cure: no connection, a timeout, a 5xx."""
    if isinstance(exc, discord.GatewayNotFound):
        return True
    if isinstance(exc, discord.HTTPException):
        return _passing(exc.status)
    return isinstance(exc, aiohttp.ClientError | OSError | TimeoutError)


def _passing(status: int) -> bool:
    return status >= _SERVER_ERROR or status == _TOO_MANY_REQUESTS


def describe(exc: BaseException) -> str:
    """``exc`` as one short line (aiohttp and discord.py messages may span several)."""
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text}"[:300]


def _probe(path: Path) -> None:
    # A failed aiosqlite.connect leaves its worker thread to report back to the
    # event loop after the process has closed it ("Event loop is closed" and a
    # traceback, aiosqlite 0.22 core.py _connect); plain sqlite3 fails the
    # same way, alone.
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(path).close()


async def open_database(path: Path) -> Database:
    """Open and migrate the database; a path that cannot be used is fatal."""
    try:
        await asyncio.to_thread(_probe, path)
        return await Database.open(path)
    except (OSError, sqlite3.Error) as exc:
        raise FatalStartError(f"DATABASE_PATH: cannot use {path}: {describe(exc)}") from exc


async def check_database(path: Path) -> None:
    """Fail fast (before any network call) if the database cannot be used."""
    db = await open_database(path)
    await db.close()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (systemd, Docker and Procfile hosts send SIGTERM)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def start_with_retries(
    attempt: Callable[[], Awaitable[int]],
    *,
    stop: asyncio.Event,
    target: str,
    backoff: Backoff | None = None,
) -> int:
    """Run ``attempt`` (one whole start of the bot) until it returns its exit code.

    A network failure is logged in one line and tried again after a backoff;
    a stop requested meanwhile ends the wait with exit code 0. A fatal cause
    raises :class:`FatalStartError`; anything else propagates unchanged.
    """
    backoff = backoff or Backoff()
    number = 0
    while True:
        number += 1
        try:
            return await attempt()
        except Exception as exc:
            line = fatal_cause(exc)
            if line is not None:
                raise FatalStartError(line) from exc
            if not is_network_failure(exc):
                raise
            delay = backoff.delay(number)
            log.warning(
                "Cannot reach Discord at %s (attempt %d): %s; retrying in %.1f s",
                target,
                number,
                describe(exc),
                delay,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            log.info("Stopped while waiting to reach Discord")
            return 0
