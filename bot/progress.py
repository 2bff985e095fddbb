"""Keeps each queued member's response showing its current place in the queue.

Edits are coalesced per message (only the newest text is sent), never more
than one is in flight for a message, one message is edited at most once
every ``min_interval`` seconds, and all messages together at most
``max_rate`` times a second, so a long, busy queue stays inside Discord's
rate limits (and leaves the bot's REST budget to new requests and results)
however fast it moves. Under that budget a message may skip places: it
always ends on the newest text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot import messages
from bot.jobs import JobQueue
from bot.storage.requests import Job

log = logging.getLogger(__name__)

Editor = Callable[[Job, str], Awaitable[None]]


class ProgressUpdater:
    """Listens to the queue and edits responses whose position text changed."""

    def __init__(
        self,
        queue: JobQueue,
        edit: Editor,
        *,
        min_interval: float = 2.0,
        max_rate: float = 10.0,
    ) -> None:
        self._queue = queue
        self._edit = edit
        self._min_interval = min_interval
        self._spacing = 1.0 / max_rate
        self._next_edit_at = 0.0
        self._wanted: dict[int, tuple[Job, str]] = {}
        self._shown: dict[int, str] = {}
        self._last_edit: dict[int, float] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        queue.add_position_listener(self.guild_moved)

    def text_for(self, position: int) -> str:
        """The queued text for a place in the queue, with a rough wait."""
        return messages.queued_text(position, self._queue.estimated_wait(position))

    def initial(self, job: Job, text: str) -> None:
        """Record what the member's response already shows (sent with the response)."""
        self._shown[job.id] = text
        self._last_edit[job.id] = time.monotonic()

    def guild_moved(self, guild_id: int) -> None:
        """Queue listener: every waiting job of the server may have a new position."""
        for position, job in enumerate(self._queue.queued_jobs(guild_id), start=1):
            if job.result_message_id is None:
                continue
            text = self.text_for(position)
            if self._shown.get(job.id) == text:
                self._wanted.pop(job.id, None)
                continue
            self._wanted[job.id] = (job, text)
            if job.id not in self._tasks:
                self._tasks[job.id] = asyncio.create_task(self._pump(job.id))

    def forget(self, job_id: int) -> None:
        """The job left the queue: stop editing its position."""
        self._wanted.pop(job_id, None)
        self._shown.pop(job_id, None)
        self._last_edit.pop(job_id, None)
        task = self._tasks.pop(job_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self) -> None:
        """Cancel every pending edit."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _take_turn(self) -> None:
        """Wait for this edit's place under the bot-wide edit rate."""
        now = time.monotonic()
        turn = max(now, self._next_edit_at)
        self._next_edit_at = turn + self._spacing
        if turn > now:
            await asyncio.sleep(turn - now)

    async def _pump(self, job_id: int) -> None:
        try:
            while job_id in self._wanted:
                wait = self._last_edit.get(job_id, 0.0) + self._min_interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._take_turn()
                wanted = self._wanted.pop(job_id, None)
                if wanted is None:
                    break
                job, text = wanted
                # The job may have started while we waited; then the runner owns the message.
                position = self._queue.position(job_id)
                if position is None or position == 0:
                    break
                self._last_edit[job_id] = time.monotonic()
                await self._edit(job, text)
                self._shown[job_id] = text
        except Exception:
            log.exception("Updating the queue position of job %d failed", job_id)
        finally:
            if self._tasks.get(job_id) is asyncio.current_task():
                del self._tasks[job_id]
