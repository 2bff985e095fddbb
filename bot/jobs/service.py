"""The job service: the one owner of a job's life, from the interaction to the result.

``submit`` checks and admits a request (in memory, see
:mod:`bot.jobs.admission`), stores it (by group commit, see
:mod:`bot.storage.writer`), queues it and answers the member; the worker
loop runs each job in two stages, each holding its own slot: the API call
(an edit's uploads included) holds one of ``MAX_CONCURRENT_JOBS`` API
slots, the delivery (download, fit, post) one of ``DELIVERY_SLOTS``. A
job takes its delivery slot before it gives back its API slot, so at most
``DELIVERY_SLOTS`` results are in memory at once, and the next API call
starts while this result is fetched. Every status change is made
here, through a named function of :mod:`bot.storage.jobs`, and then told
to the usage book.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot import messages, models
from bot.audit import Auditor
from bot.cache import GuildLimits, WordFilters
from bot.errors import UserFacingError, reply_ephemeral
from bot.images import FetchedImage
from bot.jobs.acks import COMMIT_PATIENCE, Acknowledgements, acknowledge
from bot.jobs.admission import UsageBook
from bot.jobs.buttons import load_job, may_manage, queued_view
from bot.jobs.delivery import deliver
from bot.jobs.errors import JobError
from bot.jobs.message import JobMessage, JobMessages
from bot.jobs.pipeline import DEFAULT_SOURCE_BYTES, Pipeline, Timing
from bot.jobs.queue import JobQueue, QueueClosedError
from bot.jobs.request import JobRequest, refusal
from bot.limits import RefusedError
from bot.memory import release_free_memory
from bot.metrics import Metrics
from bot.onemin import OneMinClient, OneMinError
from bot.ratelimits import RateLimitWatch
from bot.storage import jobs as job_store
from bot.storage import limits as limits_store
from bot.storage.database import Database
from bot.storage.jobs import Job, NewRequest, Status
from bot.storage.writer import RequestWriter

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

# Jobs that may be fetching and posting their result while every API slot is
# busy: each holds one result (about three copies of it while it is checked
# and uploaded), so few enough to bound memory (measured: the peak over 50
# edits of 5 MB sources was 161 MB with 4 of them, 131 MB with 2), enough to
# keep the API fed (posting takes far less than a call).
DELIVERY_SLOTS = 2

# A job found running at start was interrupted by a crash or kill; it gets
# one more attempt, never an endless loop of crashes.
MAX_ATTEMPTS = 2

# Until jobs have been timed, assume this many seconds per job for estimates.
INITIAL_JOB_SECONDS = 20.0
# Weight of the newest job in the moving average of job times.
AVERAGE_WEIGHT = 0.2

# How long shutdown waits for requests being admitted to finish.
ADMISSION_GRACE = 5.0

# Lost answer ids looked up at once at start (see Jobs.restore).
RECOVERY_LOOKUPS = 8

# Discord's error for an interaction that can no longer be answered: its 3 s
# for the first answer ran out (discord-api-docs, JSON error codes).
UNKNOWN_INTERACTION = 10062


def expired(error: BaseException) -> bool:
    """Whether Discord refused an answer because the interaction's time ran out."""
    return isinstance(error, discord.NotFound) and error.code == UNKNOWN_INTERACTION


class InFlight:
    """Counts requests being admitted, so shutdown can let them finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Mark one request as in flight for the duration of the block."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self, *, within: float) -> None:
        """Wait (at most ``within`` seconds) until nothing is in flight."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)


