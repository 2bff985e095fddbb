"""Per-server values read from the database once and kept until they change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Generic, TypeVar

from bot.limits import Limits
from bot.storage import limits as limits_store
from bot.storage import moderation as moderation_store
from bot.storage.database import Database
from bot.wordfilter import WordFilter

T = TypeVar("T")


class GuildCache(Generic[T]):
    """Loads a server's value on first use, once even when many requests ask at once.

    A burst of commands from a server nobody used since the start would
    otherwise read the same rows once per command, ahead of answering any.
    """

    def __init__(self, load: Callable[[int], Awaitable[T]]) -> None:
        self._load = load
        self._entries: dict[int, asyncio.Future[T]] = {}

    async def get(self, guild_id: int) -> T:
        """The server's value, loading it if needed."""
        entry = self._entries.get(guild_id) or self._start(guild_id)
        # Shielded: one waiter giving up must not cancel the others' load.
        return await asyncio.shield(entry)

    def prefetch(self, guild_id: int) -> None:
        """Start loading the server's value now if it is not loaded (or loading) yet."""
        if guild_id not in self._entries:
            self._start(guild_id)

    def _start(self, guild_id: int) -> asyncio.Future[T]:
        entry = asyncio.ensure_future(self._load(guild_id))
        self._entries[guild_id] = entry

        def forget_failure(done: asyncio.Future[T]) -> None:
            # A failed load is tried again next time (and its error is seen
            # by its waiters, or dropped if it was only prefetched).
            failed = done.cancelled() or done.exception() is not None
            if failed and self._entries.get(guild_id) is done:
                del self._entries[guild_id]

        entry.add_done_callback(forget_failure)
        return entry

    def invalidate(self, guild_id: int) -> None:
        """The server's value changed; the next :meth:`get` reads it again."""
        self._entries.pop(guild_id, None)


class WordFilters(GuildCache[WordFilter]):
    """Each server's compiled :class:`WordFilter`, built on first use and after changes."""

    def __init__(self, db: Database) -> None:
        async def load(guild_id: int) -> WordFilter:
            return WordFilter(await moderation_store.blocked_words(db, guild_id))

        super().__init__(load)


class GuildLimits:
    """Each server's limits and role limits, read once and kept until changed.

    Every /imagine needs them before it can answer; the database is read only
    the first time and after a moderator changes them (:meth:`invalidate`).
    """

    def __init__(self, db: Database, defaults: Limits) -> None:
        async def load(guild_id: int) -> tuple[Limits, dict[int, int]]:
            # Both reads queued at once: a server's first request waits for one
            # round trip to the database's thread, not two in turn.
            return await asyncio.gather(
                limits_store.get_limits(db, guild_id, defaults),
                moderation_store.role_limits(db, guild_id),
            )

        self._cache = GuildCache(load)

    async def server(self, guild_id: int) -> Limits:
        """The server's limits."""
        return (await self._cache.get(guild_id))[0]

    async def for_member(self, guild_id: int, role_ids: Iterable[int]) -> Limits:
        """The server's limits with the member's daily limit raised by their roles."""
        limits, roles = await self._cache.get(guild_id)
        best = max((roles[r] for r in role_ids if r in roles), default=None)
        if best is not None and best > limits.user_daily:
            limits = replace(limits, user_daily=best)
        return limits

    def invalidate(self, guild_id: int) -> None:
        """A moderator changed the server's limits."""
        self._cache.invalidate(guild_id)

    def prefetch(self, guild_id: int) -> None:
        """Start reading the server's limits if they are not in memory yet."""
        self._cache.prefetch(guild_id)
