"""Retention SQL: pruning old request rows in small batches."""

from __future__ import annotations

import asyncio
import time

from bot.storage.database import Database

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
