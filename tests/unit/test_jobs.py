"""The job queue: round-robin fairness, places taken at enqueue, removal, closing."""

import asyncio

import pytest

from bot.jobs.queue import JobQueue, QueueClosedError
from bot.storage.jobs import Job
from tests.support.jobs import make_job


def job(job_id: int, guild: int, prompt: str = "p") -> Job:
    return make_job(id=job_id, guild_id=guild, prompt=prompt)


async def next_job(queue: JobQueue) -> Job:
    found = await asyncio.wait_for(queue.next(), 1)
    assert found is not None
    return found


async def take(queue: JobQueue, count: int) -> list[Job]:
    return [await next_job(queue) for _ in range(count)]


async def test_busy_server_cannot_starve_a_quiet_one():
    queue = JobQueue()
    for n in range(6):
        queue.enqueue(job(n + 1, guild=1, prompt=f"a{n}"))
    queue.enqueue(job(7, guild=2, prompt="b0"))
    first = await next_job(queue)
    # Server 2 was never served, so it goes before server 1's second job...
    order = [first] + await take(queue, 6)
    assert [j.prompt for j in order][:3] == ["a0", "b0", "a1"]
    # ...and server 1's jobs keep their own order.
    assert [j.prompt for j in order if j.guild_id == 1] == [f"a{n}" for n in range(6)]


async def test_a_refilled_server_does_not_jump_ahead_of_one_waiting():
    queue = JobQueue()
    queue.enqueue(job(1, guild=1))
    assert (await next_job(queue)).id == 1  # server 1 served, its queue ran dry
    queue.enqueue(job(2, guild=2))
    queue.enqueue(job(3, guild=1))
    assert [j.id for j in await take(queue, 2)] == [2, 3]


async def test_enqueue_returns_the_place_so_simultaneous_requests_differ():
    queue = JobQueue()
    places = [queue.enqueue(job(n, guild=1)) for n in range(1, 4)]
    assert places == [1, 2, 3]
    assert queue.enqueue(job(9, guild=2)) == 1  # another server's queue is its own


async def test_positions_remove_and_listeners():
    queue = JobQueue()
    jobs = [job(n, guild=1) for n in range(1, 4)]
    for j in jobs:
        queue.enqueue(j)
    moved: list[int] = []
    queue.add_listener(moved.append)
    assert [queue.position(j.id) for j in jobs] == [1, 2, 3]
    assert queue.remove(jobs[0].id) == jobs[0]
    assert [queue.position(j.id) for j in jobs] == [None, 1, 2]
    assert moved == [1]
    assert queue.remove(jobs[0].id) is None
    assert queue.queued_count(1) == 2
    assert queue.busiest(5) == [(1, 2)]


async def test_next_waits_for_a_job_and_close_ends_it():
    queue = JobQueue()
    waiting = asyncio.create_task(next_job(queue))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    queue.enqueue(job(1, guild=1))
    assert (await asyncio.wait_for(waiting, 1)).id == 1

    queue.enqueue(job(2, guild=1))
    queue.close()
    # Closed: nothing more is handed out, and what waits stays queued.
    assert await queue.next() is None
    assert queue.queued_count(1) == 1
    with pytest.raises(QueueClosedError):
        queue.enqueue(job(3, guild=1))
