"""What makes a job's image: the API call (in an API slot), then the download and fit.

:meth:`Pipeline.call` is the part that holds an API slot: an edit's uploads
(:mod:`bot.jobs.uploads`, unless a Re-roll or Remix brought their paths
along) and the API call. :meth:`Pipeline.fetch` downloads, checks and fits
the answer's image; it runs in the delivery slot, so the next API call
starts while this image is fetched (measured: with the download inside the
API slot, 200 jobs took 1.26x the ideal makespan instead of 1.03-1.06x).
From the API's answer on, an edit is a generation like any other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from bot.images import FetchedImage, download_image, fit_to_limit, ratio_mismatch
from bot.jobs.errors import JobError
from bot.jobs.uploads import SourceUploader
from bot.onemin import Generation, OneMinBadRequestError, OneMinClient
from bot.storage.jobs import Job

log = logging.getLogger(__name__)

# Discord's upload limit when the interaction did not say (attachment_size_limit).
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
# The largest image a member may give to edit, when the caller does not say.
DEFAULT_SOURCE_BYTES = 20 * 1024 * 1024

# Called with the job id and its paths once an edit's images are uploaded.
PathsUploaded = Callable[[int, tuple[str, ...]], Awaitable[None]]

SOURCE_EXPIRED_MESSAGE = (
    "The image service no longer has the image to edit. Upload it again with /edit, or use"
    " Edit image on the message."
)


@dataclass
class Timing:
    """How long the API call (and an edit's uploads) took; filled in even when the job fails."""

    api_seconds: float | None = None
    upload_seconds: float | None = None


class Pipeline:
    """Makes a job's image; raises a :class:`~bot.jobs.errors.JobError` when it cannot."""

    def __init__(
        self,
        *,
        api: OneMinClient,
        session: aiohttp.ClientSession,
        max_image_bytes: int,
        download_timeout: float,
        max_source_bytes: int = DEFAULT_SOURCE_BYTES,
        paths_uploaded: PathsUploaded | None = None,
    ) -> None:
        self._api = api
        self._session = session
        self._max_image_bytes = max_image_bytes
        self._download_timeout = download_timeout
        self._uploads = SourceUploader(
            api=api, session=session, max_bytes=max_source_bytes, timeout=download_timeout
        )
        self._paths_uploaded = paths_uploaded
        self._warned_ratio = False

    async def run(self, job: Job, timing: Timing) -> FetchedImage:
        """Both stages at once: the image for ``job``, checked and small enough to post."""
        return await self.fetch(job, await self.call(job, timing))

    async def call(self, job: Job, timing: Timing) -> Generation:
        """The API's answer for ``job`` (an edit's images uploaded first)."""
        if job.is_edit:
            return await self._edit(job, timing)
        began = time.monotonic()
        try:
            return await self._api.generate(job.prompt, job.aspect_ratio)
        finally:
            timing.api_seconds = time.monotonic() - began

    async def fetch(self, job: Job, generation: Generation) -> FetchedImage:
        """The answer's image, checked and small enough to post."""
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

    async def _edit(self, job: Job, timing: Timing) -> Generation:
        """Upload the edit's images unless their paths are known, then ask for the edit."""
        paths = job.source_paths
        reused = paths is not None
        storing: asyncio.Future[None] | None = None
        if paths is None:
            began = time.monotonic()
            try:
                paths = await self._uploads.upload(job.source_urls)
            finally:
                timing.upload_seconds = time.monotonic() - began
            if self._paths_uploaded is not None and paths:
                # Stored beside the edit call, not before it (a database round
                # trip of the API slot's time): a Re-roll, or this job after a
                # restart, reuses them.
                storing = asyncio.ensure_future(self._paths_uploaded(job.id, paths))
        if not paths:
            raise JobError("source_invalid", "This edit has no image to edit.", "no source paths")
        began = time.monotonic()
        try:
            return await self._api.edit(job.prompt, paths[0], paths[1:])
        except OneMinBadRequestError as exc:
            if not reused:
                raise
            # Paths uploaded for an earlier job: the likeliest cause is that the
            # API no longer keeps them (SPEC.md: tell the member to upload again).
            raise JobError("source_expired", SOURCE_EXPIRED_MESSAGE, exc.detail) from None
        finally:
            timing.api_seconds = time.monotonic() - began
            if storing is not None:
                await storing

    def _check_ratio(self, job: Job, image: FetchedImage) -> None:
        """Warn once per process when the API seems to ignore the ratio field."""
        field = self._api.aspect_ratio_field
        if job.aspect_ratio is None or self._warned_ratio or field is None:
            return
        if ratio_mismatch(image.width, image.height, job.aspect_ratio):
            self._warned_ratio = True
            log.warning(
                "Asked for aspect ratio %s (sent as promptObject.%s) but got a %dx%d image:"
                " the API may be ignoring the field",
                job.aspect_ratio,
                field,
                image.width,
                image.height,
            )
