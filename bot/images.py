"""Fetching a generated image safely and fitting it under Discord's upload limit."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

import aiohttp
from PIL import (
    GifImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from bot.jobs.errors import JobError

log = logging.getLogger(__name__)

# Formats we accept from the network. Limiting Pillow to these keeps its rarer
# (and riskier) decoders away from bytes a third party chose.
ALLOWED_FORMATS: Final = ("PNG", "WEBP", "JPEG", "GIF")
# Their plugins, registered at import: Image.open(formats=...) then never calls
# Image.init(), which imports all ~50 of Pillow's plugins on the first image
# (measured 46 ms holding the GIL, in the middle of whatever burst is going on).
_PLUGINS: Final = (PngImagePlugin, WebPImagePlugin, JpegImagePlugin, GifImagePlugin)
# 25 MP is far above anything the API produces (Gemini: about 1 MP) and keeps one
# decoded image near 100 MB, which a 1 GB host survives even with a few in flight.
MAX_PIXELS: Final = 25_000_000

_EXTENSIONS: Final = {"PNG": "png", "WEBP": "webp", "JPEG": "jpg", "GIF": "gif"}
_CONTENT_TYPES: Final = {
    "PNG": "image/png",
    "WEBP": "image/webp",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
}
_CHUNK = 64 * 1024
_NO_SESSION_TIMEOUT: Final = aiohttp.ClientTimeout(total=None)
_QUALITY_STEPS: Final = (90, 80, 70, 60, 50)
# Shrinking keeps this quality: a smaller clean image beats a blotchy big one.
_DOWNSCALE_QUALITY: Final = 70
_DOWNSCALE_STEP: Final = 0.85
_MIN_SIDE: Final = 16

ImageErrorKind = Literal["download_failed", "too_large", "not_an_image"]

_USER_MESSAGES: Final[dict[str, str]] = {
    "download_failed": "The finished image could not be downloaded. Please try again.",
    "too_large": "The finished image was too large to post here.",
    "not_an_image": "The image service sent back a file that is not a valid image. "
    "Please try again.",
}


class ImageError(JobError):
    """Fetching or fitting an image failed.

    ``kind`` is ``download_failed``, ``too_large`` or ``not_an_image``; ``user_message``
    is what a Discord member reads and ``detail`` is for the operator's log.
    """

    def __init__(
        self, kind: ImageErrorKind, detail: str, *, user_message: str | None = None
    ) -> None:
        super().__init__(kind, user_message or _USER_MESSAGES[kind], detail)
        self.kind: ImageErrorKind = kind


@dataclass(frozen=True)
class FetchedImage:
    """Image bytes that Pillow has checked, with their real format and size."""

    data: bytes
    format: str  # Pillow's name: "PNG", "WEBP", "JPEG" or "GIF"
    width: int
    height: int

    @property
    def extension(self) -> str:
        """File name extension without the dot, e.g. ``"jpg"``."""
        return _EXTENSIONS.get(self.format, self.format.lower())

    @property
    def content_type(self) -> str:
        """MIME type, e.g. ``"image/webp"``."""
        return _CONTENT_TYPES.get(self.format) or Image.MIME.get(
            self.format, "application/octet-stream"
        )


async def download_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - the public contract; applied with asyncio.timeout
    max_pixels: int = MAX_PIXELS,
) -> FetchedImage:
    """Stream ``url`` into memory (at most ``max_bytes``, within ``timeout`` seconds).

    The bytes are checked with Pillow before they are returned. Raises
    :class:`ImageError` (``download_failed``, ``too_large`` or ``not_an_image``).
    """
    where = _safe_url(url)
    try:
        async with asyncio.timeout(timeout):
            data = await _fetch(session, url, where, max_bytes=max_bytes)
    except TimeoutError:
        raise ImageError(
            "download_failed", f"download of {where} took longer than {timeout:g}s"
        ) from None
    except aiohttp.ClientError as exc:
        raise ImageError(
            "download_failed", f"download of {where} failed: {type(exc).__name__}: {exc}"
        ) from None
    # Decoding is CPU work: keep the event loop (and Discord heartbeats) free.
    return await asyncio.to_thread(inspect_image, data, max_pixels=max_pixels)


async def _fetch(session: aiohttp.ClientSession, url: str, where: str, *, max_bytes: int) -> bytes:
    # The caller's asyncio.timeout bounds the whole download; switch off the
    # session's default timeout so it cannot cut in with a different bound.
    async with session.get(url, timeout=_NO_SESSION_TIMEOUT) as resp:
        if not 200 <= resp.status < 300:
            raise ImageError("download_failed", f"HTTP {resp.status} from {where}")
        if resp.content_length is not None and resp.content_length > max_bytes:
            resp.close()  # do not read (or keep the connection for) the rest
            raise ImageError(
                "too_large",
                f"{where} announced {resp.content_length} bytes, over the {max_bytes} cap",
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                resp.close()
                raise ImageError("too_large", f"{where} sent more than the {max_bytes} byte cap")
            chunks.append(chunk)
    return b"".join(chunks)


def inspect_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> FetchedImage:
    """Check that ``data`` is a complete image in an allowed format; return its facts.

    Raises :class:`ImageError` ``not_an_image`` otherwise, including for images whose
    pixel count would make decoding them a memory hazard (decompression bombs).
    """
    if not data:
        raise ImageError("not_an_image", "empty body")
    try:
        # A bomb warning is as bad as the error for us. The filter is scoped to this
        # block; catch_warnings is not thread-safe, but the only filter it changes
        # is one that any thread of this process would want anyway.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as probe:
                _check_pixels(probe.size, max_pixels)
                probe.verify()
            # verify() leaves the image unusable; reopen to read facts and decode it
            # fully, since verify() alone does not catch a truncated WebP or JPEG.
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                fmt = image.format or ""
                width, height = image.size
                image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("not_an_image", f"refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ImageError(
            "not_an_image", f"not a {'/'.join(ALLOWED_FORMATS)} image ({_sniff(data)})"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports corrupt data with any of these.
        raise ImageError("not_an_image", f"corrupt image data: {exc}") from None
    if fmt not in ALLOWED_FORMATS:
        raise ImageError("not_an_image", f"unexpected format {fmt!r}")
    return FetchedImage(data=data, format=fmt, width=width, height=height)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise ImageError(
            "not_an_image", f"{width}x{height} is outside the {max_pixels} pixel limit"
        )


def fit_to_limit(image: FetchedImage, limit: int) -> FetchedImage:
    """Return ``image`` unchanged if it fits in ``limit`` bytes, else a re-encoded copy.

    Re-encodes as JPEG (or WebP when the image has transparency) at falling quality,
    then scales down step by step. Synchronous and CPU-bound: run it in a thread.
    Raises :class:`ImageError` ``too_large`` if even a tiny version cannot fit.
    """
    if len(image.data) <= limit:
        return image
    with Image.open(io.BytesIO(image.data), formats=ALLOWED_FORMATS) as opened:
        # Animated GIFs are not what the API makes: the first frame is the image.
        source = ImageOps.exif_transpose(opened)
        icc_profile = opened.info.get("icc_profile")
    alpha = _has_alpha(source)
    source = source.convert("RGBA" if alpha else "RGB")
    fmt = "WEBP" if alpha else "JPEG"

    sizes: dict[int, int] = {}
    for quality in _QUALITY_STEPS:
        data = _encode(source, fmt, quality, icc_profile)
        if len(data) <= limit:
            return _fitted(image, data, fmt, source.size, quality)
        sizes[quality] = len(data)

    # Quality alone was not enough: shrink. Bytes scale roughly with the pixel count,
    # so jump close to the target first instead of stepping down from full size (the
    # 0.95 allows for small images compressing a little worse per pixel).
    width, height = source.size
    full_size = sizes.get(_DOWNSCALE_QUALITY, len(data))
    scale = min(_DOWNSCALE_STEP, 0.95 * math.sqrt(limit / full_size))
    while True:
        size = (round(width * scale), round(height * scale))
        if min(size) < _MIN_SIDE:
            raise ImageError(
                "too_large",
                f"{image.width}x{image.height} {image.format} ({len(image.data)} bytes)"
                f" cannot fit in {limit} bytes",
            )
        resized = source.resize(size, Image.Resampling.LANCZOS)
        data = _encode(resized, fmt, _DOWNSCALE_QUALITY, icc_profile)
        if len(data) <= limit:
            return _fitted(image, data, fmt, size, _DOWNSCALE_QUALITY)
        scale *= _DOWNSCALE_STEP


def downscale(image: FetchedImage, max_side: int) -> FetchedImage:
    """Return ``image`` unchanged if its long side is at most ``max_side``, else a
    smaller copy of the same shape, in the same format (PNG stays lossless).

    Synchronous and CPU-bound: run it in a thread.
    """
    if max(image.width, image.height) <= max_side:
        return image
    scale = max_side / max(image.width, image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    with Image.open(io.BytesIO(image.data), formats=ALLOWED_FORMATS) as opened:
        icc_profile = opened.info.get("icc_profile")
        source = opened.convert("RGBA" if _has_alpha(opened) else "RGB")
    resized = source.resize(size, Image.Resampling.LANCZOS)
    fmt = image.format if image.format in ("PNG", "JPEG", "WEBP") else "PNG"
    if fmt == "JPEG" and resized.mode != "RGB":
        resized = resized.convert("RGB")
    if fmt == "PNG":
        out = io.BytesIO()
        options: dict[str, object] = {"compress_level": 6}
        if isinstance(icc_profile, bytes):
            options["icc_profile"] = icc_profile
        resized.save(out, "PNG", **options)
        data = out.getvalue()
    else:
        data = _encode(resized, fmt, 90, icc_profile)
    log.info(
        "Downscaled a %dx%d %s of %d bytes to %dx%d (%d bytes)",
        image.width,
        image.height,
        image.format,
        len(image.data),
        size[0],
        size[1],
        len(data),
    )
    return FetchedImage(data=data, format=fmt, width=size[0], height=size[1])


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return image.mode == "P" and "transparency" in image.info


def _encode(image: Image.Image, fmt: str, quality: int, icc_profile: object) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"quality": quality}
    if isinstance(icc_profile, bytes):
        options["icc_profile"] = icc_profile  # keeps colours right without EXIF baggage
    if fmt == "JPEG":
        options["optimize"] = True
    else:
        options["method"] = 4  # Pillow's default speed/size trade-off for WebP
    image.save(out, fmt, **options)
    return out.getvalue()


def _fitted(
    original: FetchedImage, data: bytes, fmt: str, size: tuple[int, int], quality: int
) -> FetchedImage:
    log.info(
        "Re-encoded a %dx%d %s of %d bytes as a %dx%d %s of %d bytes (quality %d)",
        original.width,
        original.height,
        original.format,
        len(original.data),
        size[0],
        size[1],
        fmt,
        len(data),
        quality,
    )
    return FetchedImage(data=data, format=fmt, width=size[0], height=size[1])


def ratio_mismatch(width: int, height: int, aspect_ratio: str, tolerance: float = 0.03) -> bool:
    """True when ``width``x``height`` is off ``aspect_ratio`` (``"16:9"``) by more than
    ``tolerance`` (relative), i.e. the API probably ignored the ratio asked for.

    Gemini's own sizes are within 3 % of their nominal ratios (3:4 is 864x1184).
    Raises ValueError for a malformed ratio or size.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid image size {width}x{height}")
    left, sep, right = aspect_ratio.partition(":")
    try:
        want_w, want_h = float(left), float(right)
    except ValueError:
        raise ValueError(f"invalid aspect ratio {aspect_ratio!r}") from None
    if not sep or want_w <= 0 or want_h <= 0 or not math.isfinite(want_w / want_h):
        raise ValueError(f"invalid aspect ratio {aspect_ratio!r}")
    return abs((width / height) / (want_w / want_h) - 1) > tolerance


def _safe_url(url: str) -> str:
    """The URL for logs: scheme, host and path, not the signed query string."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _sniff(data: bytes) -> str:
    head = data[:16]
    return f"{len(data)} bytes starting {head!r}"
