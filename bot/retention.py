"""Daily pruning of old request rows (the SQL is in :mod:`bot.storage.retention`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.storage.database import Database
from bot.storage.retention import prune_requests

log = logging.getLogger(__name__)

DAY = 24 * 60 * 60


class RetentionTask:
    """Prunes once shortly after start, then daily."""

    def __init__(
        self,
        db: Database,
        *,
        retention_days: int,
        first_delay: float = 60.0,
        on_pruned: Callable[[float], None] | None = None,
    ) -> None:
        self._db = db
        self._retention = retention_days * DAY
        self._first_delay = first_delay
        # Told the moment before which rows were pruned (the in-memory usage book).
        self._on_pruned = on_pruned
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background loop."""
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        """Stop the loop (a batch in progress is atomic, so nothing is half done)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_once(self) -> int:
        """Prune now; return how many rows went."""
        older_than = time.time() - self._retention
        removed = await prune_requests(self._db, older_than=older_than)
        if self._on_pruned is not None:
            self._on_pruned(older_than)
        if removed:
            log.info("Pruned %d request row(s) older than %d days", removed, self._retention // DAY)
        return removed

    async def _loop(self) -> None:
        await asyncio.sleep(self._first_delay)
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("Pruning old requests failed; will try again tomorrow")
            await asyncio.sleep(DAY)
