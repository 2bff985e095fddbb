"""What the process opens once and hands to the bot: the HTTP session and the database.

The entry point (and the tests, the same way) calls :func:`configure_process`,
then builds the bot inside :func:`open_resources`, which closes both after
the bot has closed.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
from discord.http import Route

from bot.config import Settings
from bot.storage.database import Database

# Database calls and image decoding run on threads. With Python's default
# 5 ms GIL switch interval, a busy event loop makes each of those threads
# wait up to 5 ms per hand-back, and a burst of commands then queues behind
# its own database work (measured: 800 /imagine at once left 520
# unanswered after 3 s; with 0.5 ms, none).
GIL_SWITCH_INTERVAL = 0.0005

# Connecting to the API (or an image host) should never take long.
CONNECT_TIMEOUT = 10


def point_rest_at(api_url: str) -> None:
    """Send discord.py's REST calls to ``api_url``.

    discord.py has no option for this: every route is built from the class
    attribute ``Route.BASE``, so that is the one place to change.
    """
    Route.BASE = api_url.rstrip("/")


def configure_process(settings: Settings) -> None:
    """Set the process-wide things the bot relies on, once, before building it."""
    point_rest_at(settings.discord_api_url)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)


@dataclass(frozen=True)
class Resources:
    """The shared services that outlive the bot object."""

    session: aiohttp.ClientSession
    db: Database


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Open the database (migrated) and one HTTP session; close both on the way out."""
    async with AsyncExitStack() as stack:
        db = await Database.open(settings.database_path)
        stack.push_async_callback(db.close)
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=settings.onemin_timeout_seconds, connect=CONNECT_TIMEOUT
            )
        )
        stack.push_async_callback(session.close)
        yield Resources(session=session, db=db)
