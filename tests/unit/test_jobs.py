"""The job queue: round-robin fairness, concurrency bound, restore after restart."""

import asyncio

from bot.jobs import JobQueue, QueueClosedError
from bot.storage import requests
from bot.storage.requests import NewRequest, Status


async def add(db, queue, guild, prompt="p"):
    job_id = await requests.insert(
        db,
        NewRequest(guild_id=guild, channel_id=1, user_id=7, prompt=prompt, aspect_ratio=None),
        status=Status.QUEUED,
        now=0.0,
    )
    job = await requests.get(db, job_id)
    queue.enqueue(job)
    return job


class Recorder:
    def __init__(self, db, delay=0.0):
        self.db = db
        self.delay = delay
        self.order = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, job, api_done):
        await requests.mark_running(self.db, job.id, now=1.0)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.order.append((job.guild_id, job.prompt))
        await asyncio.sleep(self.delay)  # the "API call"
        self.in_flight -= 1
        api_done()
        await asyncio.sleep(self.delay)  # delivery, outside the API bound
        await requests.update(self.db, job.id, status="succeeded")


async def drain(queue, recorder, count):
    for _ in range(200):
        if len(recorder.order) == count and recorder.in_flight == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(recorder.order)} of {count} jobs ran")


async def test_busy_server_cannot_starve_a_quiet_one(db):
    recorder = Recorder(db)
    queue = JobQueue(db, recorder, workers=1)
    for n in range(6):
        await add(db, queue, guild=1, prompt=f"a{n}")
    await add(db, queue, guild=2, prompt="b0")
    assert queue.position((await requests.unfinished(db))[-1].id) == 1
    queue.start()
    await drain(queue, recorder, 7)
    await queue.stop(1)
    # B's job runs second, not seventh; A's jobs keep their own order.
    assert recorder.order[1] == (2, "b0")
    assert [p for g, p in recorder.order if g == 1] == [f"a{n}" for n in range(6)]


async def test_workers_bound_concurrency_and_one_server_gets_them_all(db):
    recorder = Recorder(db, delay=0.05)
    queue = JobQueue(db, recorder, workers=4)
    queue.start()
    for n in range(20):
        await add(db, queue, guild=1, prompt=str(n))
    await drain(queue, recorder, 20)
    await queue.stop(1)
    assert recorder.max_in_flight == 4


async def test_positions_and_remove(db):
    queue = JobQueue(db, Recorder(db), workers=1)
    jobs = [await add(db, queue, guild=1, prompt=str(n)) for n in range(3)]
    moved: list[int] = []
    queue.add_position_listener(moved.append)
    assert [queue.position(j.id) for j in jobs] == [1, 2, 3]
    assert queue.remove(jobs[0].id) == jobs[0]
    assert [queue.position(j.id) for j in jobs] == [None, 1, 2]
    assert moved == [1]
    assert queue.remove(jobs[0].id) is None
    assert queue.queued_count(1) == 2


async def test_restore_requeues_interrupted_jobs_once(db):
    queue = JobQueue(db, Recorder(db), workers=1)
    first = await add(db, queue, guild=1, prompt="was running")
    second = await add(db, queue, guild=1, prompt="was queued")
    crashed_twice = await add(db, queue, guild=1, prompt="crashes")
    await requests.mark_running(db, first.id, now=1.0)
    await requests.mark_running(db, crashed_twice.id, now=1.0)
    await requests.mark_running(db, crashed_twice.id, now=2.0)

    recorder = Recorder(db)
    restarted = JobQueue(db, recorder, workers=2)
    assert await restarted.restore() == 2
    restarted.start()
    await drain(restarted, recorder, 2)
    await restarted.stop(1)
    assert sorted(p for _, p in recorder.order) == ["was queued", "was running"]
    gave_up = await requests.get(db, crashed_twice.id)
    assert gave_up is not None
    assert gave_up.status is Status.FAILED
    assert gave_up.error_kind == "interrupted"
    assert second.id


async def test_stop_refuses_new_jobs_and_requeues_cut_off_ones(db):
    started = asyncio.Event()

    async def slow(job, api_done):
        await requests.mark_running(db, job.id, now=1.0)
        started.set()
        await asyncio.sleep(10)

    queue = JobQueue(db, slow, workers=1)
    queue.start()
    job = await add(db, queue, guild=1)
    await started.wait()
    await queue.stop(0.05)
    stopped = await requests.get(db, job.id)
    assert stopped is not None
    assert stopped.status is Status.QUEUED
    try:
        await add(db, queue, guild=1)
    except QueueClosedError:
        pass
    else:
        raise AssertionError("a stopped queue took a job")
