"""Image delivery end to end: fitting Discord's upload limit, bad downloads, odd failures."""

from __future__ import annotations

import io
import logging
import random

from PIL import Image

from tests.support.fake_onemin import Scripted


def has_image(message) -> bool:
    return bool(message.attachments)


def noisy_png(width=1024, height=1024) -> bytes:
    rng = random.Random(1)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def test_an_image_over_the_upload_limit_is_re_encoded_to_fit(world):
    big = noisy_png()
    limit = 400_000
    assert len(big) > limit
    world.api.script(Scripted.with_image(big))
    interaction = await world.discord.invoke_command(
        world.guild,
        world.channel,
        world.alice,
        "imagine",
        {"prompt": "static"},
        attachment_size_limit=limit,
    )
    message = await interaction.wait_for_original(has_image, timeout=20)
    [attachment] = message.attachments
    assert attachment.size <= limit
    decoded = Image.open(io.BytesIO(attachment.data))
    decoded.load()
    assert decoded.format is not None
    assert attachment.filename.endswith("." + decoded.format.lower().replace("jpeg", "jpg"))
    row = await world.wait_for_row(1, "succeeded")
    assert row["result_bytes"] == attachment.size


async def test_non_image_bytes_fail_clearly_and_are_not_charged(world):
    world.api.script(Scripted.with_image(b"<html>not an image</html>"))
    interaction = await world.imagine(prompt="broken")
    message = await interaction.wait_for_original(lambda m: bool(m.embeds), timeout=10)
    assert not message.attachments
    assert "image" in message.embeds[0]["description"].lower()
    row = await world.wait_for_row(1, "failed")
    assert row["error_kind"] == "not_an_image"


async def test_refused_prompt_and_out_of_credits_explain_what_to_do(world):
    world.api.script(Scripted.record_status("FAILED"), Scripted.out_of_credits())
    refused = await world.imagine(prompt="something odd")
    text = (await refused.wait_for_original(lambda m: bool(m.embeds), timeout=10)).embeds[0]
    assert "reword" in text["description"].lower()
    credits = await world.imagine(world.bob, prompt="anything")
    text = (await credits.wait_for_original(lambda m: bool(m.embeds), timeout=10)).embeds[0]
    assert "credits" in text["description"].lower()
    kinds = [r["error_kind"] for r in await world.bot.db.fetchall("SELECT * FROM requests")]
    assert kinds == ["refused", "credits"]


async def test_an_unexpected_error_is_answered_with_a_reference(world, caplog, monkeypatch):
    async def broken(guild_id):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(world.bot.word_filters, "get", broken)
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        interaction = await world.imagine(prompt="anything")
        message = await interaction.wait_for_original()
    assert interaction.ephemeral
    assert "Something went wrong" in message.content
    reference = message.content.split("ref `")[1].split("`")[0]
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)
    assert "database on fire" not in message.content


async def test_an_ignored_aspect_ratio_is_logged_once_naming_the_field(world, caplog):
    square = Image.new("RGB", (1024, 1024), "teal")
    world.api.script(Scripted.with_image(square), Scripted.with_image(square))
    with caplog.at_level(logging.WARNING, logger="bot.jobs.pipeline"):
        for n in range(2):
            interaction = await world.imagine(prompt=f"wide {n}", aspect_ratio="16:9")
            await interaction.wait_for_original(has_image, timeout=10)
    warnings = [r.getMessage() for r in caplog.records if "aspect ratio" in r.getMessage()]
    assert len(warnings) == 1
    assert "promptObject.aspect_ratio" in warnings[0]
    assert "1024x1024" in warnings[0]