class Background:
    """Side work a job starts and does not wait for (its audit post); kept to finish
    it at shutdown."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the caller; its errors are logged."""
        task = asyncio.create_task(self._run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("The %s failed", self._what)

    async def finish(self, *, within: float) -> None:
        """Wait for what is still running, at most ``within`` seconds; cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=within)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class Jobs:
    """Submits, queues, runs, delivers and cancels jobs."""

    def __init__(
        self,
        *,
        client: discord.Client,
        db: Database,
        api: OneMinClient,
        session: aiohttp.ClientSession,
        audit: Auditor,
        word_filters: WordFilters,
        guild_limits: GuildLimits,
        model: str,
        max_image_bytes: int,
        download_timeout: float,
        workers: int,
        metrics: Metrics,
        edit_model: str = models.DEFAULT_EDIT_MODEL,
        max_source_bytes: int = DEFAULT_SOURCE_BYTES,
        rate_limits: RateLimitWatch | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._audit = audit
        self._word_filters = word_filters
        self._guild_limits = guild_limits
        self._model = model
        self._edit_model = edit_model
        self._max_source_bytes = max_source_bytes
        self._workers = workers
        self.queue = JobQueue()
        self.queue.add_listener(self._queue_moved)
        self.acks = Acknowledgements()
        self.messages = JobMessages(
            client, rate_limits=rate_limits, on_token_dead=self._forget_token
        )
        self._pipeline = Pipeline(
            api=api,
            session=session,
            max_image_bytes=max_image_bytes,
            download_timeout=download_timeout,
            max_source_bytes=max_source_bytes,
            paths_uploaded=self._paths_uploaded,
        )
        self._api_slots = asyncio.Semaphore(workers)
        self._delivery_slots = asyncio.Semaphore(DELIVERY_SLOTS)
        self._running: dict[int, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._audits = Background("audit post")
        self._dispatcher: asyncio.Task[None] | None = None
        self._in_flight = InFlight()
        self.average_seconds = INITIAL_JOB_SECONDS
        # Each server's use, in memory: admission never waits for the database.
        self.book = UsageBook(
            lambda guild_id, since: limits_store.load_guild_usage(db, guild_id, since=since)
        )
        self.writer = RequestWriter(db)

    # -- reading -------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """False once shutdown began."""
        return self.queue.accepting

    def running_count(self, guild_id: int | None = None) -> int:
        """Jobs being worked on now (of one server when given)."""
        if guild_id is None:
            return len(self._running)
        return sum(1 for job in self._running.values() if job.guild_id == guild_id)

    def position(self, job_id: int) -> int | None:
        """1-based place of a waiting job; 0 if it runs; None if neither."""
        if job_id in self._running:
            return 0
        return self.queue.position(job_id)

    def estimated_wait(self, position: int) -> float:
        """Rough seconds until a job at ``position`` in its server's queue starts.

        Workers are shared, so this is optimistic when other servers are busy;
        it is shown as an estimate.
        """
        rounds = -(-position // self._workers)  # ceil without floats
        return rounds * self.average_seconds

    def queued_text(self, position: int) -> str:
        """The queued text for a place in the queue, with a rough wait."""
        return messages.queued_text(position, self.estimated_wait(position))

    # -- submitting ------------------------------------------------------------

    async def submit(self, interaction: discord.Interaction[ImagineBot], asked: JobRequest) -> None:
        """Check, admit, store and queue a request, and answer the member with its place.

        Generations and edits take the same path: an edit's images are checked
        first, then every check of /imagine; each counts as one image. A refusal
        (images that cannot be edited, a blocked word, a limit) is answered
        privately and kept in the usage log; raises :class:`UserFacingError` for
        requests that cannot be made at all.
        """
        with self._in_flight.track(), self.acks.awaiting() as acknowledged:
            await self._submit(interaction, asked, acknowledged)

    async def _submit(
        self,
        interaction: discord.Interaction[ImagineBot],
        asked: JobRequest,
        acknowledged: Callable[[], None],
    ) -> None:
        if interaction.guild_id is None or interaction.channel_id is None:
            raise UserFacingError("Images can only be made in a server.")
        prompt = asked.prompt.strip()
        if not prompt:
            raise UserFacingError("The prompt is empty: describe the image you want.")
        if not self.accepting:
            raise UserFacingError("The bot is restarting; please try again in a minute.")
        edit = asked.edit
        request = NewRequest(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            prompt=prompt,
            aspect_ratio=asked.aspect_ratio,
            application_id=interaction.application_id,
            interaction_id=interaction.id,
            interaction_token=interaction.token,
            attachment_limit=interaction.filesize_limit,
            kind=asked.kind,
            source_channel_id=edit.channel_id if edit else None,
            source_message_id=edit.message_id if edit else None,
            source_urls=edit.urls if edit else (),
            source_paths=edit.paths if edit else None,
        )
        # Each of these is read from the database once per server, then kept:
        # after the first request of a server, none of them awaits anything.
        # The first request reads all three at once, not one after the other.
        self._word_filters.prefetch(request.guild_id)
        self._guild_limits.prefetch(request.guild_id)
        self.book.prefetch(request.guild_id)
        problem = refusal(edit, max_bytes=self._max_source_bytes) if edit else None
        if problem is not None:
            # Nothing is charged and the API is never called for these.
            stored = self.writer.add(job_store.refused_row(request, "bad_source", now=time.time()))
            await reply_ephemeral(interaction, problem)
            await stored
            return
        words = await self._word_filters.get(request.guild_id)
        if words.find(prompt) is not None:
            # Answer first (the row is written meanwhile); the audit post is a
            # Discord call of its own.
            stored = self.writer.add(job_store.refused_row(request, "blocked", now=time.time()))
            await reply_ephemeral(
                interaction,
                "This prompt uses a word this server's moderators have blocked. Try rewording it.",
            )
            await stored
            await self._audit.blocked(request.guild_id, request.channel_id, request.user_id, prompt)
            return
        roles = [role.id for role in getattr(interaction.user, "roles", ())]
        limits = await self._guild_limits.for_member(request.guild_id, roles)
        usage = await self.book.guild(request.guild_id)
        # Decided and charged in one synchronous step: the last slot has one winner.
        now = time.time()
        try:
            charge = usage.admit(
                request.user_id, limits, now=now, queue_wait=self.estimated_wait(1)
            )
        except RefusedError as refused:
            # Answer first, then keep the refused attempt in the usage log.
            limit = refused.refusal.limit.value
            stored = self.writer.add(job_store.refused_row(request, limit, now=now))
            await reply_ephemeral(interaction, refused.refusal.message)
            await stored
            return
        # The answer waits for the row's commit: a crash must never leave a
        # member with an answer for a job the database does not have. Behind a
        # batch already being written that wait is two commits on a busy loop,
        # so the interaction is acknowledged first, as a bare bot that only
        # defers would, and the answer replaces it later (bot.jobs.acks); so it
        # is when the commit is slow for any other reason.
        behind = self.writer.busy
        stored = self.writer.add(job_store.queued_row(request, now=now))
        acking: asyncio.Task[Exception | None] | None = None

        async def acknowledge_now() -> Exception | None:
            try:
                return await acknowledge(interaction)
            finally:
                acknowledged()

        def start_acknowledging() -> None:
            nonlocal acking
            acking = asyncio.create_task(acknowledge_now())

        # The acknowledgement goes beside the commit, and every request awaits
        # its row the same way, so jobs are queued in the order of their rows.
        if behind:
            start_acknowledging()
            patience = None
        else:
            patience = asyncio.get_running_loop().call_later(COMMIT_PATIENCE, start_acknowledging)
        try:
            job = await stored
        except Exception:
            usage.withdraw(charge)
            if acking is not None:
                await acking  # the error reply must know whether it follows a "thinking"
            raise
        finally:
            if patience is not None:
                patience.cancel()
        usage.stored(charge, job.id)
        await self._queue_and_answer(interaction, job, acking=acking)

    async def _queue_and_answer(
        self,
        interaction: discord.Interaction[Any],
        job: Job,
        *,
        acking: asyncio.Task[Exception | None] | None = None,
    ) -> None:
        """Queue a stored job and answer its member; ``acking`` is the early
        acknowledgement under way, which gives the error if Discord refused it
        (then the member never saw anything)."""
        message = self.messages.new(job)
        try:
            # The place comes from the queue itself, in the same step as the
            # enqueue: two requests of one instant never show the same place.
            position = self.queue.enqueue(job)
        except QueueClosedError:
            # Shutdown began after the check; the row stays queued and runs
            # after the restart.
            position = self.queue.queued_count(job.guild_id) + 1
            log.info("Job %d stays queued for after the restart", job.id)
        try:
            ack_error = await acking if acking is not None else None
            if ack_error is not None:
                raise ack_error
            if interaction.response.is_done():
                # Acknowledged early: the answer waits for the burst's other
                # acknowledgements, then shows the place the job has by then.
                await message.held(self.acks.hold())
                now_at = self.position(job.id)
                if now_at is not None:
                    position = max(1, now_at)  # 0: a worker took it, and shows it running next
            message_id = await message.answer(
                interaction, self.queued_text(position), queued_view(job.id)
            )
        except Exception as error:
            # The member never saw an answer: do not run (or charge) the job.
            message.abandon()
            self.queue.remove(job.id)
            self.messages.forget(job.id)
            if expired(error):
                # Too late: Discord already showed the member that it failed, and
                # nothing more can be sent. One line and one batched write, not a
                # traceback, a futile error reply and a write each: those would make
                # an overloaded bot fall further behind.
                self.writer.cancel_soon(job.id, now=time.time())
                self.book.refunded(job)
                log.warning("Job %d cancelled: its interaction expired before the answer", job.id)
                return
            await job_store.mark_cancelled(self._db, job.id, now=time.time())
            self.book.refunded(job)
            raise
        # Not awaited: written with the next batch, or when the job starts.
        self.writer.defer_response_message(job.id, message_id)

    # -- cancelling --------------------------------------------------------------

    async def cancel(self, interaction: discord.Interaction[ImagineBot], job_id: int) -> None:
        """Cancel a waiting job for its requester or a moderator; it is not charged."""
        job = await load_job(interaction, job_id)
        if not may_manage(interaction, job):
            raise UserFacingError("Only the requester or a moderator can cancel this.")
        if self.queue.remove(job.id) is None:
            raise UserFacingError("Too late to cancel: that job has already started or ended.")
        await job_store.mark_cancelled(self._db, job.id, now=time.time())
        self.book.refunded(job)
        message = self.messages.get(job.id) or self.messages.restored(job)
        self.messages.forget(job.id)
        log.info("Job %d cancelled by user %d", job.id, interaction.user.id)
        await message.show_cancelled(interaction)

    # -- running -------------------------------------------------------------------

    async def restore(self) -> int:
        """Rebuild the queue from the database; return how many jobs were restored."""
        restored = 0
        lost: list[JobMessage] = []
        for job in await job_store.unfinished(self._db):
            if job.status is Status.RUNNING and job.attempts >= MAX_ATTEMPTS:
                log.warning("Job %d was interrupted %d times; giving up", job.id, job.attempts)
                await job_store.mark_failed(
                    self._db,
                    job.id,
                    now=time.time(),
                    kind="interrupted",
                    detail="the bot stopped while this job was running, twice",
                )
                self.book.refunded(job)
                continue
            if job.status is Status.RUNNING:
                await job_store.mark_requeued(self._db, job.id)
                self.book.requeued(job)
            message = self.messages.restored(job)
            if job.result_message_id is None:
                lost.append(message)
            self.queue.enqueue(job)
            restored += 1
        # Answers whose id a crash lost before it was written: ask Discord,
        # a few at a time.
        asking = asyncio.Semaphore(RECOVERY_LOOKUPS)

        async def find(message: JobMessage) -> int | None:
            async with asking:
                return await message.find_answer()

        found = await asyncio.gather(*(find(message) for message in lost))
        for message, message_id in zip(lost, found, strict=True):
            if message_id is not None:
                await job_store.set_response_message(self._db, message.job.id, message_id)
        if restored:
            log.info("Restored %d queued job(s) from the database", restored)
        return restored

    def start(self) -> None:
        """Start handing jobs to workers."""
        self._dispatcher = asyncio.create_task(self._dispatch(), name="imagine-dispatcher")

    async def stop(self, grace: float) -> None:
        """Take no new jobs; let running ones finish for ``grace`` seconds; leave the rest queued.

        A job cut off by the deadline is put back to ``queued`` so it runs after
        the restart (it was never delivered, so it is not lost or charged twice).
        """
        self.queue.close()
        # Requests being admitted finish their database work and answer first.
        await self._in_flight.wait_idle(within=ADMISSION_GRACE)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
            self._dispatcher = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                log.warning("%d running job(s) did not finish in time; requeued", len(pending))
        await self._audits.finish(within=ADMISSION_GRACE)
        await self.messages.close()
        # Response ids still waiting for a batch are written before the database closes.
        await self.writer.close()
        log.info("Request rows: %s", self.writer.commit_wait_summary())

    async def _dispatch(self) -> None:
        while True:
            await self._api_slots.acquire()
            job = await self.queue.next()
            if job is None:
                self._api_slots.release()
                return
            self._running[job.id] = job
            task = asyncio.create_task(self._run(job), name=f"imagine-job-{job.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job) -> None:
        """Run one job to its end; every expected failure is stored and shown."""
        message = self.messages.get(job.id) or self.messages.restored(job)
        holds_api_slot = True
        marked: asyncio.Future[None] | None = None
        began = time.monotonic()
        try:
            if not await message.wait_answered():
                return  # the response failed; submit cancelled the job
            started = time.time()
            # The API call does not wait for this write: a database round trip
            # on a busy loop is 10-20 ms of an API slot, per job. Every later
            # write of the job is made after it (it is awaited first).
            marked = asyncio.ensure_future(
                job_store.mark_running(
                    self._db,
                    job.id,
                    now=started,
                    # The answer's id rides with this write if no batch took it yet.
                    response_message_id=self.writer.take_response_message(job.id),
                )
            )
            self.book.started(job)
            # The "generating" edit runs beside the API call rather than before
            # it; it is awaited before the outcome, so it can never land last.
            running = asyncio.create_task(message.show_running())
            timing = Timing()
            try:
                generation = await self._pipeline.call(job, timing)
            except JobError as error:
                if isinstance(error, OneMinError):
                    self._metrics.api_error(error.kind)
                self._api_slots.release()
                holds_api_slot = False
                await running
                await marked
                await self._fail(message, error, started, timing.api_seconds)
                return
            finally:
                if timing.api_seconds is not None:
                    self._metrics.api_call(timing.api_seconds)
                if not running.done():
                    await asyncio.wait({running})
            await marked
            # Take the delivery slot before giving the API slot back, so
            # images never pile up in memory waiting to be fetched or posted.
            async with self._delivery_slots:
                self._api_slots.release()
                holds_api_slot = False
                try:
                    image = await self._pipeline.fetch(job, generation)
                except JobError as error:
                    await self._fail(message, error, started, timing.api_seconds)
                    return
                try:
                    await self._deliver(message, image, started, timing.api_seconds)
                finally:
                    # The image's copies are garbage now; give their pages back.
                    del image
                    release_free_memory()
            elapsed = time.monotonic() - began
            self.average_seconds += AVERAGE_WEIGHT * (elapsed - self.average_seconds)
        except asyncio.CancelledError:
            # Shutdown cut it off: leave it queued for the next start.
            await asyncio.shield(self._requeue(job, marked))
            self.book.requeued(job)
            raise
        except Exception:
            # Every expected failure is a JobError; this is a bug, and one bad
            # job must not take the queue down with it.
            log.exception("Job %d crashed", job.id)
            self._metrics.job_finished(job.kind.value, "failed")
            await job_store.mark_failed(
                self._db, job.id, now=time.time(), kind="internal", detail="unexpected error"
            )
            self.book.refunded(job)
        finally:
            if holds_api_slot:
                self._api_slots.release()
            self._running.pop(job.id, None)
            self.messages.forget(job.id)
            self.queue.notify(job.guild_id)

    async def _requeue(self, job: Job, marked: asyncio.Future[None] | None) -> None:
        """Put a job cut off by shutdown back to queued, after its running mark."""
        if marked is not None:
            # Done or not, its statement is ahead of this one on the database's thread.
            await asyncio.wait({marked})
        await job_store.mark_requeued(self._db, job.id)

    async def _deliver(
        self,
        message: JobMessage,
        image: FetchedImage,
        started: float,
        api_seconds: float | None,
    ) -> None:
        job = message.job
        seconds = time.time() - started
        model = self._edit_model if job.is_edit else self._model
        try:
            delivered, image = await deliver(message, image, model=model, seconds=seconds)
        except JobError as error:
            # Discord refused the upload, or it could not be shrunk for the channel.
            await self._fail(message, error, started, api_seconds)
            return
        if delivered is None:
            self._metrics.job_finished(job.kind.value, "failed")
            await job_store.mark_failed(
                self._db,
                job.id,
                now=time.time(),
                kind="undeliverable",
                detail="the channel is gone or the bot may not post there",
                api_seconds=api_seconds,
            )
            self.book.refunded(job)
            return
        self._metrics.job_finished(job.kind.value, "succeeded")
        await job_store.mark_succeeded(
            self._db,
            job.id,
            now=time.time(),
            message_id=delivered.message_id,
            channel_id=delivered.channel_id,
            image_format=image.format,
            image_bytes=len(image.data),
            api_seconds=api_seconds,
        )
        self.book.succeeded(job)
        # The audit post is paced by its own channel's rate limit (5 per 5 s is
        # what Discord reports): it must not hold the delivery slot meanwhile.
        self._audits.start(
            self._audit.generated(
                job, channel_id=delivered.channel_id, message_id=delivered.message_id
            )
        )
        log.info(
            "Job %d (%s) done: guild=%d %.1fs %s %d bytes",
            job.id,
            job.kind.value,
            job.guild_id,
            seconds,
            image.format,
            len(image.data),
        )

    async def _paths_uploaded(self, job_id: int, paths: tuple[str, ...]) -> None:
        """An edit's images are uploaded: keep their paths for Re-roll and Remix."""
        await job_store.set_source_paths(self._db, job_id, paths)

    async def _fail(
        self, message: JobMessage, error: JobError, started: float, api_seconds: float | None
    ) -> None:
        job = message.job
        self._metrics.job_finished(job.kind.value, "failed")
        log.info(
            "Job %d failed: guild=%d %.1fs %s",
            job.id,
            job.guild_id,
            time.time() - started,
            error.kind,
        )
        await job_store.mark_failed(
            self._db,
            job.id,
            now=time.time(),
            kind=error.kind,
            detail=error.detail,
            api_seconds=api_seconds,
        )
        self.book.refunded(job)
        await message.show_error(error.user_message)

    async def _forget_token(self, job_id: int) -> None:
        await job_store.forget_interaction_token(self._db, job_id)

    def _queue_moved(self, guild_id: int) -> None:
        """Every waiting job of the server may have a new place: show it."""
        for position, job in enumerate(self.queue.queued_jobs(guild_id), start=1):
            message = self.messages.get(job.id)
            if message is not None:
                message.show_queued(self.queued_text(position))
