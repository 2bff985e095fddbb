"""An edit's images, inside the job's API slot: fetched from Discord, checked, uploaded.

Each image is downloaded from the URL Discord gave (capped at
``MAX_SOURCE_IMAGE_BYTES``, timed, decoded), must be PNG, JPEG or WebP by its
bytes' signature, and is uploaded to the 1min.ai Asset API byte for byte, unless
its long side passes :data:`MAX_SIDE`. A source that cannot be fetched or read
is a :class:`~bot.jobs.errors.JobError` the member can act on; the job is then
not charged.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import unquote, urlsplit

import aiohttp

from bot.images import FetchedImage, ImageError, download_image, downscale
from bot.jobs.errors import JobError
from bot.jobs.request import ACCEPTED_TEXT, ACCEPTED_TYPES
from bot.memory import release_free_memory
from bot.onemin import OneMinClient

log = logging.getLogger(__name__)

# Gemini reads an image at about a megapixel (1024 px a side), so a long side
# above 2048 px only costs upload time, the API's bandwidth and our memory;
# such an image is shrunk first, anything smaller goes up untouched.
MAX_SIDE: Final = 2048

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


class SourceError(JobError):
    """An image to edit could not be used: ``source_unavailable`` or ``source_invalid``."""


def upload_name(url: str, extension: str) -> str:
    """A safe file name for an upload: the source's own stem, the real extension."""
    stem = posixpath.splitext(posixpath.basename(unquote(urlsplit(url).path)))[0]
    stem = _NAME_CHARS.sub("_", stem).strip("_")[:60] or "image"
    return f"{stem}.{extension}"


class SourceUploader:
    """Turns an edit's Discord URLs into paths the editing model takes."""

    def __init__(
        self,
        *,
        api: OneMinClient,
        session: aiohttp.ClientSession,
        max_bytes: int,
        timeout: float,
    ) -> None:
        self._api = api
        self._session = session
        self._max_bytes = max_bytes
        self._timeout = timeout

    async def upload(self, urls: Sequence[str]) -> tuple[str, ...]:
        """Fetch, check and upload each image in turn; return their paths, in order."""
        paths = []
        for number, url in enumerate(urls):
            what = "The image to edit" if number == 0 else f"Reference image {number}"
            image = await self._fetch(url, what)
            # One image in memory at a time: the next is fetched after this one is up.
            paths.append(
                await self._api.upload_asset(
                    image.data, upload_name(url, image.extension), image.content_type
                )
            )
            # The source's copies (download, decode check) are garbage now: give
            # their pages back before the next image or the result comes in.
            del image
            release_free_memory()
        return tuple(paths)

    async def _fetch(self, url: str, what: str) -> FetchedImage:
        try:
            image = await download_image(
                self._session, url, max_bytes=self._max_bytes, timeout=self._timeout
            )
        except ImageError as exc:
            raise _source_error(exc, what, self._max_bytes) from None
        if image.format not in ACCEPTED_TYPES.values():
            raise SourceError(
                "source_invalid",
                f"{what} is a {image.format} image; only {ACCEPTED_TEXT} images can be edited.",
                f"source {image.format} {image.width}x{image.height} is not accepted",
            )
        if max(image.width, image.height) <= MAX_SIDE:
            return image  # byte for byte
        # Decoding and re-encoding a large image is CPU work: off the event loop.
        return await asyncio.to_thread(downscale, image, MAX_SIDE)


def _source_error(error: ImageError, what: str, max_bytes: int) -> SourceError:
    if error.kind == "download_failed":
        return SourceError(
            "source_unavailable",
            f"{what} could not be downloaded from Discord (it may have been deleted)."
            " Upload it again.",
            error.detail,
        )
    if error.kind == "too_large":
        return SourceError(
            "source_invalid",
            f"{what} is larger than {max_bytes / (1024 * 1024):.1f} MB; use a smaller image.",
            error.detail,
        )
    return SourceError(
        "source_invalid",
        f"{what} is not a valid {ACCEPTED_TEXT} image.",
        error.detail,
    )
