"""The 1min.ai client against a local fake of the API."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import aiohttp
import pytest

from bot.images import download_image, ratio_mismatch
from bot.models import GENERATE, ModelProfile
from bot.models import TEN_RATIOS as TEN
from bot.onemin import (
    Generation,
    OneMinAuthError,
    OneMinBadRequestError,
    OneMinBadResponseError,
    OneMinClient,
    OneMinCreditsError,
    OneMinError,
    OneMinRateLimitedError,
    OneMinRefusedError,
    OneMinTimeoutError,
    OneMinUnavailableError,
    check_temporary_url,
)
from tests.support.fake_onemin import MODEL, FakeOneMin, Scripted

KEY = "test-key"
SECRET_KEY = "sk-live-SECRET-7f3a9c"


@pytest.fixture
def fake(onemin: FakeOneMin) -> FakeOneMin:
    return onemin


def make_client(session: aiohttp.ClientSession, base_url: str, **overrides) -> OneMinClient:
    options: dict[str, Any] = {
        "base_url": base_url,
        "api_key": KEY,
        "model": MODEL,
        "timeout": 5.0,
        "connect_timeout": 1.0,
        "max_attempts": 3,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    }
    options.update(overrides)
    return OneMinClient(session, **options)


@pytest.fixture
def client(session: aiohttp.ClientSession, fake: FakeOneMin) -> OneMinClient:
    return make_client(session, fake.base_url)


def free_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- success ------------------------------------------------------------------------


async def test_success_sends_the_documented_request(client, fake, session):
    generation = await client.generate("A serene Japanese garden")

    assert len(fake.requests) == 1
    call = fake.requests[0]
    assert call.headers["API-KEY"] == KEY
    assert call.headers["Content-Type"] == "application/json"
    # Exactly the doc's body: no aspect ratio when none was chosen.
    assert call.json == {
        "type": "IMAGE_GENERATOR",
        "model": MODEL,
        "promptObject": {"prompt": "A serene Japanese garden"},
    }
    assert isinstance(generation, Generation)
    assert generation.image_url.startswith(f"{fake.base_url}/asset/")
    assert generation.record_id
    assert len(generation.result_paths) == 1
    assert generation.prompt_object["prompt"] == "A serene Japanese garden"
    assert generation.prompt_object["aspect_ratio"] == "1:1"  # the vendor's default

    image = await download_image(session, generation.image_url, max_bytes=10**8, timeout=5)
    assert (image.width, image.height) == (1024, 1024)
    assert image.data == fake.served_images[0]


async def test_aspect_ratio_is_sent_only_when_chosen(client, fake, session):
    generation = await client.generate("a wide shot", "16:9")

    assert fake.requests[0].json["promptObject"] == {
        "prompt": "a wide shot",
        "aspect_ratio": "16:9",
    }
    assert generation.prompt_object["aspect_ratio"] == "16:9"
    image = await download_image(session, generation.image_url, max_bytes=10**8, timeout=5)
    assert (image.width, image.height) == (1344, 768)
    assert not ratio_mismatch(image.width, image.height, "16:9")


async def test_each_generation_is_a_different_image(client, fake):
    await client.generate("one")
    await client.generate("two")
    assert len(fake.served_images) == 2
    assert fake.served_images[0] != fake.served_images[1]


async def test_base_url_trailing_slash_is_tolerated(session, fake):
    client = make_client(session, fake.base_url + "/")
    await client.generate("x")
    assert len(fake.requests) == 1


# -- retries ------------------------------------------------------------------------


async def test_500_then_success_retries_once(client, fake, caplog):
    fake.script(Scripted.error(500))
    with caplog.at_level(logging.WARNING, logger="bot.onemin"):
        generation = await client.generate("x")

    assert len(fake.requests) == 2
    assert len(fake.served_images) == 1
    assert generation.image_url
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 1
    assert retries[0].levelno == logging.WARNING


async def test_429_honours_retry_after(client, fake):
    fake.script(Scripted.rate_limited(1))
    await client.generate("x")

    assert len(fake.requests) == 2
    waited = fake.requests[1].time - fake.requests[0].time
    assert 0.95 <= waited < 1.5


async def test_429_accepts_an_http_date_retry_after(client, fake):
    fake.script(Scripted.rate_limited("Wed, 21 Oct 2015 07:28:00 GMT"))  # in the past: no wait
    started = time.monotonic()
    await client.generate("x")
    assert time.monotonic() - started < 1.0
    assert len(fake.requests) == 2


async def test_429_every_time_is_rate_limited(client, fake):
    fake.script(*[Scripted.rate_limited(0)] * 3)
    with pytest.raises(OneMinRateLimitedError) as info:
        await client.generate("x")
    assert info.value.kind == "rate_limited"
    assert info.value.status == 429
    assert len(fake.requests) == 3


async def test_retry_after_beyond_the_bound_fails_at_once(session, fake):
    client = make_client(session, fake.base_url, timeout=2.0)
    fake.script(Scripted.rate_limited(60))
    started = time.monotonic()
    with pytest.raises(OneMinRateLimitedError) as info:
        await client.generate("x")
    assert time.monotonic() - started < 0.5
    assert info.value.retry_after == 60
    assert len(fake.requests) == 1


async def test_5xx_every_time_is_unavailable_after_max_attempts(client, fake, caplog):
    fake.script(*[Scripted.error(503, "<html>Service Unavailable</html>")] * 5)
    with (
        caplog.at_level(logging.WARNING, logger="bot.onemin"),
        pytest.raises(OneMinUnavailableError) as info,
    ):
        await client.generate("x")

    assert len(fake.requests) == 3
    error = info.value
    assert error.kind == "unavailable"
    assert error.status == 503
    assert "503" in error.detail
    assert "Service Unavailable" in error.detail
    messages = [r.getMessage() for r in caplog.records]
    assert sum("retrying" in m for m in messages) == 2  # one per retried attempt
    finals = [m for m in messages if "generation failed" in m]
    assert len(finals) == 1
    assert error.detail in finals[0]


async def test_connection_refused_is_unavailable_after_max_attempts(session, caplog):
    client = make_client(session, f"http://127.0.0.1:{free_port()}", max_attempts=3)
    with (
        caplog.at_level(logging.WARNING, logger="bot.onemin"),
        pytest.raises(OneMinUnavailableError) as info,
    ):
        await client.generate("x")

    assert info.value.status is None
    assert "connection error" in info.value.detail
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2


async def test_max_attempts_one_means_no_retry(session, fake):
    client = make_client(session, fake.base_url, max_attempts=1)
    fake.script(Scripted.error(500))
    with pytest.raises(OneMinUnavailableError):
        await client.generate("x")
    assert len(fake.requests) == 1


# -- no retry -----------------------------------------------------------------------


async def test_wrong_key_is_auth_without_retry(session, fake):
    client = make_client(session, fake.base_url, api_key="not-the-key")
    with pytest.raises(OneMinAuthError) as info:
        await client.generate("x")

    assert len(fake.requests) == 1
    error = info.value
    assert error.kind == "auth"
    assert error.status == 401
    assert "Unauthorized" in error.detail
    assert "API key" in error.user_message
    assert "operator" in error.user_message


async def test_403_is_auth(client, fake):
    fake.script(Scripted.error(403, {"message": "Forbidden"}))
    with pytest.raises(OneMinAuthError):
        await client.generate("x")
    assert len(fake.requests) == 1


async def test_402_is_credits(client, fake):
    fake.script(Scripted.out_of_credits(402))
    with pytest.raises(OneMinCreditsError) as info:
        await client.generate("x")
    assert info.value.kind == "credits"
    assert info.value.status == 402
    assert "credits" in info.value.user_message
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "scripted",
    [
        Scripted.bad_request("Not enough credit to run this feature", "INSUFFICIENT_CREDIT"),
        Scripted.error(403, {"error": "Your balance is too low"}),
        Scripted.no_record("You have exceeded your quota"),
    ],
)
async def test_credits_wording_is_credits_whatever_the_status(client, fake, scripted):
    fake.script(scripted)
    with pytest.raises(OneMinCreditsError):
        await client.generate("x")
    assert len(fake.requests) == 1


async def test_400_keeps_the_vendor_message_without_retry(client, fake):
    fake.script(Scripted.bad_request("promptObject.prompt is too long", "PROMPT_TOO_LONG"))
    with pytest.raises(OneMinBadRequestError) as info:
        await client.generate("x")

    assert len(fake.requests) == 1
    error = info.value
    assert error.kind == "bad_request"
    assert error.status == 400
    assert "400" in error.detail
    assert "PROMPT_TOO_LONG" in error.detail
    assert "promptObject.prompt is too long" in error.detail


async def test_the_fake_rejects_a_bad_body_like_the_vendor(client, fake):
    # Through the real client: an empty prompt reaches the fake's own validation.
    with pytest.raises(OneMinBadRequestError) as info:
        await client.generate("   ")
    assert "BAD_REQUEST" in info.value.detail


async def test_other_4xx_is_bad_request(client, fake):
    fake.script(Scripted.error(404, "Cannot POST /api/features"))
    with pytest.raises(OneMinBadRequestError) as info:
        await client.generate("x")
    assert "Cannot POST" in info.value.detail
    assert len(fake.requests) == 1


async def test_long_vendor_text_is_truncated(client, fake):
    fake.script(Scripted.bad_request("x" * 5000))
    with pytest.raises(OneMinBadRequestError) as info:
        await client.generate("x")
    assert len(info.value.detail) < 400


# -- bad success bodies -------------------------------------------------------------


async def test_malformed_json_is_bad_response(client, fake):
    fake.script(Scripted.malformed_json())
    with pytest.raises(OneMinBadResponseError) as info:
        await client.generate("x")
    assert info.value.kind == "bad_response"
    assert "not JSON" in info.value.detail
    assert len(fake.requests) == 1


async def test_status_not_success_is_refused(client, fake):
    fake.script(Scripted.record_status("FAILED"))
    with pytest.raises(OneMinRefusedError) as info:
        await client.generate("x")
    assert info.value.kind == "refused"
    assert "FAILED" in info.value.detail
    assert "reword" in info.value.user_message


async def test_200_with_a_message_and_no_record_is_refused(client, fake):
    fake.script(Scripted.no_record("Prompt blocked by safety system"))
    with pytest.raises(OneMinRefusedError) as info:
        await client.generate("x")
    assert "Prompt blocked by safety system" in info.value.detail


async def test_a_result_object_with_code_and_message_is_a_refusal(client, fake):
    fake.script(Scripted.refusal({"code": "MODERATION", "message": "Flagged as unsafe"}))
    with pytest.raises(OneMinRefusedError) as info:
        await client.generate("x")
    assert "MODERATION" in info.value.detail and "Flagged as unsafe" in info.value.detail
    assert "reword" in info.value.user_message


async def test_temporary_url_is_also_read_from_the_top_level(client, fake, session):
    fake.top_level_temporary_url = True
    generation = await client.generate("x")
    image = await download_image(session, generation.image_url, max_bytes=10**8, timeout=5)
    assert image.data == fake.served_images[0]


async def test_several_paths_take_the_first_and_are_logged_once(client, fake, session, caplog):
    fake.script(Scripted.several_paths(3), Scripted.several_paths(2))
    with caplog.at_level(logging.INFO, logger="bot.onemin"):
        first = await client.generate("one")
        await client.generate("two")
    assert len(first.result_paths) == 3
    image = await download_image(session, first.image_url, max_bytes=10**8, timeout=5)
    assert image.data == fake.served_images[0]
    counts = [r.getMessage() for r in caplog.records if "images for one request" in r.getMessage()]
    assert counts == ["1min.ai returned 3 images for one request; the bot uses the first"]


# -- the fake is strict per model (what the vendor's per-model pages document) ----------


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("dall-e-3", "Invalid model dall-e-3 for AI feature IMAGE_GENERATOR!"),
        (
            ModelProfile(GENERATE, MODEL, True, "aspectRatio", ("16:9",), None),
            "Invalid field(s) aspectRatio",
        ),
        (
            ModelProfile(GENERATE, "gemini-3.1-flash-image-preview", True, None, (), None),
            "imageSize is required",
        ),
        (
            ModelProfile(GENERATE, "gemini-3-pro-image-preview", True, None, (), "512"),
            "imageSize must be one of 1K, 2K, 4K",
        ),
        (
            ModelProfile(
                GENERATE, "gemini-3.1-flash-image-preview", True, "aspectRatio", ("7:3",), "1K"
            ),
            "Unsupported aspectRatio '7:3'",
        ),
        (
            ModelProfile(GENERATE, "gemini-3-pro-image-preview", True, "aspectRatio", TEN, "1K"),
            "Invalid field(s) aspectRatio",
        ),
    ],
    ids=["unknown-model", "2.5-camel", "3.1-no-size", "3-pro-512", "3.1-bad-ratio", "3-pro-ratio"],
)
async def test_the_fake_rejects_what_a_model_does_not_document(session, fake, model, words):
    client = make_client(session, fake.base_url, model=model)
    with pytest.raises(OneMinBadRequestError) as info:
        await client.generate("x", client.profile.ratios[0] if client.profile.ratios else None)
    assert words in info.value.detail
    assert set(fake.requests[0].headers) >= {"API-KEY"}


@pytest.mark.parametrize(
    ("scripted", "words"),
    [
        (Scripted.empty_result(), "resultObject is empty"),
        (Scripted.missing_temporary_url(), "temporaryUrl missing"),
        (Scripted.json_answer({"unexpected": True}), "no aiRecord"),
        (Scripted.json_answer([1, 2, 3]), "expected a JSON object"),
        (Scripted.temporary_url_scheme("ftp"), "not allowed"),
        (Scripted.temporary_url("https:///no-host"), "not allowed"),
    ],
)
async def test_wrong_shapes_are_bad_response(client, fake, scripted, words):
    fake.script(scripted)
    with pytest.raises(OneMinBadResponseError) as info:
        await client.generate("x")
    assert words in info.value.detail
    assert len(fake.requests) == 1


async def test_https_temporary_url_is_fine_under_an_http_base(client, fake):
    fake.script(Scripted.temporary_url_scheme("https"))
    generation = await client.generate("x")
    assert generation.image_url.startswith("https://")


def test_http_temporary_url_is_refused_under_an_https_base():
    signed = "http://s3.example.com/img.webp?X-Amz-Signature=abc"
    with pytest.raises(OneMinBadResponseError) as info:
        check_temporary_url(signed, base_url="https://api.1min.ai")
    # The signature is not something to keep in logs.
    assert "X-Amz-Signature" not in info.value.detail
    assert check_temporary_url(signed, base_url="http://127.0.0.1:8080") == signed
    good = "https://s3.example.com/img.webp?X-Amz-Signature=abc"
    assert check_temporary_url(good, base_url="https://api.1min.ai") == good


@pytest.mark.parametrize(
    "url", ["ftp://s3.example.com/x", "file:///etc/passwd", "data:image/png;base64,AA", "/x.png"]
)
def test_other_schemes_are_refused_under_any_base(url):
    for base in ("https://api.1min.ai", "http://127.0.0.1:1"):
        with pytest.raises(OneMinBadResponseError):
            check_temporary_url(url, base_url=base)


# -- time bound ---------------------------------------------------------------------


async def test_a_hang_times_out_within_the_bound(session, fake):
    client = make_client(session, fake.base_url, timeout=0.5)
    fake.script(Scripted.hang())
    started = time.monotonic()
    with pytest.raises(OneMinTimeoutError) as info:
        await client.generate("x")
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 1.0  # the bound, plus scheduling slack on a busy CI box
    assert info.value.kind == "timeout"
    assert "0.5" in info.value.detail


async def test_the_bound_covers_retries_and_backoff(session, fake):
    # Slow 500s plus long backoff: the whole call still ends within the bound.
    client = make_client(
        session, fake.base_url, timeout=0.6, max_attempts=10, backoff_base=0.2, backoff_cap=0.2
    )
    fake.script(*[Scripted.error(500)] * 10)
    fake.latency = 0.15
    started = time.monotonic()
    with pytest.raises(OneMinError) as info:
        await client.generate("x")
    assert time.monotonic() - started < 1.0
    assert info.value.kind in {"timeout", "unavailable"}


async def test_cancelling_generate_propagates(client, fake):
    fake.script(Scripted.hang())
    task = asyncio.create_task(client.generate("x"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- the key stays secret -----------------------------------------------------------


async def test_the_key_never_appears_in_errors_or_logs(session, caplog):
    fake = FakeOneMin(api_key=SECRET_KEY)
    await fake.start()
    try:
        client = make_client(session, fake.base_url, api_key=SECRET_KEY, timeout=0.3)
        fake.script(
            Scripted.error(500, {"message": f"upstream rejected key {SECRET_KEY}"}),
            Scripted.bad_request(f"Invalid API-KEY header: {SECRET_KEY}"),
            Scripted.no_record(f"refused for {SECRET_KEY}"),
            Scripted.malformed_json(),
            Scripted.hang(),
        )
        errors: list[OneMinError] = []
        with caplog.at_level(logging.DEBUG):
            for _ in range(4):
                with pytest.raises(OneMinError) as info:
                    await client.generate("x")
                errors.append(info.value)
        kinds = [e.kind for e in errors]
        assert kinds == ["bad_request", "refused", "bad_response", "timeout"]
        dead = make_client(session, f"http://127.0.0.1:{free_port()}", api_key=SECRET_KEY)
        with caplog.at_level(logging.DEBUG), pytest.raises(OneMinError) as info:
            await dead.generate("x")
        errors.append(info.value)
    finally:
        await fake.close()

    assert "[redacted]" in errors[0].detail
    for error in errors:
        for text in (str(error), repr(error), error.detail, error.user_message, str(error.args)):
            assert SECRET_KEY not in text
    assert SECRET_KEY not in repr(client)
    assert caplog.records
    for record in caplog.records:
        assert SECRET_KEY not in record.getMessage()
    assert SECRET_KEY not in caplog.text


def test_client_validates_its_options():
    session = object()
    with pytest.raises(ValueError):
        OneMinClient(session, base_url="http://x", api_key="", model=MODEL)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OneMinClient(session, base_url="http://x", api_key="k", model=MODEL, max_attempts=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OneMinClient(session, base_url="http://x", api_key="k", model=MODEL, timeout=0)  # type: ignore[arg-type]


def test_errors_have_stable_kinds_and_member_messages():
    classes = [
        OneMinAuthError,
        OneMinCreditsError,
        OneMinRateLimitedError,
        OneMinBadRequestError,
        OneMinRefusedError,
        OneMinBadResponseError,
        OneMinTimeoutError,
        OneMinUnavailableError,
    ]
    kinds = {cls.kind for cls in classes}
    assert kinds == {
        "auth",
        "credits",
        "rate_limited",
        "bad_request",
        "refused",
        "bad_response",
        "timeout",
        "unavailable",
    }
    for cls in classes:
        error = cls("detail text", status=None)
        assert isinstance(error, OneMinError)
        assert error.user_message and len(error.user_message) < 200
        assert str(error) == f"{error.kind}: detail text"


# -- the fake itself ----------------------------------------------------------------


async def test_fake_counts_concurrent_calls(client, fake):
    fake.latency = 0.2
    await asyncio.gather(client.generate("a"), client.generate("b"), client.generate("c"))
    assert fake.max_in_flight == 3
    assert fake.in_flight == 0


async def test_fake_serves_the_configured_format(session):
    async with FakeOneMin(image_format="PNG") as fake:
        generation = await make_client(session, fake.base_url).generate("x", "9:16")
        image = await download_image(session, generation.image_url, max_bytes=10**8, timeout=5)
    assert image.format == "PNG"
    assert (image.width, image.height) == (768, 1344)
    assert generation.result_paths[0].endswith(".png")


async def test_fake_asset_urls_need_the_signature(client, fake, session):
    generation = await client.generate("x")
    unsigned = generation.image_url.split("?")[0]
    async with session.get(unsigned) as resp:
        assert resp.status == 403
