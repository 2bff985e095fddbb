"""Running one job: call the API, fetch the image, fit it, post it, store the outcome."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import discord

from bot import messages
from bot.audit import Auditor
from bot.images import FetchedImage, ImageError, download_image, fit_to_limit, ratio_mismatch
from bot.memory import release_free_memory
from bot.metrics import Metrics
from bot.onemin import ASPECT_RATIO_FIELD, OneMinClient, OneMinError
from bot.storage import requests
from bot.storage.database import Database
from bot.storage.requests import Job

log = logging.getLogger(__name__)

# Discord's upload limit when the interaction did not say (attachment_size_limit).
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
# Interaction tokens live 15 minutes; leave a margin for the request itself.
TOKEN_LIFETIME = 15 * 60 - 30
UNKNOWN_WEBHOOK = 10015

ViewFactory = Callable[[Job], discord.ui.View | None]


@dataclass(frozen=True)
class Delivered:
    """Where a message for a job ended up."""

    message_id: int
    channel_id: int


class JobRunner:
    """Turns a queued job into a posted image (or a clear error)."""

    def __init__(
        self,
        *,
        client: discord.Client,
        db: Database,
        api: OneMinClient,
        session: aiohttp.ClientSession,
        model: str,
        max_image_bytes: int,
        download_timeout: float,
        result_view: ViewFactory | None = None,
        audit: Auditor | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._db = db
        self._api = api
        self._session = session
        self._model = model
        self._max_image_bytes = max_image_bytes
        self._download_timeout = download_timeout
        self.result_view = result_view
        self._audit = audit
        self._metrics = metrics or Metrics()
        self._warned_ratio = False

    async def __call__(self, job: Job, api_done: Callable[[], None] = lambda: None) -> None:
        """Run ``job`` to the end; every expected failure is stored and shown, never raised.

        ``api_done`` is called as soon as the API call has ended, freeing its slot
        for the next job while this one downloads and posts its image.
        """
        started = time.time()
        await requests.mark_running(self._db, job.id, now=started)
        # The "generating" edit runs beside the API call rather than before it;
        # it is awaited before the outcome is posted, so it can never land last.
        progress = asyncio.create_task(
            self.show_progress(job, messages.queued_text(0), clear_buttons=True)
        )
        try:
            image = await self._generate(job, api_done)
        except (OneMinError, ImageError) as exc:
            if isinstance(exc, OneMinError):
                self._metrics.api_error(exc.kind)  # metrics
            await progress
            await self._fail(job, exc.kind, exc.user_message, exc.detail, started)
            return
        finally:
            if not progress.done():
                await asyncio.wait({progress})
        try:
            await self._deliver(job, image, started)
        finally:
            # The image's copies are garbage now; give their pages back.
            del image
            release_free_memory()

    async def _deliver(self, job: Job, image: FetchedImage, started: float) -> None:
        seconds = time.time() - started
        filename = f"imagine-{job.id}.{image.extension}"
        embed = messages.result_embed(
            job,
            filename=filename,
            seconds=seconds,
            model=self._model,
            width=image.width,
            height=image.height,
        )
        view = self.result_view(job) if self.result_view else None
        upload = io.BytesIO(image.data)
        try:
            delivered = await self._post(
                job, embed=embed, file=discord.File(upload, filename=filename), view=view
            )
        finally:
            # discord.File never closes a buffer it did not open (it even swaps
            # its close() for a no-op), and the objects that still point at it
            # after an upload form reference cycles: without this, the upload's
            # private copy of the image lives until the next full garbage
            # collection (measured: peak memory 308 MiB instead of 113 MiB over
            # 200 images of 5 MB).
            io.BytesIO.close(upload)
        if delivered is None:
            self._metrics.job_finished("generate", "failed")  # metrics
            await requests.mark_failed(
                self._db,
                job.id,
                now=time.time(),
                kind="undeliverable",
                detail="the channel is gone or the bot may not post there",
            )
            return
        self._metrics.job_finished("generate", "succeeded")  # metrics
        await requests.mark_succeeded(
            self._db,
            job.id,
            now=time.time(),
            message_id=delivered.message_id,
            channel_id=delivered.channel_id,
            image_format=image.format,
            image_bytes=len(image.data),
        )
        if self._audit is not None:
            await self._audit.generated(
                job, channel_id=delivered.channel_id, message_id=delivered.message_id
            )
        log.info(
            "Job %d done: guild=%d %.1fs %s %d bytes",
            job.id,
            job.guild_id,
            seconds,
            image.format,
            len(image.data),
        )

    async def _generate(self, job: Job, api_done: Callable[[], None]) -> FetchedImage:
        began = time.monotonic()
        try:
            generation = await self._api.generate(job.prompt, job.aspect_ratio)
        finally:
            api_done()
            self._metrics.api_call(time.monotonic() - began)  # metrics
            await requests.update(self._db, job.id, api_seconds=time.monotonic() - began)
        image = await download_image(
            self._session,
            generation.image_url,
            max_bytes=self._max_image_bytes,
            timeout=self._download_timeout,
        )
        self._check_ratio(job, image)
        limit = job.attachment_limit or DEFAULT_ATTACHMENT_LIMIT
        if len(image.data) > limit:
            # Re-encoding is CPU work; keep the event loop (and heartbeats) free.
            image = await asyncio.to_thread(fit_to_limit, image, limit)
        return image

    def _check_ratio(self, job: Job, image: FetchedImage) -> None:
        if job.aspect_ratio is None or self._warned_ratio:
            return
        if ratio_mismatch(image.width, image.height, job.aspect_ratio):
            self._warned_ratio = True
            log.warning(
                "Asked for aspect ratio %s (sent as promptObject.%s) but got a %dx%d image:"
                " the API may be ignoring the field",
                job.aspect_ratio,
                ASPECT_RATIO_FIELD,
                image.width,
                image.height,
            )

    async def _fail(
        self, job: Job, kind: str, user_message: str, detail: str, started: float
    ) -> None:
        log.info(
            "Job %d failed: guild=%d %.1fs %s",
            job.id,
            job.guild_id,
            time.time() - started,
            kind,
        )
        self._metrics.job_finished("generate", "failed")  # metrics
        await requests.mark_failed(self._db, job.id, now=time.time(), kind=kind, detail=detail)
        await self._post(
            job,
            content=messages.failed_prompt_line(job),
            embed=messages.error_embed(user_message, job_id=job.id),
        )

    async def show_progress(self, job: Job, text: str, *, clear_buttons: bool = False) -> None:
        """Edit the member's response to ``text`` while the job waits or runs.

        ``clear_buttons`` removes the Cancel button once the job has started.
        """
        if not self._token_usable(job) or job.result_message_id is None:
            return
        webhook = self._webhook(job)
        try:
            if clear_buttons:
                await webhook.edit_message(
                    job.result_message_id,
                    content=text,
                    view=None,
                    allowed_mentions=messages.NO_PINGS,
                )
            else:
                await webhook.edit_message(
                    job.result_message_id, content=text, allowed_mentions=messages.NO_PINGS
                )
        except discord.HTTPException as exc:
            log.debug("Could not update job %d's progress: %s", job.id, exc)

    async def _post(
        self,
        job: Job,
        *,
        content: str | None = None,
        embed: discord.Embed,
        file: discord.File | None = None,
        view: discord.ui.View | None = None,
    ) -> Delivered | None:
        """Replace the member's response with the outcome, or post it in the channel.

        The response can only be edited while the interaction token lives; after
        that (or when Discord says the webhook is unknown) the outcome becomes a
        normal channel message naming the requester without pinging them.
        """
        if self._token_usable(job) and job.result_message_id is not None:
            try:
                message = await self._webhook(job).edit_message(
                    job.result_message_id,
                    content=content,
                    embed=embed,
                    attachments=[file] if file else [],
                    view=view,
                    allowed_mentions=messages.NO_PINGS,
                )
                return Delivered(message.id, message.channel.id)
            except discord.NotFound as exc:
                if exc.code != UNKNOWN_WEBHOOK:
                    log.info("Job %d's response is gone (%s); posting in the channel", job.id, exc)
            except discord.HTTPException as exc:
                log.warning("Could not edit job %d's response: %s", job.id, exc)
            if file is not None:
                file.reset()
        return await self._post_in_channel(job, content=content, embed=embed, file=file, view=view)

    async def _post_in_channel(
        self,
        job: Job,
        *,
        content: str | None,
        embed: discord.Embed,
        file: discord.File | None,
        view: discord.ui.View | None,
    ) -> Delivered | None:
        channel = self._client.get_channel(job.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            try:
                fetched = await self._client.fetch_channel(job.channel_id)
            except discord.HTTPException as exc:
                log.warning("Job %d: channel %d unavailable: %s", job.id, job.channel_id, exc)
                return None
            if not isinstance(fetched, discord.abc.Messageable):
                return None
            channel = fetched
        text = f"<@{job.user_id}>" + (f" {content}" if content else "")
        try:
            message = await channel.send(
                text,
                embed=embed,
                files=[file] if file else [],
                view=view or discord.ui.View(),
                allowed_mentions=messages.NO_PINGS,
            )
        except discord.HTTPException as exc:
            log.warning("Job %d: could not post in channel %d: %s", job.id, job.channel_id, exc)
            return None
        return Delivered(message.id, message.channel.id)

    def _token_usable(self, job: Job) -> bool:
        if job.interaction_token is None or job.application_id is None:
            return False
        if job.interaction_id is not None:
            created = discord.utils.snowflake_time(job.interaction_id).timestamp()
        else:
            created = job.created_at
        return time.time() - created < TOKEN_LIFETIME

    def _webhook(self, job: Job) -> discord.Webhook:
        assert job.application_id is not None and job.interaction_token is not None
        return discord.Webhook.partial(
            job.application_id, job.interaction_token, client=self._client
        )
