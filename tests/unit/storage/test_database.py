"""Database: migrations, WAL, transactions that do not swallow other tasks' writes."""

import asyncio

import pytest

from bot.storage import jobs as job_store
from bot.storage.database import Database, migration_files
from bot.storage.jobs import NewRequest, Status


def new_request(guild=1, user=10, prompt="a cat"):
    return NewRequest(guild_id=guild, channel_id=5, user_id=user, prompt=prompt, aspect_ratio=None)


async def test_migrations_apply_once_and_wal_is_on(db, db_path):
    assert await db.schema_version() == len(migration_files())
    row = await db.fetchone("PRAGMA journal_mode")
    assert row[0] == "wal"
    await db.close()
    again = await Database.open(db_path)  # re-opening applies nothing twice
    assert await again.schema_version() == len(migration_files())
    await again.close()


async def test_request_rows_round_trip(db):
    job_id = await job_store.insert(db, new_request(), status=Status.QUEUED, now=100.0)
    job = await job_store.get(db, job_id)
    assert job is not None
    assert (job.prompt, job.status, job.created_at, job.attempts) == (
        "a cat",
        Status.QUEUED,
        100.0,
        0,
    )
    await job_store.mark_running(db, job_id, now=101.0)
    await job_store.mark_failed(db, job_id, now=102.0, kind="timeout", detail="x" * 5000)
    job = await job_store.get(db, job_id)
    assert job is not None
    assert job.status is Status.FAILED
    assert job.error_kind == "timeout"
    assert job.attempts == 1
    assert job.interaction_token is None
    row = await db.fetchone("SELECT length(error_detail) FROM requests WHERE id = ?", (job_id,))
    assert row[0] == 1000


async def test_transaction_rolls_back_and_keeps_other_tasks_out(db):
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await job_store.insert(db, new_request(), status=Status.QUEUED, now=1.0)
            raise RuntimeError("boom")
    assert await job_store.unfinished(db) == []

    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow_transaction():
        async with db.transaction():
            await job_store.insert(db, new_request(prompt="in tx"), status=Status.QUEUED, now=1.0)
            entered.set()
            await release.wait()
            raise RuntimeError("roll it back")

    task = asyncio.create_task(slow_transaction())
    await entered.wait()
    # A write from another task waits for the transaction instead of joining it.
    other = asyncio.create_task(
        job_store.insert(db, new_request(prompt="outside"), status=Status.QUEUED, now=2.0)
    )
    await asyncio.sleep(0.05)
    assert not other.done()
    release.set()
    with pytest.raises(RuntimeError):
        await task
    await other
    assert [j.prompt for j in await job_store.unfinished(db)] == ["outside"]


async def test_meta_and_backup(db, tmp_path):
    await db.set_meta("k", "v1")
    await db.set_meta("k", "v2")
    assert await db.get_meta("k") == "v2"
    await job_store.insert(db, new_request(), status=Status.SUCCEEDED, now=1.0)
    target = tmp_path / "backup" / "copy.sqlite3"
    await db.backup_to(target)
    copy = await Database.open(target)
    assert len(await copy.fetchall("SELECT * FROM requests")) == 1
    assert await copy.get_meta("k") == "v2"
    await copy.close()
