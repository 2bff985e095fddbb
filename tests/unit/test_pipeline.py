"""A job's pipeline: API call, download, ratio check, fit to the member's upload limit."""

from __future__ import annotations

import io
import logging

import pytest
from PIL import Image

from bot.jobs.errors import JobError
from bot.jobs.pipeline import Pipeline, Timing
from bot.onemin import OneMinClient
from bot.storage.jobs import Job, Status
from tests.support.fake_onemin import Scripted, make_image
from tests.support.jobs import make_job


@pytest.fixture
def pipeline(onemin, session) -> Pipeline:
    api = OneMinClient(
        session,
        base_url=onemin.base_url,
        api_key=onemin.api_key,
        model="gemini-2.5-flash-image",
        timeout=10,
    )
    return Pipeline(api=api, session=session, max_image_bytes=10**8, download_timeout=5)


def job(ratio: str | None = None, limit: int | None = None) -> Job:
    return make_job(
        prompt="a lighthouse", aspect_ratio=ratio, attachment_limit=limit, status=Status.RUNNING
    )


async def test_makes_the_served_image_and_times_the_call(pipeline, onemin):
    onemin.latency = 0.05
    timing = Timing()
    image = await pipeline.run(job("3:2"), timing)
    assert image.data == onemin.served_images[0]
    assert (image.width, image.height) == (1248, 832)
    assert timing.api_seconds is not None and timing.api_seconds >= 0.05


async def test_a_failed_call_is_a_job_error_and_still_timed(pipeline, onemin):
    onemin.script(Scripted.out_of_credits())
    timing = Timing()
    with pytest.raises(JobError) as info:
        await pipeline.run(job(), timing)
    assert info.value.kind == "credits"
    assert "credits" in info.value.user_message.lower()
    assert timing.api_seconds is not None


async def test_an_image_over_the_members_limit_is_fitted(pipeline, onemin):
    big = make_image((1024, 1024), 1, fmt="PNG")
    onemin.script(Scripted.with_image(big))
    limit = len(big) // 3
    image = await pipeline.run(job(limit=limit), Timing())
    assert len(image.data) <= limit
    Image.open(io.BytesIO(image.data)).verify()


async def test_an_ignored_ratio_is_warned_about_once(pipeline, onemin, caplog):
    square = Image.new("RGB", (1024, 1024), "teal")
    onemin.script(Scripted.with_image(square), Scripted.with_image(square))
    with caplog.at_level(logging.WARNING, logger="bot.jobs.pipeline"):
        await pipeline.run(job("16:9"), Timing())
        await pipeline.run(job("16:9"), Timing())
    warnings = [r for r in caplog.records if "aspect_ratio" in r.getMessage()]
    assert len(warnings) == 1
