"""Downloading, checking and fitting images."""

from __future__ import annotations

import io
import socket
import struct
import time
import zlib
from typing import cast

import pytest
from PIL import Image

from bot.images import (
    FetchedImage,
    ImageError,
    download_image,
    downscale,
    fit_to_limit,
    inspect_image,
    ratio_mismatch,
)
from bot.models import GEMINI_SIZES
from bot.onemin import OneMinClient
from tests.support.fake_onemin import MODEL, SIZES, FakeOneMin, Scripted, encode, make_image

MB = 1024 * 1024


@pytest.fixture
def fake(onemin: FakeOneMin) -> FakeOneMin:
    return onemin


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width``x``height`` with almost no data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def fetched(data: bytes) -> FetchedImage:
    return inspect_image(data)


def decodes(image: FetchedImage) -> Image.Image:
    with Image.open(io.BytesIO(image.data)) as opened:
        opened.load()
        assert opened.format == image.format
        assert opened.size == (image.width, image.height)
        return opened.copy()


# -- download -----------------------------------------------------------------------


async def test_download_of_a_generated_image(fake, session):
    client = OneMinClient(session, base_url=fake.base_url, api_key="test-key", model=MODEL)
    generation = await client.generate("a lighthouse", "3:2")

    image = await download_image(session, generation.image_url, max_bytes=10 * MB, timeout=5)

    assert image.format == "WEBP"
    assert image.extension == "webp"
    assert image.content_type == "image/webp"
    assert (image.width, image.height) == (1248, 832)
    assert image.data == fake.served_images[-1]


@pytest.mark.parametrize(
    ("fmt", "extension", "content_type"),
    [
        ("PNG", "png", "image/png"),
        ("JPEG", "jpg", "image/jpeg"),
        ("GIF", "gif", "image/gif"),
        ("WEBP", "webp", "image/webp"),
    ],
)
async def test_download_reports_the_real_format(fake, session, fmt, extension, content_type):
    # Served as application/octet-stream, like S3 often does: Pillow decides.
    url = fake.add_asset(make_image((320, 200), 1, fmt=fmt))
    image = await download_image(session, url, max_bytes=MB, timeout=5)
    assert (image.format, image.extension, image.content_type) == (fmt, extension, content_type)
    assert (image.width, image.height) == (320, 200)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>AccessDenied</body></html>",
        b"",
        make_image((64, 64), 1, fmt="PNG")[:200],  # truncated
        make_image((64, 64), 1, fmt="WEBP")[:-40],  # truncated
        encode(Image.new("RGB", (8, 8)), "BMP"),  # an image, but not one we accept
        encode(Image.new("RGB", (8, 8)), "TIFF"),
    ],
    ids=["html", "empty", "truncated-png", "truncated-webp", "bmp", "tiff"],
)
async def test_non_images_are_refused(fake, session, body):
    url = fake.add_asset(body)
    with pytest.raises(ImageError) as info:
        await download_image(session, url, max_bytes=MB, timeout=5)
    assert info.value.kind == "not_an_image"
    assert info.value.user_message


async def test_a_non_image_behind_the_api_is_refused(fake, session):
    client = OneMinClient(session, base_url=fake.base_url, api_key="test-key", model=MODEL)
    fake.script(Scripted.with_image(b"definitely not an image"))
    generation = await client.generate("x")
    with pytest.raises(ImageError) as info:
        await download_image(session, generation.image_url, max_bytes=MB, timeout=5)
    assert info.value.kind == "not_an_image"


async def test_declared_length_over_the_cap_is_refused_unread(fake, session):
    url = fake.add_asset(size=64 * MB)
    started = time.monotonic()
    with pytest.raises(ImageError) as info:
        await download_image(session, url, max_bytes=MB, timeout=5)
    assert info.value.kind == "too_large"
    assert "announced" in info.value.detail
    assert time.monotonic() - started < 1.0
    assert fake.asset_bytes_sent < 32 * MB


async def test_stream_over_the_cap_is_cut_off(fake, session):
    # No Content-Length and no end: only the cap can stop it.
    url = fake.add_asset(size=-1, chunked=True)
    started = time.monotonic()
    with pytest.raises(ImageError) as info:
        await download_image(session, url, max_bytes=MB, timeout=5)
    assert info.value.kind == "too_large"
    assert time.monotonic() - started < 2.0
    assert fake.asset_bytes_sent < 64 * MB


async def test_a_real_image_over_the_cap_is_too_large(fake, session):
    data = make_image((1024, 1024), 1, fmt="PNG")
    url = fake.add_asset(data, chunked=True)
    with pytest.raises(ImageError) as info:
        await download_image(session, url, max_bytes=len(data) - 1, timeout=5)
    assert info.value.kind == "too_large"
    image = await download_image(session, url, max_bytes=len(data), timeout=5)
    assert image.data == data


@pytest.mark.parametrize("status", [403, 404, 500])
async def test_http_errors_are_download_failed(fake, session, status):
    url = fake.add_asset(status=status)
    with pytest.raises(ImageError) as info:
        await download_image(session, url, max_bytes=MB, timeout=5)
    assert info.value.kind == "download_failed"
    assert str(status) in info.value.detail
    # The signed query string stays out of the log.
    assert "X-Amz-Signature" not in info.value.detail


async def test_expired_signature_is_download_failed(fake, session):
    url = fake.add_asset(make_image((16, 16), 1))
    with pytest.raises(ImageError) as info:
        await download_image(session, url.split("?")[0], max_bytes=MB, timeout=5)
    assert info.value.kind == "download_failed"
    assert "403" in info.value.detail


