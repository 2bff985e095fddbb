"""Pruning of old request rows, in small batches that never hold the database long."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.storage.database import Database

log = logging.getLogger(__name__)

DAY = 24 * 60 * 60


async def prune_requests(
    db: Database, *, older_than: float, batch: int = 500, pause: float = 0.01
) -> int:
    """Delete finished requests created before ``older_than``; return how many.

    Rows are appended in time order, so the old ones are those below the id of
    the first row that is new enough: finding that id reads only the old rows,
    and each batch is a rowid range, so neither step scans a year of history.
    Unfinished jobs are never pruned.
    """
    row = await db.fetchone(
        "SELECT id FROM requests WHERE created_at >= ? ORDER BY id LIMIT 1", (older_than,)
    )
    if row is None:
        row = await db.fetchone("SELECT max(id) + 1 AS id FROM requests")
    boundary = row["id"] if row and row["id"] is not None else 0
    removed = 0
    while True:
        deleted = await db.execute_rowcount(
            "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE id < ?"
            " AND status NOT IN ('queued', 'running') ORDER BY id LIMIT ?)",
            (boundary, batch),
        )
        removed += deleted
        if deleted < batch:
            break
        # Let interactions and workers use the database between batches.
        await asyncio.sleep(pause)
    # A reset older than a day no longer changes any window.
    await db.execute("DELETE FROM quota_resets WHERE reset_at < ?", (time.time() - DAY,))
    return removed


class RetentionTask:
    """Prunes once shortly after start, then daily."""

    def __init__(self, db: Database, *, retention_days: int, first_delay: float = 60.0) -> None:
        self._db = db
        self._retention = retention_days * DAY
        self._first_delay = first_delay
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
        removed = await prune_requests(self._db, older_than=time.time() - self._retention)
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
