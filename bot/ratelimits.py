"""Seeing Discord's rate limiting, so the bot can slow down what can wait.

discord.py retries a 429 on its own (after ``retry_after``) and never tells the
caller, so a bot that keeps editing at the same pace keeps getting them; too
many 401/403/429 answers (10,000 in 10 minutes) get its IP banned
(discord-api-docs, "Rate Limits"). :class:`RateLimitWatch` hooks an aiohttp
trace into discord.py's HTTP session (``Client(http_trace=...)``, used by the
bot's REST calls, interaction responses and webhook edits alike) and counts
every 429; :class:`Backoff` turns the recent ones into a slower pace for the
queue-position edits, the one kind of traffic that can wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp

log = logging.getLogger(__name__)

# Log a 429 at most this often (discord.py logs each retry itself at WARNING).
LOG_EVERY = 60.0


class RateLimitWatch:
    """Counts the 429 answers discord.py gets; ``trace_config`` goes to the client."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.trace_config = aiohttp.TraceConfig()
        self.trace_config.on_request_end.append(self.on_request_end)
        self.count = 0
        """429 answers seen since start."""
        self.last_at: float | None = None
        """``time.monotonic()`` of the latest 429."""
        self._logged_at: float | None = None

    async def on_request_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        if params.response.status == 429:
            self.saw_429(params.response.headers.get("X-RateLimit-Scope"))

    def saw_429(self, scope: str | None = None) -> None:
        """Record one 429 (also called for one that reached the bot as an exception)."""
        now = self._clock()
        self.count += 1
        self.last_at = now
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY:
            self._logged_at = now
            log.info(
                "Discord is rate limiting the bot (scope %s, %d 429s so far);"
                " queue positions are updated less often",
                scope or "unknown",
                self.count,
            )


class Backoff:
    """A slow-down factor for deferrable traffic: doubles per new 429, halves when quiet.

    ``factor()`` is 1 while Discord answers normally; each 429 seen since the last
    call doubles it (up to ``ceiling``); after ``quiet`` seconds without one it
    halves at each call, back down to 1.
    """

    def __init__(
        self,
        watch: RateLimitWatch | None,
        *,
        ceiling: float = 32.0,
        quiet: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._watch = watch
        self._ceiling = ceiling
        self._quiet = quiet
        self._clock = clock
        self._factor = 1.0
        self._seen = 0
        self._changed_at = clock()

    def factor(self) -> float:
        """The current slow-down (1 = full pace)."""
        watch = self._watch
        if watch is None:
            return 1.0
        now = self._clock()
        if watch.count > self._seen:
            self._seen = watch.count
            self._factor = min(self._factor * 2, self._ceiling)
            self._changed_at = now
        elif self._factor > 1 and now - max(self._changed_at, watch.last_at or 0.0) > self._quiet:
            self._factor = max(self._factor / 2, 1.0)
            self._changed_at = now
        return self._factor
