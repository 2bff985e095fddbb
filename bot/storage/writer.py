"""Group commit: the new rows of a few milliseconds stored in one statement, one transaction.

A burst of /imagine would otherwise make one database round trip per
request, each a hand-off to aiosqlite's thread and back, while the members
wait for their answer. Here a request adds its row and waits for the batch
it joined: the rows added before the next turn of the event loop go in one
multi-row INSERT (one statement, one transaction, one round trip), so
batches grow with the load by themselves; rows that come while a batch is
being written start the next batch at once rather than wait for it.

The answer to a member waits for the row's commit (see ``Jobs.submit``), so
a crash never leaves a member with an answer for a job the database does
not have. When that commit would wait behind a batch already being written
(:attr:`RequestWriter.busy`), the interaction is acknowledged first and
answered after (bot.jobs.acks). Committed in WAL mode with ``synchronous=NORMAL``, a row survives
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
from collections import deque

from bot.storage import jobs as job_store
from bot.storage.database import Database
from bot.storage.jobs import Job, NewRow

log = logging.getLogger(__name__)

# Rows per statement: 13 values each stays well below SQLite's 32,766 variables.
MAX_BATCH = 500
# How long a response's message id may wait for a batch to ride with.
RESPONSE_DELAY = 1.0
# Commit waits remembered for the log line at shutdown.
WAITS_KEPT = 1000


class RequestWriter:
    """Stores new request rows by group commit; remembers response messages lazily."""

    def __init__(self, db: Database, *, response_delay: float = RESPONSE_DELAY) -> None:
        self._db = db
        self._response_delay = response_delay
        self._rows: list[tuple[NewRow, asyncio.Future[Job], float]] = []
        self._responses: dict[int, int] = {}
        self._cancelled: dict[int, float] = {}
        # The batch that will take the rows added until its first step, and
        # every batch not finished yet.
        self._next: asyncio.Task[None] | None = None
        self._writing: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        # Batches of new rows on their way to the database.
        self._inserting = 0
        # For the log and the benchmarks: batches written, and how long the
        # last rows waited for their commit (seconds).
        self.batches = 0
        self.rows = 0
        self.commit_waits: deque[float] = deque(maxlen=WAITS_KEPT)

    def add(self, row: NewRow) -> asyncio.Future[Job]:
        """Queue a new row; the future gives the stored job once its batch is committed."""
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        self._rows.append((row, future, time.perf_counter()))
        self._kick()
        return future

    @property
    def busy(self) -> bool:
        """Whether new rows are being written: a row added now waits for that commit
        and then its own (under a burst, several turns of a saturated loop).

        A row added while the next batch is only gathering rides with it at once.
        """
        return self._inserting > 0

    def defer_response_message(self, job_id: int, message_id: int) -> None:
        """Remember which message answers a job's member, with the next write."""
        self._responses[job_id] = message_id
        if self._timer is None and self._next is None:
            self._timer = asyncio.get_running_loop().call_later(self._response_delay, self._kick)

    def cancel_soon(self, job_id: int, *, now: float) -> None:
        """Mark a job that never ran cancelled, with the next batch (nothing waits for it).

        For answers Discord refused because the interaction had expired: under
        a burst that outran Discord's 3 s they come by the hundred, and one
        statement each would queue ahead of the next batch of new rows.
        """
        self._cancelled[job_id] = now
        self._kick()

    def take_response_message(self, job_id: int) -> int | None:
        """The job's response message if it is not written yet; the caller writes it."""
        return self._responses.pop(job_id, None)

    async def flush(self) -> None:
        """Write everything queued so far and wait for it."""
        while self._rows or self._responses or self._cancelled or self._writing:
            self._kick()
            await asyncio.wait(set(self._writing))

    async def close(self) -> None:
        """Write what is left (at shutdown, before the database closes)."""
        await self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def commit_wait_summary(self) -> str:
        """One line for the log: batches, rows, and the recent waits for a commit."""
        waits = sorted(self.commit_waits)
        if not waits:
            return f"{self.rows} row(s) in {self.batches} batch(es)"
        median = waits[len(waits) // 2] * 1000
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))] * 1000
        return (
            f"{self.rows} row(s) in {self.batches} batch(es); the last {len(waits)} waited for"
            f" their commit median {median:.1f} ms, p99 {p99:.1f} ms"
        )

    def _kick(self) -> None:
        """Make sure a batch will take what is waiting, at the next turn of the loop."""
        if self._next is None and (self._rows or self._responses or self._cancelled):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            task = asyncio.create_task(self._write_next(), name="request-writer")
            self._next = task
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write_next(self) -> None:
        # Everything added until now joins this batch; what comes while it is
        # written starts the next one at once (batches queue on the database's
        # thread in order, so ids still grow in the order rows were added).
        self._next = None
        batch, self._rows = self._rows[:MAX_BATCH], self._rows[MAX_BATCH:]
        responses, self._responses = self._responses, {}
        cancelled, self._cancelled = self._cancelled, {}
        if self._rows:
            self._kick()
        if batch:
            await self._insert(batch)
        if cancelled:
            try:
                await job_store.mark_many_cancelled(self._db, cancelled)
            except Exception:
                log.exception("Could not mark %d job(s) cancelled", len(cancelled))
        if responses:
            try:
                await job_store.set_response_messages(self._db, responses)
            except Exception:
                # Only the answer's id is lost: the result is then posted in the
                # channel instead of replacing the answer.
                log.exception("Could not store %d response message id(s)", len(responses))

    async def _insert(self, batch: list[tuple[NewRow, asyncio.Future[Job], float]]) -> None:
        self.batches += 1
        self._inserting += 1
        try:
            stored = await job_store.insert_rows(self._db, [row for row, _, _ in batch])
            if len(stored) != len(batch):
                raise RuntimeError(f"stored {len(stored)} of {len(batch)} rows")
        except Exception as error:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(error)
            return
        finally:
            self._inserting -= 1
        done = time.perf_counter()
        self.rows += len(batch)
        for (_, future, added), job in zip(batch, stored, strict=True):
            self.commit_waits.append(done - added)
            if not future.done():
                future.set_result(job)
