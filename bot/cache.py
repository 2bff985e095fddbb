"""Per-server values read from the database once and kept until they change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

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
        entry = self._entries.get(guild_id)
        if entry is None:
            entry = asyncio.ensure_future(self._load(guild_id))
            self._entries[guild_id] = entry
        try:
            # Shielded: one waiter giving up must not cancel the others' load.
            return await asyncio.shield(entry)
        except Exception:
            if self._entries.get(guild_id) is entry:
                del self._entries[guild_id]  # try again next time
            raise

    def invalidate(self, guild_id: int) -> None:
        """The server's value changed; the next :meth:`get` reads it again."""
        self._entries.pop(guild_id, None)
