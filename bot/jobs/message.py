"""The member's one message about a job: queued, running, the result or an error.

A job is answered once, by the interaction response (queued, with its place
and a Cancel button); from then on this object is the only thing that edits
that message. Edits go through the interaction's webhook while its token
lives; after that (15 minutes, or when Discord says the webhook is unknown)
the outcome becomes a normal channel message that names the requester
without pinging them.

Queue positions are edited with care for Discord's rate limits: coalesced
per message (only the newest text is sent), at most once every
``min_interval`` seconds per message, and all messages together at most
``max_rate`` times a second with one edit in flight. Under that budget a
message may skip places; it always ends on the newest text. When Discord
answers 429s, both paces slow down (:class:`~bot.ratelimits.Backoff`) until
it has been quiet for a while.

A token that answered 401 (Invalid Webhook Token, 50027) or 404 Unknown
Webhook (10015) is dead for the job: it is never used again (Discord counts
such requests towards an IP ban) and the outcome goes to the channel. A
channel post carries a nonce derived from the job with ``enforce_nonce``, so a
job delivered again after a crash returns the message posted the first time
instead of a second one; editing the response is idempotent by nature.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, Protocol, cast

import discord

from bot import messages
from bot.jobs.errors import JobError
from bot.ratelimits import Backoff, RateLimitWatch
from bot.storage.jobs import Job

log = logging.getLogger(__name__)

# Interaction tokens live 15 minutes; leave a margin for the request itself.
TOKEN_LIFETIME = 15 * 60 - 30
# Discord's answers for a token that is gone (discord-api-docs, "Opcodes and
# Status Codes"; an expired interaction token answers 401/50027, as reported).
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027
# A result edit still rate limited after discord.py's own retries is tried
# again this many times, after Discord's retry_after (or this many seconds).
RESULT_RETRIES = 3
RESULT_RETRY_SECONDS = 2.0


class Outcome(Protocol):
    """What replaces the member's message: its parts for an upload limit.

    ``limit`` is the most bytes the file may have where it is posted (None: the
    interaction's own limit, which the pipeline already fitted it to).
    """

    async def parts(
        self, limit: int | None
    ) -> tuple[str | None, discord.Embed, discord.File | None, discord.ui.View | None]:
        """Content, embed, file and view of the message."""
        ...


@dataclass
class ErrorOutcome:
    """An error in place of the image: text only."""

    content: str
    embed: discord.Embed

    async def parts(
        self, limit: int | None
    ) -> tuple[str | None, discord.Embed, discord.File | None, discord.ui.View | None]:
        """The same text wherever it is posted."""
        return self.content, self.embed, None, None


def token_is_dead(exc: discord.HTTPException) -> bool:
    """Whether Discord said the interaction's webhook is gone for good."""
    return exc.status == 401 or exc.code in (UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN)


def upload_refused(
    exc: discord.HTTPException, size: int, limit: int | None, where: str
) -> JobError:
    """The error of a 413: Discord would not take the file."""
    bound = f"the bot fitted it to {limit} bytes" if limit else "no limit was known"
    return JobError(
        "upload_too_large",
        "The image is larger than Discord accepts here, even after shrinking it.",
        f"Discord refused the {size}-byte upload to {where} with 413 ({bound}): {exc.text}",
    )


def channel_nonce(job: Job) -> str:
    """The nonce of a job's channel post: the same for every attempt (25 characters at most)."""
    if job.interaction_id is not None:
        return str(job.interaction_id)
    return f"imagine-job-{job.id}"


# Discord's name for an interaction's response in webhook message routes;
# discord.py types message ids as int but only formats them into the path.
ORIGINAL_RESPONSE = cast(int, "@original")


@dataclass(frozen=True)
class Delivered:
    """Where a message for a job ended up."""

    message_id: int
    channel_id: int


class _State(Enum):
    ANSWERING = auto()
    QUEUED = auto()
    RUNNING = auto()
    DONE = auto()


class EditBudget:
    """The bot-wide pace of queue-position edits: at most ``max_rate`` a second and
    ``in_flight`` at once, slower while Discord rate limits the bot (``backoff``).

    Bounding the edits in flight matters under 429s: discord.py retries a limited
    edit itself, and without the bound the next turns would keep sending into
    the same limit while it waits.
    """

    def __init__(self, max_rate: float, backoff: Backoff, *, in_flight: int = 1) -> None:
        self._spacing = 1.0 / max_rate
        self._next_at = 0.0
        self._slots = asyncio.Semaphore(in_flight)
        self.backoff = backoff

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold a slot and wait for this edit's place under the bot-wide rate."""
        async with self._slots:
            now = time.monotonic()
            turn = max(now, self._next_at)
            self._next_at = turn + self._spacing * self.backoff.factor()
            if turn > now:
                await asyncio.sleep(turn - now)
            yield


class JobMessages:
    """Makes and keeps the :class:`JobMessage` of every job that is waiting or running."""

    def __init__(
        self,
        client: discord.Client,
        *,
        min_interval: float = 2.0,
        max_rate: float = 10.0,
        rate_limits: RateLimitWatch | None = None,
        on_token_dead: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        # Called with the job id once Discord said its token is dead (to store that).
        self.on_token_dead = on_token_dead
        # Public: the least time between two position edits of one message.
        self.min_interval = min_interval
        self.rate_limits = rate_limits
        self.budget = EditBudget(max_rate, Backoff(rate_limits))
        self._live: dict[int, JobMessage] = {}

    def new(self, job: Job) -> JobMessage:
        """The message of a job just admitted: not answered yet."""
        message = JobMessage(job, self, message_id=None)
        self._live[job.id] = message
        return message

    def restored(self, job: Job) -> JobMessage:
        """The message of a job stored before a restart: answered long ago (or never)."""
        message = JobMessage(job, self, message_id=job.result_message_id)
        message.set_queued()
        self._live[job.id] = message
        return message

    def get(self, job_id: int) -> JobMessage | None:
        """The live message of a job, if it is waiting or running."""
        return self._live.get(job_id)

    def forget(self, job_id: int) -> None:
        """The job ended: stop every pending edit of its message."""
        message = self._live.pop(job_id, None)
        if message is not None:
            message.cancel_progress()

    async def close(self) -> None:
        """Cancel every pending position edit."""
        live = list(self._live.values())
        self._live.clear()
        await asyncio.gather(*(m.stop_progress() for m in live), return_exceptions=True)


class JobMessage:
    """One job's message to its member; every edit of it goes through here."""

    def __init__(self, job: Job, owner: JobMessages, *, message_id: int | None) -> None:
        self.job = job
        self.message_id = message_id
        self._owner = owner
        self._state = _State.ANSWERING
        self._answered = asyncio.Event()
        # An answer held back for other interactions' acknowledgements (bot.jobs.acks),
        # and whether a worker already wants it (the job is about to start).
        self._hold: asyncio.Future[None] | None = None
        self._starting = False
        self._abandoned = False
        self._shown: str | None = None
        self._wanted: str | None = None
        self._last_edit = 0.0
        self._pump: asyncio.Task[None] | None = None
        self._token_dead = False

    # -- the first answer ------------------------------------------------------

    async def answer(
        self, interaction: discord.Interaction[Any], text: str, view: discord.ui.View
    ) -> int:
        """Send the interaction's response (the queued text and Cancel); return its id.

        An interaction already acknowledged (bot.jobs.acks) has its "thinking"
        message replaced. Raises :class:`discord.HTTPException` when Discord
        refused it; the job must then not run (:meth:`abandon`).
        """
        if interaction.response.is_done():
            sent = await interaction.edit_original_response(
                content=text, view=view, allowed_mentions=messages.NO_PINGS
            )
            message_id: int | None = sent.id
        else:
            callback = await interaction.response.send_message(
                text, view=view, allowed_mentions=messages.NO_PINGS
            )
            message_id = callback.message_id
        if message_id is None:  # pragma: no cover - Discord always returns the message
            raise RuntimeError("Discord returned no message for the response")
        self.message_id = message_id
        self._shown = text
        self._last_edit = time.monotonic()
        if self._state is _State.ANSWERING:
            self._state = _State.QUEUED
        self._answered.set()
        return message_id

    def set_queued(self) -> None:
        """The message exists already (restored job)."""
        self._state = _State.QUEUED
        self._answered.set()

    def abandon(self) -> None:
        """The response failed: the member never saw it, so the job never runs."""
        self._abandoned = True
        self._state = _State.DONE
        self._answered.set()

    async def find_answer(self) -> int | None:
        """The answer's message id; asked of Discord if it was never stored.

        The id is written after the answer, lazily (bot.storage.writer): a
        crash in between leaves a restored job without it while its member
        has the answer. Discord still knows it as the interaction's original
        response for as long as the token lives.
        """
        if self.message_id is not None or not self.token_usable():
            return self.message_id
        try:
            message = await self._webhook().fetch_message(ORIGINAL_RESPONSE)
        except discord.HTTPException as exc:
            log.info("Job %d has no answer to find (%s)", self.job.id, exc)
            return None
        self.message_id = message.id
        return message.id

    async def held(self, hold: asyncio.Future[None]) -> None:
        """Wait with the answer until ``hold`` is done, or until someone waits for it."""
        if self._starting:
            return
        self._hold = hold
        try:
            await hold
        finally:
            self._hold = None

    async def wait_answered(self) -> bool:
        """Wait until the member has their answer; False if it could not be sent.

        An answer being held back is released: the job is about to start.
        """
        self._starting = True
        if self._hold is not None and not self._hold.done():
            self._hold.set_result(None)
        await self._answered.wait()
        return not self._abandoned

    # -- while queued ----------------------------------------------------------

    def show_queued(self, text: str) -> None:
        """The job's place changed: show ``text`` soon, within the edit budget."""
        if self._state is not _State.QUEUED or self.message_id is None:
            return
        if text == self._shown:
            self._wanted = None
            return
        self._wanted = text
        if self._pump is None:
            self._pump = asyncio.create_task(self._pump_edits(), name=f"job-{self.job.id}-queued")

    async def _pump_edits(self) -> None:
        try:
            while self._wanted is not None:
                interval = self._owner.min_interval * self._owner.budget.backoff.factor()
                wait = self._last_edit + interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                async with self._owner.budget.turn():
                    text, self._wanted = self._wanted, None
                    # The job may have started while we waited; then it owns the text.
                    if text is None or self._state is not _State.QUEUED:
                        break
                    self._last_edit = time.monotonic()
                    await self._edit(content=text)
                    self._shown = text
        except Exception:
            log.exception("Updating the queue position of job %d failed", self.job.id)
        finally:
            if self._pump is asyncio.current_task():
                self._pump = None

    def cancel_progress(self) -> asyncio.Task[None] | None:
        """No more position edits; return the edit being cancelled, if any."""
        self._wanted = None
        pump, self._pump = self._pump, None
        if pump is None or pump is asyncio.current_task():
            return None
        pump.cancel()
        return pump

    async def stop_progress(self) -> None:
        """No more position edits, and none left in flight."""
        pump = self.cancel_progress()
        if pump is not None:
            await asyncio.gather(pump, return_exceptions=True)

    # -- running and after -------------------------------------------------------

    async def show_running(self) -> None:
        """The job started: say so and take the Cancel button away."""
        self._state = _State.RUNNING
        await self.stop_progress()
        if not await self.wait_answered():
            return
        await self._edit(content=messages.running_text(self.job), view=None)

    async def show_cancelled(self, interaction: discord.Interaction[Any]) -> None:
        """Answer the Cancel click by turning the message into a cancelled note."""
        self._state = _State.DONE
        await self.stop_progress()
        await interaction.response.edit_message(
            content=f"🚫 Cancelled by {interaction.user.mention}: "
            + messages.truncate(messages.quote_prompt(self.job.prompt), 200),
            view=None,
            allowed_mentions=messages.NO_PINGS,
        )

    async def show_result(self, outcome: Outcome) -> Delivered | None:
        """Replace the message with the image; None when it could not be posted anywhere.

        Raises :class:`JobError` ``upload_too_large`` when Discord refused the file.
        """
        self._state = _State.DONE
        return await self._post(outcome)

    async def show_error(self, user_message: str) -> Delivered | None:
        """Replace the message with a clear error."""
        self._state = _State.DONE
        return await self._post(
            ErrorOutcome(
                messages.failed_prompt_line(self.job),
                messages.error_embed(user_message, job_id=self.job.id),
            )
        )

    # -- Discord -------------------------------------------------------------------

    def token_usable(self) -> bool:
        """Whether the interaction token can still edit the response."""
        job = self.job
        if self._token_dead or job.interaction_token is None or job.application_id is None:
            return False
        if job.interaction_id is not None:
            created = discord.utils.snowflake_time(job.interaction_id).timestamp()
        else:
            created = job.created_at
        return time.time() - created < TOKEN_LIFETIME

    def _webhook(self) -> discord.Webhook:
        job = self.job
        assert job.application_id is not None and job.interaction_token is not None
        return discord.Webhook.partial(
            job.application_id, job.interaction_token, client=self._owner.client
        )

    async def _check_token(self, exc: discord.HTTPException) -> None:
        """After a failed webhook call: remember a dead token, count a 429."""
        if token_is_dead(exc):
            self._token_dead = True
            log.info("Job %d's interaction token is gone (%s); using the channel", self.job.id, exc)
            if self._owner.on_token_dead is not None:
                try:
                    await self._owner.on_token_dead(self.job.id)
                except Exception:
                    log.exception("Could not store that job %d's token is dead", self.job.id)
        elif exc.status == 429 and self._owner.rate_limits is not None:
            self._owner.rate_limits.saw_429()

    async def _edit(self, **fields: Any) -> None:
        """A best-effort edit of the response (queued and running texts)."""
        if not self.token_usable() or self.message_id is None:
            return
        try:
            await self._webhook().edit_message(
                self.message_id, allowed_mentions=messages.NO_PINGS, **fields
            )
        except discord.HTTPException as exc:
            await self._check_token(exc)
            log.debug("Could not update job %d's message: %s", self.job.id, exc)

    async def _post(self, outcome: Outcome) -> Delivered | None:
        """Replace the response with the outcome, or post it in the channel."""
        await self.stop_progress()
        if not await self.wait_answered():
            return None
        for attempt in range(RESULT_RETRIES + 1):
            if not self.token_usable() or self.message_id is None:
                break
            content, embed, file, view = await outcome.parts(None)
            try:
                message = await self._webhook().edit_message(
                    self.message_id,
                    content=content,
                    embed=embed,
                    attachments=[file] if file else [],
                    view=view,
                    allowed_mentions=messages.NO_PINGS,
                )
                return Delivered(message.id, message.channel.id)
            except discord.HTTPException as exc:
                await self._check_token(exc)
                if exc.status == 413:
                    size = _size(file)
                    raise upload_refused(
                        exc, size, self.job.attachment_limit, "the response"
                    ) from exc
                if exc.status == 429 and attempt < RESULT_RETRIES:
                    # Still limited after discord.py's own retries: the result
                    # must arrive, so wait and try the same edit again.
                    await asyncio.sleep(_retry_after(exc))
                    continue
                if isinstance(exc, discord.NotFound) and not self._token_dead:
                    log.info(
                        "Job %d's response is gone (%s); posting in the channel", self.job.id, exc
                    )
                elif not self._token_dead:
                    log.warning("Could not edit job %d's response: %s", self.job.id, exc)
                break
        return await self._post_in_channel(outcome)

    async def _post_in_channel(self, outcome: Outcome) -> Delivered | None:
        job, client = self.job, self._owner.client
        channel = client.get_channel(job.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            try:
                fetched = await client.fetch_channel(job.channel_id)
            except discord.HTTPException as exc:
                log.warning("Job %d: channel %d unavailable: %s", job.id, job.channel_id, exc)
                return None
            if not isinstance(fetched, discord.abc.Messageable):
                return None
            channel = fetched
        # What the bot may upload here is the server's (its boost tier), whatever
        # the member's own limit was: the image is fitted again if it must be.
        limit = _channel_upload_limit(channel)
        content, embed, file, view = await outcome.parts(limit)
        text = f"<@{job.user_id}>" + (f" {content}" if content else "")
        try:
            message = await channel.send(
                text,
                embed=embed,
                files=[file] if file else [],
                view=view or discord.ui.View(),
                allowed_mentions=messages.NO_PINGS,
                nonce=channel_nonce(job),
            )
        except discord.HTTPException as exc:
            if exc.status == 413:
                raise upload_refused(exc, _size(file), limit, f"channel {job.channel_id}") from exc
            log.warning("Job %d: could not post in channel %d: %s", job.id, job.channel_id, exc)
            return None
        return Delivered(message.id, message.channel.id)


def _channel_upload_limit(channel: discord.abc.Messageable) -> int:
    """Bytes per file the bot may post in ``channel``: its server's boost tier."""
    guild = getattr(channel, "guild", None)
    if isinstance(guild, discord.Guild):
        return guild.filesize_limit
    return discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES


def _size(file: discord.File | None) -> int:
    if file is None:
        return 0
    stream = file.fp
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size


def _retry_after(exc: discord.HTTPException) -> float:
    """Seconds Discord asked to wait before trying again."""
    raw = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return max(float(raw), 0.1) if raw is not None else RESULT_RETRY_SECONDS
    except ValueError:
        return RESULT_RETRY_SECONDS
