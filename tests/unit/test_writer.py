"""Group commit: rows of one moment in one statement, in order; response ids written lazily."""

import asyncio

import pytest

from bot.storage import jobs as job_store
from bot.storage.jobs import Job, NewRequest, Status
from bot.storage.writer import RequestWriter

NOW = 1_800_000_000.0


def req(user=1, prompt="p"):
    return NewRequest(
        guild_id=100,
        channel_id=5,
        user_id=user,
        prompt=prompt,
        aspect_ratio="16:9",
        application_id=7,
        interaction_id=1000 + user,
        interaction_token=f"token-{user}",
        attachment_limit=123,
    )


async def fetch(db, job_id: int) -> Job:
    """A stored job that must exist."""
    job = await job_store.get(db, job_id)
    assert job is not None
    return job


async def test_rows_of_one_moment_are_stored_in_one_batch_in_order(db):
    writer = RequestWriter(db)
    futures = [
        writer.add(job_store.queued_row(req(user=n, prompt=f"p{n}"), now=NOW)) for n in range(30)
    ]
    futures.append(writer.add(job_store.refused_row(req(user=99), "cooldown", now=NOW)))
    jobs = await asyncio.gather(*futures)
    assert writer.batches == 1
    assert [j.prompt for j in jobs[:30]] == [f"p{n}" for n in range(30)]
    assert [j.id for j in jobs] == sorted(j.id for j in jobs)
    first = jobs[0]
    assert (first.status, first.created_at, first.aspect_ratio, first.interaction_token) == (
        Status.QUEUED,
        NOW,
        "16:9",
        "token-0",
    )
    assert (first.application_id, first.interaction_id, first.attachment_limit) == (7, 1000, 123)
    refused = await fetch(db, jobs[-1].id)
    assert refused is not None
    assert (refused.status, refused.error_kind, refused.finished_at) == (
        Status.REFUSED,
        "cooldown",
        NOW,
    )
    assert refused.interaction_token is None, "a refused request's token is not kept"
    stored = await db.fetchall("SELECT id, prompt FROM requests ORDER BY id")
    assert [(r["id"], r["prompt"]) for r in stored] == [(j.id, j.prompt) for j in jobs]


async def test_rows_arriving_during_a_commit_go_in_the_next_batch(db):
    writer = RequestWriter(db)
    first = writer.add(job_store.queued_row(req(user=1), now=NOW))
    await asyncio.sleep(0)  # the first batch is on its way
    later = [writer.add(job_store.queued_row(req(user=n), now=NOW)) for n in range(2, 6)]
    jobs = await asyncio.gather(first, *later)
    assert writer.batches == 2
    assert [j.user_id for j in sorted(jobs, key=lambda j: j.id)] == [1, 2, 3, 4, 5]


async def test_a_failed_batch_fails_each_of_its_requests_and_the_next_one_works(db):
    writer = RequestWriter(db)
    good = job_store.queued_row(req(), now=NOW)
    bad = (*good[:5], "not a status", *good[6:])  # the CHECK constraint refuses it
    futures = [writer.add(good), writer.add(bad)]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    assert await db.fetchall("SELECT id FROM requests") == [], "one transaction: all or nothing"
    assert (await writer.add(good)).status is Status.QUEUED


async def test_response_ids_ride_with_the_next_batch(db):
    writer = RequestWriter(db, response_delay=60)
    job = await writer.add(job_store.queued_row(req(user=1), now=NOW))
    writer.defer_response_message(job.id, 555)
    await asyncio.sleep(0.05)
    assert (await fetch(db, job.id)).result_message_id is None, "nothing written yet"
    await writer.add(job_store.queued_row(req(user=2), now=NOW))
    await writer.flush()
    assert (await fetch(db, job.id)).result_message_id == 555


async def test_response_ids_are_written_after_the_delay_or_at_close(db):
    writer = RequestWriter(db, response_delay=0.01)
    first = await writer.add(job_store.queued_row(req(user=1), now=NOW))
    second = await writer.add(job_store.queued_row(req(user=2), now=NOW))
    writer.defer_response_message(first.id, 1)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if (await fetch(db, first.id)).result_message_id == 1:
            break
    else:
        pytest.fail("the response id was never written")
    writer = RequestWriter(db, response_delay=60)
    writer.defer_response_message(second.id, 2)
    await writer.close()
    assert (await fetch(db, second.id)).result_message_id == 2


async def test_a_job_that_starts_takes_its_response_id_along(db):
    writer = RequestWriter(db, response_delay=60)
    job = await writer.add(job_store.queued_row(req(), now=NOW))
    writer.defer_response_message(job.id, 777)
    message_id = writer.take_response_message(job.id)
    await job_store.mark_running(db, job.id, now=NOW + 1, response_message_id=message_id)
    assert writer.take_response_message(job.id) is None
    stored = await fetch(db, job.id)
    assert (stored.status, stored.result_message_id, stored.attempts) == (Status.RUNNING, 777, 1)


async def test_a_late_response_id_never_overwrites_the_result(db):
    job = await job_store.insert_rows(db, [job_store.queued_row(req(), now=NOW)])
    await db.execute("UPDATE requests SET result_message_id = 9 WHERE id = ?", (job[0].id,))
    await job_store.set_response_messages(db, {job[0].id: 1})
    assert (await fetch(db, job[0].id)).result_message_id == 9


async def test_jobs_cancelled_soon_are_written_together(db):
    writer = RequestWriter(db, response_delay=60)
    jobs = await asyncio.gather(
        *(writer.add(job_store.queued_row(req(user=n), now=NOW)) for n in range(3))
    )
    for job in jobs[:2]:
        writer.cancel_soon(job.id, now=NOW + 1)
    await writer.flush()
    stored = [await fetch(db, job.id) for job in jobs]
    assert [(j.status, j.finished_at) for j in stored] == [
        (Status.CANCELLED, NOW + 1),
        (Status.CANCELLED, NOW + 1),
        (Status.QUEUED, None),
    ]
    assert [j.interaction_token for j in stored] == [None, None, "token-2"]


async def test_busy_only_while_new_rows_are_being_written(db):
    writer = RequestWriter(db)
    seen = [writer.busy]
    first = writer.add(job_store.queued_row(req(user=1), now=NOW))
    seen.append(writer.busy)  # a row added now would still ride with the gathering batch
    await asyncio.sleep(0)  # the batch takes its rows and goes to the database
    seen.append(writer.busy)  # a row added now waits for this commit and then its own
    job = await first
    seen.append(writer.busy)
    writer.defer_response_message(job.id, 555)
    writer.cancel_soon(job.id, now=NOW)
    await asyncio.sleep(0)
    seen.append(writer.busy)  # updates in flight hold no new row back for long
    await writer.flush()
    assert seen == [False, False, True, False, False]
