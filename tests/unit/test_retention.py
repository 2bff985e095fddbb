"""Retention: old finished rows go, recent and unfinished ones stay."""

import time

from bot.retention import RetentionTask
from bot.storage import jobs as job_store
from bot.storage.jobs import NewRequest, Status
from bot.storage.retention import prune_requests

DAY = 86_400


def req():
    return NewRequest(guild_id=1, channel_id=2, user_id=3, prompt="p", aspect_ratio=None)


async def test_prune_keeps_recent_and_unfinished(db):
    now = time.time()
    for age_days, status in [
        (200, Status.SUCCEEDED),
        (150, Status.QUEUED),  # a job that never ran is never silently dropped
        (120, Status.FAILED),
        (100, Status.REFUSED),
        (10, Status.SUCCEEDED),
        (0, Status.RUNNING),
    ]:
        await job_store.insert(db, req(), status=status, now=now - age_days * DAY)
    removed = await prune_requests(db, older_than=now - 90 * DAY, batch=2)
    assert removed == 3
    rows = await db.fetchall("SELECT status FROM requests ORDER BY id")
    assert [r["status"] for r in rows] == ["queued", "succeeded", "running"]


async def test_prune_in_many_batches_and_on_empty_table(db):
    assert await prune_requests(db, older_than=time.time()) == 0
    old = time.time() - 100 * DAY
    for _ in range(25):
        await job_store.insert(db, req(), status=Status.SUCCEEDED, now=old)
    task = RetentionTask(db, retention_days=90)
    assert await task.run_once() == 25
    assert await db.fetchall("SELECT id FROM requests") == []
