"""The job queue: a FIFO per server, taken round-robin by a pool of workers.

The database is the truth; this is only an in-memory index of its queued
rows, rebuilt at start (:meth:`JobQueue.restore`). Taking servers in turn
means a busy server cannot starve a quiet one, while a server alone in the
queue still gets every worker.

``workers`` bounds the API calls in flight (``MAX_CONCURRENT_JOBS``). A job
gives its API slot back as soon as its API call has ended (the runner calls
``api_done``), so fetching and posting one image overlaps the next call
instead of leaving the API idle. Jobs past their API call are bounded too
(at most ``POST_API_JOBS`` beyond the API slots), which caps the images held
in memory at once: each is held about three times while it is checked and
uploaded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.storage import requests
from bot.storage.database import Database
from bot.storage.requests import Job, Status

log = logging.getLogger(__name__)

ApiDone = Callable[[], None]
Runner = Callable[[Job, ApiDone], Awaitable[None]]
PositionListener = Callable[[int], None]

# Until jobs have been timed, assume this many seconds per job for estimates.
INITIAL_JOB_SECONDS = 20.0
# Weight of the newest job in the moving average of job times.
AVERAGE_WEIGHT = 0.2

# Jobs that may be fetching or posting their image while every API slot is
# busy: enough to keep the API fed (posting takes far less than a call), few
# enough to bound memory (measured: 8 such jobs with 5 MB images held 78 MiB).
POST_API_JOBS = 2

# A job found running at start was interrupted by a crash or kill; it gets
# one more attempt, never an endless loop of crashes.
MAX_ATTEMPTS = 2


class QueueClosedError(Exception):
    """The bot is shutting down and takes no new jobs."""


class JobQueue:
    """Per-server FIFO queues served round-robin by ``workers`` tasks."""

    def __init__(self, db: Database, runner: Runner, *, workers: int) -> None:
        self._db = db
        self._runner = runner
        self._worker_count = workers
        # Waiting jobs per server; servers never served come first, in the
        # order they arrived (min() keeps the first of equal keys).
        self._queues: dict[int, deque[Job]] = {}
        self._last_served: dict[int, int] = {}
        self._serial = 0
        self._running: dict[int, Job] = {}
        self._wakeup = asyncio.Event()
        self._api_slots = asyncio.Semaphore(workers)
        self._job_slots = asyncio.Semaphore(workers + POST_API_JOBS)
        self._dispatcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting = True
        self._listeners: list[PositionListener] = []
        self.average_seconds = INITIAL_JOB_SECONDS

    # -- reading -----------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """False once shutdown began."""
        return self._accepting

    def queued_count(self, guild_id: int) -> int:
        """Jobs waiting (not running) for one server."""
        return len(self._queues.get(guild_id, ()))

    def total_queued(self) -> int:
        """Jobs waiting across all servers."""
        return sum(len(q) for q in self._queues.values())

    def running_count(self) -> int:
        """Jobs being worked on now."""
        return len(self._running)

    def position(self, job_id: int) -> int | None:
        """1-based place of a queued job in its server's queue; 0 if running; None if neither."""
        if job_id in self._running:
            return 0
        for queue in self._queues.values():
            for index, job in enumerate(queue):
                if job.id == job_id:
                    return index + 1
        return None

    def busiest(self, count: int) -> list[tuple[int, int]]:
        """The servers with the most waiting jobs: (guild id, jobs), longest first."""
        depths = ((guild_id, len(queue)) for guild_id, queue in self._queues.items())
        return sorted(depths, key=lambda item: -item[1])[:count]

    def queued_jobs(self, guild_id: int) -> list[Job]:
        """A server's waiting jobs, in order."""
        return list(self._queues.get(guild_id, ()))

    def estimated_wait(self, position: int) -> float:
        """Rough seconds until a job at ``position`` in its server's queue starts.

        Workers are shared, so this is optimistic when other servers are busy;
        it is shown as an estimate.
        """
        rounds = -(-position // self._worker_count)  # ceil without floats
        return rounds * self.average_seconds

    def add_position_listener(self, listener: PositionListener) -> None:
        """Call ``listener(guild_id)`` whenever a server's queue moves."""
        self._listeners.append(listener)

    # -- changing ------------------------------------------------------------

    def enqueue(self, job: Job) -> None:
        """Add a stored, queued job to the end of its server's queue."""
        if not self._accepting:
            raise QueueClosedError
        self._queues.setdefault(job.guild_id, deque()).append(job)
        self._wakeup.set()

    def remove(self, job_id: int) -> Job | None:
        """Take a queued job out of the queue (for a cancel); None if it is not waiting."""
        for guild_id, queue in self._queues.items():
            for job in queue:
                if job.id == job_id:
                    queue.remove(job)
                    if not queue:
                        del self._queues[guild_id]
                    self._notify(guild_id)
                    return job
        return None

    async def restore(self) -> int:
        """Rebuild the queue from the database; return how many jobs were restored."""
        restored = 0
        for job in await requests.unfinished(self._db):
            if job.status is Status.RUNNING and job.attempts >= MAX_ATTEMPTS:
                log.warning("Job %d was interrupted %d times; giving up", job.id, job.attempts)
                await requests.mark_failed(
                    self._db,
                    job.id,
                    now=time.time(),
                    kind="interrupted",
                    detail="the bot stopped while this job was running, twice",
                )
                continue
            if job.status is Status.RUNNING:
                await requests.update(self._db, job.id, status=Status.QUEUED.value)
            self._queues.setdefault(job.guild_id, deque()).append(job)
            restored += 1
        if restored:
            log.info("Restored %d queued job(s) from the database", restored)
            self._wakeup.set()
        return restored

    def start(self) -> None:
        """Start handing jobs to the runner."""
        self._dispatcher = asyncio.create_task(self._dispatch(), name="imagine-dispatcher")

    async def stop(self, grace: float) -> None:
        """Take no new jobs; let running ones finish for ``grace`` seconds; leave the rest queued.

        A job cut off by the deadline is put back to ``queued`` so it runs after
        the restart (it was never delivered, so it is not lost or charged twice).
        """
        self._accepting = False
        self._wakeup.set()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
            self._dispatcher = None
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.warning("%d running job(s) did not finish in time; requeued", len(pending))

    # -- internals -------------------------------------------------------------

    def _take(self) -> Job | None:
        """The next job: the head of the waiting server served least recently.

        Ordering by when a server was last served (not by when it joined the
        queue) means a server whose queue ran dry and refilled does not jump
        ahead of one that has been waiting all along.
        """
        if not self._queues:
            return None
        guild_id = min(self._queues, key=lambda g: self._last_served.get(g, -1))
        queue = self._queues[guild_id]
        job = queue.popleft()
        if not queue:
            del self._queues[guild_id]
        self._serial += 1
        self._last_served[guild_id] = self._serial
        self._notify(guild_id)
        return job

    def _notify(self, guild_id: int) -> None:
        for listener in self._listeners:
            try:
                listener(guild_id)
            except Exception:
                log.exception("Queue position listener failed")

    async def _next_job(self) -> Job | None:
        """Wait for a job to take; None once the queue stops accepting."""
        while True:
            job = self._take()
            if job is not None or not self._accepting:
                return job
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _dispatch(self) -> None:
        while self._accepting:
            await self._job_slots.acquire()
            await self._api_slots.acquire()
            job = await self._next_job()
            if job is None:
                self._api_slots.release()
                self._job_slots.release()
                return
            self._running[job.id] = job
            task = asyncio.create_task(self._run_one(job), name=f"imagine-job-{job.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_one(self, job: Job) -> None:
        released = False

        def api_done() -> None:
            nonlocal released
            if not released:
                released = True
                self._api_slots.release()

        began = time.monotonic()
        try:
            await self._runner(job, api_done)
            elapsed = time.monotonic() - began
            self.average_seconds += AVERAGE_WEIGHT * (elapsed - self.average_seconds)
        except asyncio.CancelledError:
            # Shutdown cut it off: leave it queued for the next start.
            await asyncio.shield(requests.update(self._db, job.id, status=Status.QUEUED.value))
            raise
        except Exception:
            # The runner handles every expected failure itself; this is a bug,
            # and one bad job must not take the queue down with it.
            log.exception("Job %d crashed", job.id)
            await requests.mark_failed(
                self._db, job.id, now=time.time(), kind="internal", detail="unexpected error"
            )
        finally:
            api_done()
            self._job_slots.release()
            self._running.pop(job.id, None)
            self._notify(job.guild_id)
