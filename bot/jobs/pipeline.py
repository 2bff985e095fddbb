"""A job's first stage, inside an API slot: call the API, download the image, fit it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aiohttp

from bot.images import FetchedImage, download_image, fit_to_limit, ratio_mismatch
from bot.onemin import OneMinClient
from bot.storage.jobs import Job

log = logging.getLogger(__name__)

# Discord's upload limit when the interaction did not say (attachment_size_limit).
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024


@dataclass
class Timing:
    """How long the API call took; filled in even when the job then fails."""

    api_seconds: float | None = None


class Pipeline:
    """Makes a job's image; raises a :class:`~bot.jobs.errors.JobError` when it cannot."""

    def __init__(
        self,
        *,
        api: OneMinClient,
        session: aiohttp.ClientSession,
        max_image_bytes: int,
        download_timeout: float,
    ) -> None:
        self._api = api
        self._session = session
        self._max_image_bytes = max_image_bytes
        self._download_timeout = download_timeout
        self._warned_ratio = False

    async def run(self, job: Job, timing: Timing) -> FetchedImage:
        """The image for ``job``, checked and small enough to post."""
        began = time.monotonic()
        try:
            generation = await self._api.generate(job.prompt, job.aspect_ratio)
        finally:
            timing.api_seconds = time.monotonic() - began
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
