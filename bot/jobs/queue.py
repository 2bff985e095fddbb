"""The waiting jobs: a FIFO per server, taken round-robin, least recently served first.

Only an in-memory index of the database's queued rows, rebuilt at start by
the job service. Taking servers in turn means a busy server cannot starve a
quiet one, while a server alone in the queue still gets every worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from bot.storage.jobs import Job

log = logging.getLogger(__name__)

QueueListener = Callable[[int], None]


class QueueClosedError(Exception):
    """The bot is shutting down and takes no new jobs."""


class JobQueue:
    """Per-server FIFO queues; :meth:`next` hands out their heads in turn."""

    def __init__(self) -> None:
        # Waiting jobs per server; servers never served come first, in the
        # order they arrived (min() keeps the first of equal keys).
        self._queues: dict[int, deque[Job]] = {}
        self._last_served: dict[int, int] = {}
        self._serial = 0
        self._wakeup = asyncio.Event()
        self._accepting = True
        self._listeners: list[QueueListener] = []

    # -- reading -----------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """False once shutdown began."""
        return self._accepting

    def queued_count(self, guild_id: int) -> int:
        """Jobs waiting for one server."""
        return len(self._queues.get(guild_id, ()))

    def total_queued(self) -> int:
        """Jobs waiting across all servers."""
        return sum(len(q) for q in self._queues.values())

    def position(self, job_id: int) -> int | None:
        """1-based place of a waiting job in its server's queue; None if it is not waiting."""
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

    def add_listener(self, listener: QueueListener) -> None:
        """Call ``listener(guild_id)`` whenever a server's queue moves."""
        self._listeners.append(listener)

    # -- changing ------------------------------------------------------------

    def enqueue(self, job: Job) -> int:
        """Add a stored, queued job to the end of its server's queue; return its place.

        Synchronous, so two requests of the same instant always get different places.
        """
        if not self._accepting:
            raise QueueClosedError
        queue = self._queues.setdefault(job.guild_id, deque())
        queue.append(job)
        self._wakeup.set()
        return len(queue)

    def remove(self, job_id: int) -> Job | None:
        """Take a waiting job out of the queue (for a cancel); None if it is not waiting."""
        for guild_id, queue in self._queues.items():
            for job in queue:
                if job.id == job_id:
                    queue.remove(job)
                    if not queue:
                        del self._queues[guild_id]
                    self.notify(guild_id)
                    return job
        return None

    def close(self) -> None:
        """Take no new jobs; :meth:`next` returns None from now on."""
        self._accepting = False
        self._wakeup.set()

    async def next(self) -> Job | None:
        """Wait for the next job to run; None once the queue is closed."""
        while True:
            job = self._take()
            if not self._accepting:
                self._put_back(job)
                return None
            if job is not None:
                return job
            self._wakeup.clear()
            await self._wakeup.wait()

    def notify(self, guild_id: int) -> None:
        """Tell the listeners that a server's queue (or what runs of it) moved."""
        for listener in self._listeners:
            try:
                listener(guild_id)
            except Exception:
                log.exception("Queue listener failed")

    # -- internals -------------------------------------------------------------

    def _take(self) -> Job | None:
        """The head of the waiting server served least recently.

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
        self.notify(guild_id)
        return job

    def _put_back(self, job: Job | None) -> None:
        """Closed while taking: the job stays waiting (it is queued in the database)."""
        if job is not None:
            self._queues.setdefault(job.guild_id, deque()).appendleft(job)
