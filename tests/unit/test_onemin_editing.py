"""The 1min.ai client's editing calls (Asset API upload, IMAGE_EDITOR) against the local fake,
and the fake's own editing rules (the vendor's per-model editor pages)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageOps

from bot.images import download_image
from bot.models import EDIT, ModelProfile, profile
from bot.onemin import (
    OneMinAuthError,
    OneMinBadRequestError,
    OneMinBadResponseError,
    OneMinClient,
)
from tests.support.fake_onemin import FakeOneMin, Scripted, edit_transform, encode, make_image

SOURCE = make_image((320, 200), 7, fmt="PNG")


def client_for(session, fake: FakeOneMin, **overrides) -> OneMinClient:
    options: dict[str, Any] = {
        "base_url": fake.base_url,
        "api_key": fake.api_key,
        "model": "gemini-2.5-flash-image",
        "timeout": 5.0,
        "backoff_base": 0.01,
        "backoff_cap": 0.02,
    }
    options.update(overrides)
    return OneMinClient(session, **options)


@pytest.fixture
def client(session, onemin) -> OneMinClient:
    return client_for(session, onemin)


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


async def test_upload_sends_one_multipart_field_and_returns_the_stored_path(client, onemin):
    path = await client.upload_asset(SOURCE, "castle.png", "image/png")
    [upload] = onemin.uploads
    assert path == upload.path and path.endswith("_castle.png")
    assert (upload.filename, upload.content_type, upload.data) == (
        "castle.png",
        "image/png",
        SOURCE,
    )


async def test_edit_sends_the_documented_body_and_the_result_is_the_source_transformed(
    client, onemin, session
):
    image = await client.upload_asset(SOURCE, "a.png", "image/png")
    first = await client.upload_asset(
        encode(Image.new("RGB", (8, 8), "red"), "PNG"), "b.png", "image/png"
    )
    second = await client.upload_asset(
        encode(Image.new("RGB", (8, 8), "blue"), "JPEG"), "c.jpg", "image/jpeg"
    )

    edited = await client.edit("make it night", image, [first, second])

    [call] = onemin.requests
    assert call.json == {
        "type": "IMAGE_EDITOR",
        "model": "gemini-2.5-flash-image-preview",
        "promptObject": {
            "imageUrl": image,
            "prompt": "make it night",
            "referenceImage1": first,
            "referenceImage2": second,
        },
    }
    result = await download_image(session, edited.image_url, max_bytes=10**7, timeout=5)
    assert result.data == edit_transform(SOURCE)
    assert pixels(result.data).tobytes() == ImageOps.invert(pixels(SOURCE)).tobytes()


async def test_the_gemini_3_editors_get_the_configured_image_size(session, onemin):
    client = client_for(
        session, onemin, edit_model=profile("gemini-3-pro-image-preview", EDIT, image_size="2K")
    )
    path = await client.upload_asset(SOURCE, "a.png", "image/png")
    await client.edit("x", path)
    assert onemin.requests[-1].json["promptObject"] == {
        "imageUrl": path,
        "prompt": "x",
        "imageSize": "2K",
    }


@pytest.mark.parametrize(
    ("edit_model", "words"),
    [
        (
            profile("gemini-2.5-flash-image", EDIT),
            "Invalid model gemini-2.5-flash-image for AI feature IMAGE_EDITOR",
        ),
        (profile("gemini-3.1-flash-image-preview", EDIT, image_size="1K"), None),
        (
            # The 3.1 editor without its required imageSize.
            ModelProfile(EDIT, "gemini-3.1-flash-image-preview", True, None, (), None),
            "imageSize is required",
        ),
        (
            ModelProfile(EDIT, "gemini-2.5-flash-image-preview", True, None, (), "1K"),
            "Invalid field(s) imageSize",
        ),
    ],
    ids=["generation-only-model", "3.1-with-size", "3.1-without-size", "2.5-preview-with-size"],
)
async def test_the_fake_editor_takes_what_each_model_documents(session, onemin, edit_model, words):
    client = client_for(session, onemin, edit_model=edit_model)
    path = await client.upload_asset(SOURCE, "a.png", "image/png")
    if words is None:
        await client.edit("x", path)
        return
    with pytest.raises(OneMinBadRequestError) as info:
        await client.edit("x", path)
    assert words in info.value.detail


@pytest.mark.parametrize("where", ["imageUrl", "referenceImage1"])
async def test_the_fake_editor_takes_only_uploaded_paths(client, onemin, where):
    uploaded = await client.upload_asset(SOURCE, "a.png", "image/png")
    never = "images/2024_09_30_never_uploaded.png"
    with pytest.raises(OneMinBadRequestError) as info:
        if where == "imageUrl":
            await client.edit("x", never)
        else:
            await client.edit("x", uploaded, [never])
    assert f"{where} {never!r} is not an uploaded asset" in info.value.detail


async def test_forgotten_uploads_are_refused_like_never_uploaded_ones(client, onemin):
    path = await client.upload_asset(SOURCE, "a.png", "image/png")
    onemin.forget_uploads()
    with pytest.raises(OneMinBadRequestError):
        await client.edit("x", path)


@pytest.mark.parametrize("name", ["image", "notes.txt", "archive.tar.gz"])
async def test_a_file_name_without_an_image_extension_is_refused(client, onemin, name):
    with pytest.raises(OneMinBadRequestError) as info:
        await client.upload_asset(SOURCE, name, "image/png")
    assert "file type isn't supported" in info.value.detail
    # What the member reads is about their image, not about a prompt.
    assert "image to edit" in info.value.user_message
    assert onemin.uploads == []


async def test_upload_with_a_wrong_key_is_auth(session, onemin):
    client = client_for(session, onemin, api_key="wrong-key")
    with pytest.raises(OneMinAuthError):
        await client.upload_asset(SOURCE, "a.png", "image/png")


async def test_upload_retries_a_server_error_with_a_fresh_body(client, onemin):
    onemin.script_uploads(Scripted.error(503))
    path = await client.upload_asset(SOURCE, "a.png", "image/png")
    assert onemin.upload_calls == 2
    assert onemin.uploads[0].data == SOURCE and onemin.uploads[0].path == path


@pytest.mark.parametrize(
    "body",
    [{"asset": {"key": ""}}, {"fileContent": {}}, ["images/x.png"], {"message": "stored"}],
    ids=["empty-key", "no-path", "a-list", "words-only"],
)
async def test_an_upload_answer_without_a_path_is_bad_response(client, onemin, body):
    onemin.script_uploads(Scripted.json_answer(body))
    with pytest.raises(OneMinBadResponseError) as info:
        await client.upload_asset(SOURCE, "a.png", "image/png")
    assert "fileContent.path" in info.value.detail


async def test_asset_key_is_read_when_file_content_is_missing(client, onemin):
    onemin.script_uploads(Scripted.json_answer({"asset": {"key": "images/k.png"}}))
    assert await client.upload_asset(SOURCE, "a.png", "image/png") == "images/k.png"


def test_the_fake_transform_keeps_size_and_alpha():
    source = Image.new("RGBA", (5, 3), (10, 20, 30, 40))
    out = Image.open(io.BytesIO(edit_transform(encode(source, "PNG"))))
    assert (out.format, out.size, out.mode) == ("PNG", (5, 3), "RGBA")
    assert out.getpixel((0, 0)) == (245, 235, 225, 40)
