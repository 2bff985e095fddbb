"""The fake Discord's files from members and message commands, driven by the real discord.py:
attachment options (``resolved.attachments``), files on members' messages, MESSAGE commands
(``target_id``, ``resolved.messages``) and the registration rules for both."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fake.test_fake_discord import TOKEN, Recorder, make_bot, make_png, running
from tests.support.fake_discord import FakeDiscord, FakeGuild, FakeUser


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(token=TOKEN)
    await server.start()
    try:
        with server.patch_discord_py():
            yield server
        server.assert_no_protocol_errors()
    finally:
        await server.close()


@pytest.fixture
def world(fake: FakeDiscord) -> tuple[FakeGuild, FakeUser]:
    guild = fake.add_guild(name="Files")
    return guild, fake.add_member(guild, username="alice")


def files_bot(rec: Recorder) -> discord.ext.commands.AutoShardedBot:
    """A bot with ``/upload file [other]`` and a message command "Inspect"."""
    bot = make_bot()

    @bot.tree.command(name="upload", description="Take a file")
    @app_commands.describe(file="The file", other="Another file")
    async def upload(
        interaction: discord.Interaction,
        file: discord.Attachment,
        other: discord.Attachment | None = None,
    ) -> None:
        rec.put("upload", (file, other, await file.read()))
        await interaction.response.send_message("ok", ephemeral=True)

    @bot.tree.context_menu(name="Inspect")
    async def inspect(interaction: discord.Interaction, message: discord.Message) -> None:
        data = [await a.read() for a in message.attachments]
        rec.put("inspect", (message, data))
        await interaction.response.send_message("seen", ephemeral=True)

    return bot


@contextlib.asynccontextmanager
async def synced(bot: Any, fake: FakeDiscord) -> AsyncIterator[None]:
    async with running(bot, fake):
        await bot.tree.sync()
        yield


async def test_attachment_options_arrive_resolved_and_downloadable(
    fake: FakeDiscord, world: Any
) -> None:
    guild, user = world
    png = make_png(7, 5)
    rec = Recorder()
    async with synced(files_bot(rec), fake):
        options = {o["name"]: o for o in fake.get_command("upload")["options"]}
        assert options["file"]["type"] == 11 and options["file"]["required"] is True
        attachment = fake.add_attachment("shot.png", png)
        it = await fake.invoke_command(
            guild, guild.text_channel, user, "upload", {"file": attachment}
        )
        file, other, data = await rec.get("upload")
        assert other is None
        assert (file.id, file.filename, file.size, file.content_type) == (
            attachment.id,
            "shot.png",
            len(png),
            "image/png",
        )
        assert (file.width, file.height, file.ephemeral) == (7, 5, True)
        assert data == png, "discord.py downloaded it from the fake's CDN"
        [option] = it.data["options"]
        assert option == {"name": "file", "type": 11, "value": str(attachment.id)}
        resolved = it.data["resolved"]["attachments"][str(attachment.id)]
        assert {"id", "filename", "size", "url", "proxy_url", "content_type"} <= set(resolved)

        with pytest.raises(TypeError, match="ATTACHMENT option"):
            await fake.invoke_command(guild, guild.text_channel, user, "upload", {"file": "x"})
        with pytest.raises(ValueError, match="requires option 'file'"):
            await fake.invoke_command(guild, guild.text_channel, user, "upload", {})


async def test_a_removed_attachment_answers_404_at_its_url(fake: FakeDiscord) -> None:
    attachment = fake.add_attachment("gone.png", make_png())
    async with aiohttp.ClientSession() as session:
        async with session.get(attachment.url) as resp:
            assert resp.status == 200 and resp.content_type == "image/png"
        del fake.attachments[attachment.id]
        async with session.get(attachment.url) as resp:
            assert resp.status == 404


async def test_message_commands_carry_the_whole_target_message(
    fake: FakeDiscord, world: Any
) -> None:
    guild, user = world
    png = make_png(3, 3)
    rec = Recorder()
    async with synced(files_bot(rec), fake):
        command = fake.get_command("Inspect", kind=3)
        assert command["description"] == "" and "options" not in command
        with pytest.raises(LookupError):
            fake.get_command("Inspect")  # not a slash command
        author = fake.add_member(guild, username="bob")
        posted = fake.post_user_message(
            guild.text_channel, author, "look", files=[("a.png", png), ("b.txt", b"hi")]
        )
        it = await fake.invoke_message_command(user, "Inspect", posted)
        message, data = await rec.get("inspect")
        assert message.id == posted.id and message.author.id == author.id
        assert message.content == "look", "the target's content comes despite no MESSAGE_CONTENT"
        assert [a.filename for a in message.attachments] == ["a.png", "b.txt"]
        assert [a.ephemeral for a in message.attachments] == [False, False]
        assert data == [png, b"hi"]
        assert it.data["type"] == 3 and it.data["target_id"] == str(posted.id)
        assert list(it.data["resolved"]["messages"]) == [str(posted.id)]
        await it.wait_for_original()
        assert it.ephemeral

        fake._delete_message(posted)
        with pytest.raises(LookupError, match="deleted"):
            await fake.invoke_message_command(user, "Inspect", posted)


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"name": "Edit image", "type": 3, "description": "x"}, "CONTEXT_MENU_DESCRIPTION"),
        (
            {
                "name": "Edit image",
                "type": 3,
                "options": [{"type": 3, "name": "a", "description": "a"}],
            },
            "APPLICATION_COMMAND_OPTIONS_INVALID",
        ),
        ({"name": "x" * 33, "type": 3}, "BASE_TYPE_BAD_LENGTH"),
        (
            {
                "name": "edit",
                "description": "x",
                "options": [
                    {
                        "type": 11,
                        "name": "image",
                        "description": "x",
                        "choices": [{"name": "a", "value": "a"}],
                    }
                ],
            },
            "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
        ),
        (
            {
                "name": "edit",
                "description": "x",
                "options": [{"type": 11, "name": "image", "description": "x", "min_length": 1}],
            },
            "BASE_TYPE_INVALID",
        ),
    ],
    ids=["menu-description", "menu-options", "menu-name-too-long", "file-choices", "file-length"],
)
async def test_registration_refuses_what_discord_refuses(
    fake: FakeDiscord, command: dict[str, Any], code: str
) -> None:
    bot = make_bot()
    await bot.login(TOKEN)
    try:
        with pytest.raises(discord.HTTPException) as info:
            await bot.http.bulk_upsert_global_commands(fake.application_id, payload=[command])
        assert info.value.code == 50035
        assert code in str(fake.requests[-1].response["errors"])
        assert fake.commands == []
    finally:
        await bot.close()


async def test_a_mixed_case_message_command_name_with_spaces_is_fine(fake: FakeDiscord) -> None:
    bot = make_bot()
    await bot.login(TOKEN)
    try:
        await bot.http.bulk_upsert_global_commands(
            fake.application_id, payload=[{"name": "Edit image", "type": 3}]
        )
        assert [(c["name"], c["type"]) for c in fake.commands] == [("Edit image", 3)]
    finally:
        await bot.close()
