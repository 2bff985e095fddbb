"""An edit's sources in the job: fetched, checked by their bytes, shrunk when huge, uploaded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.jobs.uploads import MAX_SIDE, SourceError, SourceUploader, upload_name
from bot.onemin import OneMinClient
from tests.support.fake_onemin import MODEL, encode, make_image


@pytest.fixture
def uploader(onemin, session) -> SourceUploader:
    api = OneMinClient(
        session, base_url=onemin.base_url, api_key=onemin.api_key, model=MODEL, timeout=10
    )
    return SourceUploader(api=api, session=session, max_bytes=200_000, timeout=5)


@pytest.mark.parametrize(
    ("url", "extension", "name"),
    [
        ("https://cdn.discordapp.com/attachments/1/2/castle.png?ex=1&hm=2", "png", "castle.png"),
        ("https://cdn/x/My%20Photo%20(1).JPG", "jpg", "My_Photo_1.jpg"),
        ("https://cdn/x/cat.png", "webp", "cat.webp"),  # the bytes decide the extension
        ("https://cdn/", "png", "image.png"),
        ("https://cdn/x/" + "a" * 100 + ".png", "png", "a" * 60 + ".png"),
    ],
)
def test_upload_names_keep_the_stem_and_take_the_real_extension(url, extension, name):
    assert upload_name(url, extension) == name


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
async def test_a_source_is_uploaded_byte_for_byte(uploader, onemin, fmt):
    data = make_image((200, 120), 1, fmt=fmt)
    [path] = await uploader.upload([onemin.add_asset(data)])
    [upload] = onemin.uploads
    assert upload.data == data and upload.path == path
    extension = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[fmt]
    assert upload.filename.endswith(f".{extension}")
    assert upload.content_type == f"image/{fmt.lower()}"


async def test_a_source_over_2048_pixels_is_shrunk_to_2048_in_its_own_format(session, onemin):
    api = OneMinClient(
        session, base_url=onemin.base_url, api_key=onemin.api_key, model=MODEL, timeout=10
    )
    uploader = SourceUploader(api=api, session=session, max_bytes=10**8, timeout=10)
    big = encode(Image.new("RGB", (3000, 1500), "teal"), "PNG")
    await uploader.upload([onemin.add_asset(big)])
    [upload] = onemin.uploads
    with Image.open(io.BytesIO(upload.data)) as image:
        assert (image.format, image.size) == ("PNG", (MAX_SIDE, 1024))
        assert image.getpixel((10, 10)) == (0, 128, 128)


async def test_a_gif_is_refused_by_its_bytes(uploader, onemin):
    gif = encode(Image.new("RGB", (10, 10), "red"), "GIF")
    with pytest.raises(SourceError) as info:
        await uploader.upload([onemin.add_asset(gif)])
    assert info.value.kind == "source_invalid"
    assert "PNG, JPEG or WebP" in info.value.user_message
    assert onemin.uploads == []


@pytest.mark.parametrize(
    ("serve", "kind", "words"),
    [
        ({"status": 404}, "source_unavailable", "could not be downloaded"),
        ({"data": b"not an image at all"}, "source_invalid", "not a valid"),
        ({"size": 300_000}, "source_invalid", "larger than"),
    ],
    ids=["404", "not-an-image", "over-the-cap"],
)
async def test_a_source_that_cannot_be_used_is_a_clear_error(uploader, onemin, serve, kind, words):
    with pytest.raises(SourceError) as info:
        await uploader.upload([onemin.add_asset(**serve)])
    assert info.value.kind == kind
    assert words in info.value.user_message
    assert onemin.uploads == []


async def test_a_broken_reference_is_named_as_the_reference(uploader, onemin):
    good = onemin.add_asset(make_image((64, 64), 1, fmt="PNG"))
    with pytest.raises(SourceError) as info:
        await uploader.upload([good, onemin.add_asset(status=404)])
    assert info.value.user_message.startswith("Reference image 1")
