"""A job's pipeline: API call (an edit's uploads first), download, ratio check, fit to the
member's upload limit."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from PIL import Image

from bot.jobs.errors import JobError
from bot.jobs.pipeline import Pipeline, Timing
from bot.onemin import OneMinClient
from bot.storage.jobs import Job, Kind, Status
from tests.support.fake_onemin import MODEL, Scripted, edit_transform, make_image
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


# -- edits ------------------------------------------------------------------------------


def edit_job(**changes) -> Job:
    return make_job(prompt="make it night", kind=Kind.EDIT, status=Status.RUNNING, **changes)


@pytest.fixture
def stored_paths() -> list[tuple[int, tuple[str, ...]]]:
    return []


@pytest.fixture
def edit_pipeline(onemin, session, stored_paths) -> Pipeline:
    api = OneMinClient(
        session, base_url=onemin.base_url, api_key=onemin.api_key, model=MODEL, timeout=10
    )

    async def remember(job_id: int, paths: tuple[str, ...]) -> None:
        stored_paths.append((job_id, paths))

    return Pipeline(
        api=api,
        session=session,
        max_image_bytes=10**8,
        download_timeout=5,
        max_source_bytes=10**7,
        paths_uploaded=remember,
    )


async def test_an_edit_uploads_its_sources_stores_their_paths_and_edits_them(
    edit_pipeline, onemin, stored_paths
):
    source = make_image((300, 200), 1, fmt="PNG")
    reference = make_image((64, 64), 2, fmt="JPEG")
    urls = (onemin.add_asset(source), onemin.add_asset(reference))
    timing = Timing()
    image = await edit_pipeline.run(edit_job(id=7, source_urls=urls), timing)
    assert [u.data for u in onemin.uploads] == [source, reference]
    paths = tuple(u.path for u in onemin.uploads)
    assert stored_paths == [(7, paths)]
    assert onemin.requests[0].json["promptObject"] == {
        "imageUrl": paths[0],
        "prompt": "make it night",
        "referenceImage1": paths[1],
    }
    assert image.data == edit_transform(source)
    assert timing.upload_seconds is not None and timing.api_seconds is not None


async def test_an_edit_with_known_paths_uploads_nothing(edit_pipeline, onemin, stored_paths):
    source = make_image((64, 64), 1, fmt="PNG")
    first = await edit_pipeline.run(edit_job(source_urls=(onemin.add_asset(source),)), Timing())
    [(_, paths)] = stored_paths
    again = await edit_pipeline.run(
        edit_job(source_urls=("https://gone.invalid/x.png",), source_paths=paths), Timing()
    )
    assert again.data == first.data
    assert len(onemin.uploads) == 1 and len(stored_paths) == 1


async def test_known_paths_the_api_no_longer_takes_ask_for_a_new_upload(edit_pipeline, onemin):
    onemin.forget_uploads()
    with pytest.raises(JobError) as info:
        await edit_pipeline.run(
            edit_job(source_urls=("https://x/y.png",), source_paths=("images/old.png",)), Timing()
        )
    assert info.value.kind == "source_expired"
    assert "Upload it again" in info.value.user_message


async def test_a_fresh_upload_the_api_refuses_stays_a_bad_request(edit_pipeline, onemin):
    onemin.editors.clear()  # the edit model is no longer served: a 400, not an expired path
    url = onemin.add_asset(make_image((64, 64), 1, fmt="PNG"))
    with pytest.raises(JobError) as info:
        await edit_pipeline.run(edit_job(source_urls=(url,)), Timing())
    assert info.value.kind == "bad_request"


async def test_the_edit_call_does_not_wait_for_its_paths_to_be_stored(onemin, session):
    api = OneMinClient(
        session, base_url=onemin.base_url, api_key=onemin.api_key, model=MODEL, timeout=10
    )
    gate = asyncio.Event()
    stored: list[tuple[str, ...]] = []

    async def slow_store(job_id: int, paths: tuple[str, ...]) -> None:
        await gate.wait()
        stored.append(paths)

    pipeline = Pipeline(
        api=api,
        session=session,
        max_image_bytes=10**8,
        download_timeout=5,
        paths_uploaded=slow_store,
    )
    url = onemin.add_asset(make_image((64, 64), 1, fmt="PNG"))
    call = asyncio.create_task(pipeline.call(edit_job(source_urls=(url,)), Timing()))

    async def sent() -> None:
        while not onemin.requests:
            await asyncio.sleep(0.01)

    # The edit call goes out while the paths are still being stored.
    await asyncio.wait_for(sent(), 5)
    await asyncio.sleep(0.05)
    assert not call.done(), "the call's answer waits for the paths to be stored"
    gate.set()
    await call
    assert stored == [(onemin.uploads[0].path,)]
