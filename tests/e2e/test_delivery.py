"""Image delivery end to end: fitting Discord's upload limit, bad downloads, odd failures."""

from __future__ import annotations

import asyncio
import io
import logging
import random

import aiosqlite
import pytest
from PIL import Image

from bot.storage import jobs as job_store
from tests.support.fake_discord import FakeInteraction
from tests.support.fake_discord.permissions import NITRO_ATTACHMENT_LIMIT
from tests.support.fake_onemin import Scripted
from tests.support.harness import World


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


MIB = 1024 * 1024


async def _nitro_job_whose_token_dies(world: World, image: bytes) -> FakeInteraction:
    """A member with Nitro (500 MiB uploads) asks; the token dies before the result."""
    world.api.script(Scripted.with_image(image))
    world.api.latency = 0.3
    interaction = await world.discord.invoke_command(
        world.guild,
        world.channel,
        world.alice,
        "imagine",
        {"prompt": "huge"},
        attachment_size_limit=NITRO_ATTACHMENT_LIMIT,
    )
    await interaction.wait_for_response()
    world.discord.expire_interaction(interaction)
    return interaction


async def test_a_14_mb_result_for_nitro_with_a_dead_token_is_fitted_to_the_channel(world):
    big = noisy_png(2200, 2200)
    assert len(big) > 14_000_000
    await _nitro_job_whose_token_dies(world, big)
    row = await world.wait_for_row(1, "succeeded", timeout=30)
    message = world.discord.messages[row["result_message_id"]]
    assert message.interaction is None  # in the channel
    [attachment] = message.attachments
    # The server has no boosts: 10 MiB, whatever the member's own limit was.
    assert attachment.size <= 10 * MIB
    assert row["result_bytes"] == attachment.size
    shown = message.embeds[0]
    assert shown["image"]["url"].endswith(attachment.filename)
    Image.open(io.BytesIO(attachment.data)).load()


async def test_an_upload_discord_refuses_is_its_own_error_with_a_clear_detail(world):
    # discord.py believes the server is boosted (50 MiB); Discord no longer takes it.
    world.discord.set_premium_tier(world.guild, 2)
    await world.discord.wait_until(
        lambda: world.bot.get_guild(world.guild.id).filesize_limit == 50 * MIB
    )
    world.guild.premium_tier = 0
    big = noisy_png(2200, 2200)
    await _nitro_job_whose_token_dies(world, big)
    row = await world.wait_for_row(1, "failed", timeout=30)
    assert row["error_kind"] == "upload_too_large"
    assert "413" in row["error_detail"] and str(len(big)) in row["error_detail"]
    [note] = await world.discord.wait_until(
        lambda: [m for m in world.discord.channel_messages(world.channel) if m.interaction is None],
        5,
        "the error in the channel",
    )
    assert "larger than Discord accepts" in note.embeds[0]["description"]


@pytest.mark.parametrize("in_channel", [True, False], ids=["channel-post", "edit"])
async def test_a_kill_between_the_upload_and_the_database_yields_one_message(
    world, monkeypatch, in_channel
):
    """Delivered, then killed before the result was stored: after the restart the job
    runs again; its channel post returns the first message (enforce_nonce), or its
    edit of the response replaces the image in the same message."""
    await world.harness.restart(SHUTDOWN_GRACE_SECONDS="0.2")
    world.api.latency = 0.3
    interaction = await world.imagine(prompt="posted twice?")
    await interaction.wait_for_response()
    if in_channel:
        world.discord.expire_interaction(interaction)
    posted = asyncio.Event()

    async def killed_before_storing(*args, **kwargs):
        posted.set()
        await asyncio.Event().wait()  # the process dies here

    monkeypatch.setattr(job_store, "mark_succeeded", killed_before_storing)
    await asyncio.wait_for(posted.wait(), 10)
    first = [m for m in world.discord.channel_messages(world.channel) if m.attachments]
    assert len(first) == 1
    await world.harness.stop()
    # A kill leaves the row running (a clean stop would have put it back to queued).
    async with aiosqlite.connect(world.harness.db_path) as conn:
        await conn.execute("UPDATE requests SET status = 'running' WHERE id = 1")
        await conn.commit()
    monkeypatch.undo()

    await world.harness.start()
    row = await world.wait_for_row(1, "succeeded", timeout=15)
    results = [m for m in world.discord.channel_messages(world.channel) if m.attachments]
    assert results == first, "one message for the job"
    assert row["result_message_id"] == first[0].id
    assert len(world.api.requests) == 2  # it did run again
    if in_channel:
        posts = [
            r
            for r in world.discord.requests
            if r.route == "POST /channels/{channel_id}/messages" and r.files
        ]
        assert len(posts) == 2 and posts[0].json["nonce"] == posts[1].json["nonce"]
    else:
        assert first[0] is interaction.original_message
