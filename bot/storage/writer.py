"""Group commit: the new rows of a few milliseconds stored in one statement, one transaction.

A burst of /imagine would otherwise make one database round trip per
request, each a hand-off to aiosqlite's thread and back, while the members
wait for their answer. Here a request adds its row and waits for the batch
it joined: the first row of a quiet moment is written at the next turn of
the event loop, and the rows that arrive while a batch is being written go
together in the next one, so batches grow with the load by themselves.

The answer to a member waits for the row's commit (see ``Jobs.submit``), so
a crash never leaves a member with an answer for a job the database does
not have. Committed in WAL mode with ``synchronous=NORMAL``, a row survives
the process being killed; only a power cut can still take the last commits.

The id of the message answering a member is written later, with the next
batch, or by the job's own start (:meth:`RequestWriter.take_response_message`),
or after :data:`RESPONSE_DELAY` at the latest: nothing waits for it, and a
crash in between only means the result is posted in the channel instead of
replacing the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.storage import jobs as job_store
from bot.storage.database import Database
from bot.storage.jobs import Job, NewRow

log = logging.getLogger(__name__)

# Rows per statement: 13 values each stays well below SQLite's 32,766 variables.
MAX_BATCH = 500
# How long a response's message id may wait for a batch to ride with.
RESPONSE_DELAY = 1.0


class RequestWriter:
    """Stores new request rows by group commit; remembers response messages lazily."""

    def __init__(self, db: Database, *, response_delay: float = RESPONSE_DELAY) -> None:
        self._db = db
        self._response_delay = response_delay
        self._rows: list[tuple[NewRow, asyncio.Future[Job]]] = []
        self._responses: dict[int, int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        # Figures for the benchmarks: how long rows waited for their commit.
        self.batches = 0
        self.commit_waits: list[float] = []
        self.record_waits = False

    def add(self, row: NewRow) -> asyncio.Future[Job]:
        """Queue a new row; the future gives the stored job once its batch is committed."""
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        if self.record_waits:
            started = time.perf_counter()
            future.add_done_callback(
                lambda _: self.commit_waits.append(time.perf_counter() - started)
            )
        self._rows.append((row, future))
        self._kick()
        return future

    def defer_response_message(self, job_id: int, message_id: int) -> None:
        """Remember which message answers a job's member, with the next write."""
        self._responses[job_id] = message_id
        if self._timer is None and self._flusher is None:
            self._timer = asyncio.get_running_loop().call_later(self._response_delay, self._kick)

    def take_response_message(self, job_id: int) -> int | None:
        """The job's response message if it is not written yet; the caller writes it."""
        return self._responses.pop(job_id, None)

    async def flush(self) -> None:
        """Write everything queued so far and wait for it."""
        while self._rows or self._responses or self._flusher is not None:
            self._kick()
            if self._flusher is not None:
                await asyncio.shield(self._flusher)

    async def close(self) -> None:
        """Write what is left (at shutdown, before the database closes)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    def _kick(self) -> None:
        if self._flusher is None and (self._rows or self._responses):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._flusher = asyncio.create_task(self._write_all(), name="request-writer")

    async def _write_all(self) -> None:
        try:
            while self._rows or self._responses:
                batch, self._rows = self._rows[:MAX_BATCH], self._rows[MAX_BATCH:]
                responses, self._responses = self._responses, {}
                await self._write(batch, responses)
        finally:
            self._flusher = None

    async def _write(
        self, batch: list[tuple[NewRow, asyncio.Future[Job]]], responses: dict[int, int]
    ) -> None:
        if batch:
            self.batches += 1
            try:
                stored = await job_store.insert_rows(self._db, [row for row, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for (_, future), job in zip(batch, stored, strict=True):
                    if not future.done():
                        future.set_result(job)
        if responses:
            try:
                await job_store.set_response_messages(self._db, responses)
            except Exception:
                # Only the answer's id is lost: the result is then posted in the
                # channel instead of replacing the answer.
                log.exception("Could not store %d response message id(s)", len(responses))
