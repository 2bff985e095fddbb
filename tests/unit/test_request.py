"""Requests and the checks an edit's images pass before anything is queued."""

from __future__ import annotations

import pytest

from bot.jobs.request import EditSources, JobRequest, SourceImage, refusal
from bot.storage.jobs import Kind
from tests.support.jobs import make_job

MB = 1024 * 1024


def sources(*images: SourceImage, paths=None) -> EditSources:
    return EditSources(images=images, paths=paths)


@pytest.mark.parametrize(
    "image",
    [
        SourceImage("https://cdn/a.png", "a.png", "image/png", 10),
        SourceImage("https://cdn/a", "photo", "image/jpeg; charset=binary", 10),
        SourceImage("https://cdn/a.webp", "a.webp", None, None),  # by its name
        SourceImage("https://cdn/x/imagine-3.webp"),  # a result's embed image: by the URL
        SourceImage("https://cdn/a.png", "a.png", "IMAGE/PNG", 20 * MB),  # exactly the cap
    ],
)
def test_png_jpeg_and_webp_up_to_the_cap_are_accepted(image):
    assert refusal(sources(image), max_bytes=20 * MB) is None


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (
            SourceImage("https://cdn/n.txt", "notes.txt", "text/plain; charset=utf-8", 5),
            "text/plain",
        ),
        (SourceImage("https://cdn/a.gif", "a.gif", "image/gif", 5), "image/gif"),
        (SourceImage("https://cdn/blob", "blob", None, 5), "not an image"),
        (SourceImage("https://cdn/a.png", "big.png", "image/png", 20 * MB + 1), "20.0 MB"),
    ],
    ids=["text", "gif", "unknown", "too-big"],
)
def test_anything_else_is_refused_saying_what_is_accepted(image, words):
    text = refusal(sources(image), max_bytes=20 * MB)
    assert text is not None
    assert words in text and "PNG, JPEG or WebP" in text
    assert image.name in text


def test_a_bad_reference_is_refused_too():
    good = SourceImage("https://cdn/a.png", "a.png", "image/png", 1)
    bad = SourceImage("https://cdn/b.bmp", "b.bmp", "image/bmp", 1)
    assert "b.bmp" in (refusal(sources(good, bad), max_bytes=MB) or "")


def test_images_already_uploaded_are_not_checked_again():
    stored = SourceImage("https://cdn/expired-url")
    assert refusal(sources(stored, paths=("images/a.png",)), max_bytes=MB) is None


def test_an_edit_takes_one_to_three_images():
    image = SourceImage("https://cdn/a.png")
    with pytest.raises(ValueError):
        EditSources(images=())
    with pytest.raises(ValueError):
        EditSources(images=(image,) * 4)


def test_again_keeps_a_generations_ratio_or_takes_the_remixed_one():
    job = make_job(prompt="a fox", aspect_ratio="3:2")
    assert JobRequest.again(job) == JobRequest("a fox", "3:2")
    assert JobRequest.again(job, prompt="a wolf", aspect_ratio=None) == JobRequest("a wolf")


def test_again_keeps_an_edits_images_paths_and_source_message():
    job = make_job(
        prompt="make it night",
        kind=Kind.EDIT,
        source_channel_id=5,
        source_message_id=6,
        source_urls=("https://cdn/a.png", "https://cdn/b.png"),
        source_paths=("images/a.png", "images/b.png"),
    )
    again = JobRequest.again(job, prompt="make it day")
    assert again.kind is Kind.EDIT and again.prompt == "make it day"
    assert again.edit == EditSources(
        images=(SourceImage("https://cdn/a.png"), SourceImage("https://cdn/b.png")),
        paths=("images/a.png", "images/b.png"),
        channel_id=5,
        message_id=6,
    )
    assert JobRequest.again(job).prompt == "make it night"