async def test_a_stalled_download_times_out(fake, session):
    url = fake.add_asset(make_image((16, 16), 1), stall=True)
    started = time.monotonic()
    with pytest.raises(ImageError) as info:
        await download_image(session, url, max_bytes=MB, timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 1.0
    assert info.value.kind == "download_failed"
    assert "0.3" in info.value.detail


async def test_connection_refused_is_download_failed(session):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ImageError) as info:
        await download_image(session, f"http://127.0.0.1:{port}/x.png", max_bytes=MB, timeout=2)
    assert info.value.kind == "download_failed"


# -- decompression bombs ------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [(30_000, 30_000), (10_000, 10_000), (6_000, 6_000)],
    ids=["pillow-error", "pillow-warning", "our-limit"],
)
def test_decompression_bombs_are_not_images(size):
    with pytest.raises(ImageError) as info:
        inspect_image(png_header_only(*size))
    assert info.value.kind == "not_an_image"


def test_pixel_limit_is_adjustable():
    data = make_image((100, 100), 1, fmt="PNG")
    assert inspect_image(data).width == 100
    with pytest.raises(ImageError):
        inspect_image(data, max_pixels=9_999)


# -- fit_to_limit -------------------------------------------------------------------


def test_an_image_that_fits_is_untouched():
    image = fetched(make_image((1344, 768), 1, fmt="WEBP"))
    result = fit_to_limit(image, len(image.data))
    assert result is image
    assert result.data == image.data


def test_an_image_over_the_limit_is_reencoded_under_it():
    image = fetched(make_image((1344, 768), 1, fmt="PNG"))
    limit = len(image.data) // 3
    started = time.monotonic()
    result = fit_to_limit(image, limit)
    assert time.monotonic() - started < 2.0
    assert len(result.data) <= limit
    assert result.format == "JPEG"
    assert result.extension == "jpg"
    decodes(result)


def test_transparency_survives_reencoding():
    image = fetched(make_image((1344, 768), 1, fmt="PNG", alpha=True))
    limit = len(image.data) // 4
    result = fit_to_limit(image, limit)
    assert len(result.data) <= limit
    assert result.format == "WEBP"
    decoded = decodes(result)
    assert decoded.mode == "RGBA"
    # One band, so the extrema are two numbers.
    low, high = cast(tuple[float, float], decoded.getchannel("A").getextrema())
    assert low < 50 and high > 200


def test_a_small_limit_downscales_keeping_the_proportions():
    image = fetched(make_image((1344, 768), 1, fmt="PNG"))
    started = time.monotonic()
    result = fit_to_limit(image, 20_000)
    assert time.monotonic() - started < 2.0
    assert len(result.data) <= 20_000
    assert result.width < 1344
    assert not ratio_mismatch(result.width, result.height, "16:9")
    decodes(result)


def test_an_impossible_limit_is_too_large():
    image = fetched(make_image((1344, 768), 1, fmt="PNG"))
    with pytest.raises(ImageError) as info:
        fit_to_limit(image, 100)
    assert info.value.kind == "too_large"
    assert info.value.user_message


# -- ratios -------------------------------------------------------------------------


def test_gemini_sizes_are_the_spec_table():
    assert GEMINI_SIZES == SIZES
    assert list(GEMINI_SIZES) == [
        "1:1",
        "2:3",
        "3:2",
        "3:4",
        "4:3",
        "4:5",
        "5:4",
        "9:16",
        "16:9",
        "21:9",
    ]


@pytest.mark.parametrize(("ratio", "size"), list(GEMINI_SIZES.items()))
def test_gemini_sizes_match_their_ratio(ratio, size):
    assert not ratio_mismatch(size[0], size[1], ratio)


@pytest.mark.parametrize(
    ("width", "height", "ratio"),
    [(1024, 1024, "16:9"), (1344, 768, "9:16"), (1024, 1024, "2:3"), (1536, 672, "16:9")],
)
def test_ignored_ratios_are_noticed(width, height, ratio):
    assert ratio_mismatch(width, height, ratio)


def test_ratio_tolerance():
    assert not ratio_mismatch(1025, 1000, "1:1")  # 2.5 % off: within
    assert ratio_mismatch(1040, 1000, "1:1")
    assert not ratio_mismatch(1040, 1000, "1:1", tolerance=0.05)


@pytest.mark.parametrize("ratio", ["", "16", "16:", ":9", "a:b", "0:1", "1:0", "-1:1"])
def test_malformed_ratios_raise(ratio):
    with pytest.raises(ValueError):
        ratio_mismatch(100, 100, ratio)


def test_bad_sizes_raise():
    with pytest.raises(ValueError):
        ratio_mismatch(0, 100, "1:1")


def test_image_error_carries_kind_and_messages():
    error = ImageError("too_large", "12 MB over 10 MB")
    assert error.kind == "too_large"
    assert error.detail == "12 MB over 10 MB"
    assert "too large" in error.user_message
    assert str(error) == "too_large: 12 MB over 10 MB"


# -- downscale (an edit's source over 2048 px) --------------------------------------------


def test_downscale_leaves_a_small_image_untouched():
    image = inspect_image(encode(Image.new("RGB", (2048, 100), "red"), "PNG"))
    assert downscale(image, 2048) is image


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGB"), ("WEBP", "RGBA"), ("PNG", "RGBA")])
def test_downscale_keeps_the_shape_the_format_and_transparency(fmt, mode):
    source = Image.new(mode, (4000, 1000), (10, 200, 30, 128) if mode == "RGBA" else "green")
    image = inspect_image(encode(source, fmt))
    small = downscale(image, 2048)
    assert (small.format, small.width, small.height) == (fmt, 2048, 512)
    with Image.open(io.BytesIO(small.data)) as decoded:
        assert decoded.size == (2048, 512)
        assert ("A" in decoded.getbands()) == (mode == "RGBA")
