"""Image editing end to end: /edit, the Edit image button, the message command, Re-roll and
Remix of an edit, the refusals, and what members and moderators see.

The local 1min.ai answers every edit with its source's colours inverted (as PNG,
``edit_transform``), so a result's pixels prove which upload it was made from.
"""

from __future__ import annotations

import asyncio
import io
import signal
import sqlite3
import time

import pytest
from PIL import Image, ImageOps

from bot.messages import jump_url
from bot.storage import limits as limits_store
from tests.e2e.test_process import bot_env, spawn_bot
from tests.support.fake_onemin import edit_transform, encode, make_image

EDIT_MODEL = "gemini-2.5-flash-image-preview"


def has_image(message) -> bool:
    return bool(message.attachments)


def image_bytes(message) -> bytes:
    """The image a result carries (Discord shows it inside the embed)."""
    [attachment] = message.attachments
    data: bytes = attachment.data
    return data


def rgb(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def inverted(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return ImageOps.invert(image.convert("RGB")).tobytes()


def fields(message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}


def source(number: int = 1, fmt: str = "PNG", size=(320, 200)) -> bytes:
    return make_image(size, number, fmt=fmt)


async def edited(world, image_data: bytes = b"", filename: str = "castle.png", **kwargs):
    """Run /edit on an uploaded file; return (interaction, result message)."""
    attachment = world.discord.add_attachment(filename, image_data or source())
    interaction = await world.edit(attachment, **kwargs)
    return interaction, await interaction.wait_for_original(has_image, timeout=10)


async def not_charged(world, user) -> None:
    used = await limits_store.usage(world.bot.db, world.guild.id, user.id, now=time.time())
    assert used.user_count == 0


# -- /edit ---------------------------------------------------------------------------------


async def test_edit_uploads_the_png_byte_for_byte_and_posts_its_transform(world):
    data = source()
    interaction, result = await edited(world, data, prompt="make it night")

    [upload] = world.api.uploads
    assert upload.data == data
    assert upload.filename == "castle.png" and upload.content_type == "image/png"
    [call] = world.api.requests
    assert call.json == {
        "type": "IMAGE_EDITOR",
        "model": EDIT_MODEL,
        "promptObject": {"imageUrl": upload.path, "prompt": "make it night"},
    }
    assert image_bytes(result) == edit_transform(data)
    assert rgb(image_bytes(result)) == inverted(data)
    assert result.attachments[0].filename == "imagine-1.png"

    embed = result.embeds[0]
    assert embed["title"] == "🖌️ Edited image"
    assert fields(result)["Edit of"] == "an uploaded image"
    assert "Aspect ratio" not in fields(result)
    assert embed["footer"]["text"].startswith(EDIT_MODEL)
    assert not interaction.ephemeral

    row = await world.wait_for_row(1, "succeeded")
    assert (row["kind"], row["prompt"], row["aspect_ratio"]) == ("edit", "make it night", None)
    assert row["source_paths"] == f'["{upload.path}"]'
    used = await limits_store.usage(world.bot.db, world.guild.id, world.alice.id, now=time.time())
    assert used.user_count == 1, "an edit counts as one image"


async def test_edit_with_two_references_sends_their_paths_in_order(world):
    image, first, second = source(1), source(2, "JPEG"), source(3, "WEBP")
    fake = world.discord
    interaction = await world.edit(
        fake.add_attachment("room.png", image),
        prompt="put the cat from image 2 on the sofa",
        reference=fake.add_attachment("cat.jpg", first),
        reference2=fake.add_attachment("lamp.webp", second),
    )
    result = await interaction.wait_for_original(has_image, timeout=10)

    assert [u.data for u in world.api.uploads] == [image, first, second]
    assert [u.filename for u in world.api.uploads] == ["room.png", "cat.jpg", "lamp.webp"]
    paths = [u.path for u in world.api.uploads]
    assert world.api.requests[0].json["promptObject"] == {
        "imageUrl": paths[0],
        "prompt": "put the cat from image 2 on the sofa",
        "referenceImage1": paths[1],
        "referenceImage2": paths[2],
    }
    assert rgb(image_bytes(result)) == inverted(image)
    assert fields(result)["Edit of"] == "an uploaded image + 2 reference images"


@pytest.mark.parametrize(("fmt", "filename"), [("JPEG", "photo.jpg"), ("WEBP", "photo.webp")])
async def test_jpeg_and_webp_sources_are_edited_too(world, fmt, filename):
    data = source(4, fmt)
    _, result = await edited(world, data, filename=filename)
    [upload] = world.api.uploads
    assert upload.data == data and upload.filename == filename
    assert upload.content_type == f"image/{fmt.lower()}"
    assert rgb(image_bytes(result)) == inverted(data)


# -- the Edit image button ------------------------------------------------------------------


async def test_edit_image_on_a_result_edits_that_image_and_edits_chain(world):
    generated = await world.imagine(prompt="a castle")
    first = await generated.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(1, "succeeded")

    click = await world.discord.click_button(first, "imagine:editimage:1", world.bob)
    await click.wait_for_response()
    [row] = click.modal["components"]
    [field] = row["components"]
    assert (field["label"], field["custom_id"], field.get("value")) == (
        "What should change?",
        "prompt",
        None,
    )
    submit = await world.discord.submit_modal(click, values={"prompt": "make it night"})
    second = await submit.wait_for_original(has_image, timeout=10)

    # The result's own image went up, exactly as it was posted.
    assert world.api.uploads[0].data == image_bytes(first)
    assert world.api.uploads[0].filename == "imagine-1.webp"
    assert rgb(image_bytes(second)) == inverted(image_bytes(first))
    link = jump_url(world.guild.id, first.channel_id, first.id)
    assert fields(second)["Edit of"] == f"[this message]({link})"
    row = await world.wait_for_row(2, "succeeded")
    assert (row["user_id"], row["source_message_id"]) == (world.bob.id, first.id)

    # A second edit of the edit: inverting twice gives the castle back.
    click = await world.discord.click_button(second, "imagine:editimage:2", world.alice)
    await click.wait_for_response()
    submit = await world.discord.submit_modal(click, values={"prompt": "now make it day"})
    third = await submit.wait_for_original(has_image, timeout=10)
    assert world.api.uploads[1].data == image_bytes(second)
    assert rgb(image_bytes(third)) == rgb(image_bytes(first))
    assert str(second.id) in fields(third)["Edit of"]
    assert [c.json["promptObject"]["prompt"] for c in world.api.requests[1:]] == [
        "make it night",
        "now make it day",
    ]


async def test_an_edit_result_has_the_four_buttons_and_they_work_after_a_restart(world):
    data = source(11)
    _, result = await edited(world, data)
    await world.wait_for_row(1, "succeeded")
    assert [c["custom_id"] for c in result.iter_components() if c.get("type") == 2] == [
        "imagine:reroll:1",
        "imagine:editimage:1",
        "imagine:remix:1",
        "imagine:delete:1",
    ]
    await world.harness.restart()
    click = await world.discord.click_button(result, "imagine:editimage:1", world.alice)
    await click.wait_for_response()
    submit = await world.discord.submit_modal(click, values={"prompt": "undo that"})
    chained = await submit.wait_for_original(has_image, timeout=10)
    assert world.api.uploads[-1].data == image_bytes(result)
    assert rgb(image_bytes(chained)) == rgb(data)

    delete = await world.discord.click_button(result, "imagine:delete:1", world.alice)
    await delete.wait_for_response()
    await world.discord.wait_until(lambda: result.deleted or None, 5, "edit result deleted")


# -- the message command -------------------------------------------------------------------


async def test_the_message_command_edits_a_members_first_image(world):
    data = source(5)
    fake = world.discord
    posted = fake.post_user_message(
        world.channel,
        world.bob,
        "my cat",
        files=[("notes.txt", b"not an image"), ("cat.png", data), ("dog.png", source(6))],
    )
    command = await fake.invoke_message_command(world.alice, "Edit image", posted)
    await command.wait_for_response()
    assert command.modal is not None
    submit = await fake.submit_modal(command, values={"prompt": "give it a hat"})
    result = await submit.wait_for_original(has_image, timeout=10)

    [upload] = world.api.uploads
    assert upload.data == data and upload.filename == "cat.png"
    assert rgb(image_bytes(result)) == inverted(data)
    link = jump_url(world.guild.id, world.channel.id, posted.id)
    assert fields(result)["Edit of"] == f"[this message]({link})"
    row = await world.wait_for_row(1, "succeeded")
    assert (row["user_id"], row["source_channel_id"], row["source_message_id"]) == (
        world.alice.id,
        world.channel.id,
        posted.id,
    )


async def test_the_message_command_on_a_message_without_an_image_is_refused(world):
    fake = world.discord
    posted = fake.post_user_message(
        world.channel, world.bob, "only words", files=[("notes.txt", b"hello")]
    )
    command = await fake.invoke_message_command(world.alice, "Edit image", posted)
    answer = await command.wait_for_original()
    assert command.ephemeral and command.modal is None
    assert "no image to edit" in answer.content and "/edit" in answer.content
    assert world.api.requests == [] and world.api.uploads == []


async def test_the_message_command_refuses_a_gif_before_asking_anything(world):
    gif = encode(Image.new("RGB", (20, 20), "red"), "GIF")
    posted = world.discord.post_user_message(
        world.channel, world.bob, "party", files=[("party.gif", gif)]
    )
    command = await world.discord.invoke_message_command(world.alice, "Edit image", posted)
    answer = await command.wait_for_original()
    assert command.ephemeral and command.modal is None
    assert "PNG, JPEG or WebP" in answer.content


# -- Re-roll and Remix of an edit ----------------------------------------------------------


async def test_reroll_and_remix_of_an_edit_reuse_its_upload_after_a_restart(world):
    data = source(7)
    attachment = world.discord.add_attachment("castle.png", data)
    interaction = await world.edit(attachment, prompt="make it night")
    result = await interaction.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(1, "succeeded")
    [upload] = world.api.uploads

    # The member's file is gone and the bot restarts: the stored path is enough.
    del world.discord.attachments[attachment.id]
    await world.harness.restart()

    reroll = await world.discord.click_button(result, "imagine:reroll:1", world.bob)
    again = await reroll.wait_for_original(has_image, timeout=10)
    assert again.id != result.id
    assert image_bytes(again) == image_bytes(result)
    assert world.api.requests[-1].json["promptObject"] == {
        "imageUrl": upload.path,
        "prompt": "make it night",
    }
    row = await world.wait_for_row(2, "succeeded")
    assert (row["kind"], row["user_id"]) == ("edit", world.bob.id)

    remix = await world.discord.click_button(result, "imagine:remix:1", world.alice)
    await remix.wait_for_response()
    inputs = [c for row in remix.modal["components"] for c in row.get("components", [])]
    assert [(c["custom_id"], c.get("value")) for c in inputs] == [("prompt", "make it night")]
    submit = await world.discord.submit_modal(remix, values={"prompt": "make it dusk"})
    remixed = await submit.wait_for_original(has_image, timeout=10)
    assert world.api.requests[-1].json["promptObject"] == {
        "imageUrl": upload.path,
        "prompt": "make it dusk",
    }
    assert rgb(image_bytes(remixed)) == inverted(data)
    assert world.api.uploads == [upload], "nothing was uploaded again"


async def test_a_stored_path_the_api_no_longer_has_asks_for_a_new_upload(world):
    _, result = await edited(world)
    await world.wait_for_row(1, "succeeded")
    world.api.forget_uploads()
    reroll = await world.discord.click_button(result, "imagine:reroll:1", world.alice)
    failed = await reroll.wait_for_original(lambda m: bool(m.embeds), timeout=10)
    assert "Upload it again" in failed.embeds[0]["description"]
    assert failed.content.startswith("Couldn't edit")
    row = await world.wait_for_row(2, "failed")
    assert row["error_kind"] == "source_expired"


# -- refusals and failures -----------------------------------------------------------------


async def test_a_text_file_is_refused_saying_what_is_accepted(world):
    notes = world.discord.add_attachment("notes.txt", b"make it night")
    interaction = await world.edit(notes)
    answer = await interaction.wait_for_original()
    assert interaction.ephemeral
    assert "notes.txt" in answer.content and "PNG, JPEG or WebP" in answer.content
    assert world.api.requests == [] and world.api.uploads == []
    rows = await world.bot.db.fetchall("SELECT status, kind, error_kind FROM requests")
    assert [tuple(r) for r in rows] == [("refused", "edit", "bad_source")]
    await not_charged(world, world.alice)


async def test_an_oversized_image_is_refused_by_its_size(world):
    await world.harness.restart(MAX_SOURCE_IMAGE_BYTES="4096")
    big = source(8)
    assert len(big) > 4096
    interaction = await world.edit(world.discord.add_attachment("big.png", big))
    answer = await interaction.wait_for_original()
    assert interaction.ephemeral
    assert "at most 4 KB" in answer.content and "PNG, JPEG or WebP" in answer.content
    assert world.api.requests == [] and world.api.uploads == []
    await not_charged(world, world.alice)


async def test_a_source_url_that_404s_fails_clearly_and_is_not_charged(world):
    gone = world.discord.add_attachment("gone.png", source(9))
    del world.discord.attachments[gone.id]
    interaction = await world.edit(gone)
    failed = await interaction.wait_for_original(lambda m: bool(m.embeds), timeout=10)
    assert not interaction.ephemeral
    assert "could not be downloaded" in failed.embeds[0]["description"]
    assert "not counted" in failed.embeds[0]["footer"]["text"]
    row = await world.wait_for_row(1, "failed")
    assert row["error_kind"] == "source_unavailable"
    assert world.api.requests == [] and world.api.uploads == []
    await not_charged(world, world.alice)


async def test_blocked_words_stop_an_edit(world):
    block = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "moderation blocked add", {"word": "gore"}
    )
    await block.wait_for_original()
    interaction = await world.edit(
        world.discord.add_attachment("a.png", source()), prompt="add some GORE"
    )
    answer = await interaction.wait_for_original()
    assert interaction.ephemeral and "blocked" in answer.content
    assert world.api.requests == [] and world.api.uploads == []
    rows = await world.bot.db.fetchall("SELECT status, kind, error_kind FROM requests")
    assert [tuple(r) for r in rows] == [("refused", "edit", "blocked")]


async def test_an_edit_waits_for_the_cooldown_like_a_generation(world):
    await world.harness.restart(DEFAULT_COOLDOWN_SECONDS="600")
    ok = await world.imagine(prompt="a castle")
    await ok.wait_for_original(has_image, timeout=10)
    interaction = await world.edit(world.discord.add_attachment("a.png", source()))
    answer = await interaction.wait_for_original()
    assert interaction.ephemeral and "<t:" in answer.content
    assert world.api.uploads == []


# -- what members and moderators see -------------------------------------------------------


async def test_audit_history_and_stats_show_edits_as_edits(world):
    fake = world.discord
    audit = fake.add_channel(world.guild, name="audit")
    setting = await fake.invoke_command(
        world.guild, world.channel, world.mod, "moderation audit-channel set", {"channel": audit}
    )
    await setting.wait_for_original()
    posted = fake.post_user_message(world.channel, world.bob, "x", files=[("a.png", source())])
    command = await fake.invoke_message_command(world.alice, "Edit image", posted)
    await command.wait_for_response()
    submit = await fake.submit_modal(command, values={"prompt": "make it night"})
    result = await submit.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(1, "succeeded")

    post = await fake.wait_until(lambda: fake.channel_messages(audit), 5, "an audit post")
    entry = post[0].embeds[0]
    assert entry["title"] == "Image edited"
    audit_fields = {f["name"]: f["value"] for f in entry["fields"]}
    assert str(result.id) in audit_fields["Result"]
    assert jump_url(world.guild.id, world.channel.id, posted.id) in audit_fields["Edit of"]

    history = await fake.invoke_command(world.guild, world.channel, world.alice, "history")
    shown = await history.wait_for_original()
    [job] = shown.embeds[0]["fields"]
    assert job["name"] == "✅ job #1 · succeeded · 🖌️ edit"

    stats = await fake.invoke_command(world.guild, world.channel, world.mod, "stats")
    figures = await stats.wait_for_original(has_image, timeout=10)
    assert "1 images\n1 members\n0 failures\n1 of them edit\n" in fields(figures)["Last 24 hours"]


# -- across a restart of the process ----------------------------------------------------------


async def test_an_edit_queued_at_sigterm_is_delivered_after_the_restart(
    discord_server, onemin, tmp_path
):
    guild = discord_server.add_guild(name="Proc")
    painter, editor = (discord_server.add_member(guild, name) for name in ("painter", "editor"))
    env = bot_env(
        discord_server, onemin, tmp_path, MAX_CONCURRENT_JOBS="1", SHUTDOWN_GRACE_SECONDS="5"
    )
    data = source(10)
    process = await spawn_bot(env, tmp_path, tmp_path / "bot.log")
    try:
        await discord_server.wait_for_ready(15)
        await discord_server.wait_until(lambda: discord_server.commands or None, 10, "commands")
        onemin.latency = 0.5
        # A generation takes the only API slot; the edit waits behind it.
        busy = await discord_server.invoke_command(
            guild, guild.text_channel, painter, "imagine", {"prompt": "a castle"}
        )
        await busy.wait_for_response()
        edit = await discord_server.invoke_command(
            guild,
            guild.text_channel,
            editor,
            "edit",
            {"image": discord_server.add_attachment("cat.png", data), "prompt": "make it night"},
        )
        await edit.wait_for_response()
        assert not edit.ephemeral
        await discord_server.wait_until(lambda: onemin.requests or None, 5, "first API call")
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, (tmp_path / "bot.log").read_text()
    rows = (
        sqlite3.connect(tmp_path / "data" / "bot.sqlite3")
        .execute("SELECT kind, status, source_paths FROM requests ORDER BY id")
        .fetchall()
    )
    assert rows == [("generate", "succeeded", None), ("edit", "queued", None)]
    assert onemin.uploads == []

    onemin.latency = 0.0
    again = await spawn_bot(env, tmp_path, tmp_path / "again.log")
    try:
        result = await edit.wait_for_original(has_image, timeout=20)
        [upload] = onemin.uploads
        assert upload.data == data
        assert rgb(image_bytes(result)) == inverted(data)
    finally:
        again.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(again.wait(), 20) == 0
