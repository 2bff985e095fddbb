"""Tests of the fake Discord server (tests/support/fake_discord/), driven by the real discord.py."""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.support.fake_discord import (
    FakeDiscord,
    FakeGuild,
    FakeInteraction,
    FakeUser,
    Intents,
    Permissions,
)

TOKEN = "test-token-123"


def make_png(width: int = 3, height: int = 2) -> bytes:
    """A tiny valid PNG (greyscale), built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(range(width)) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class FastShardedBot(commands.AutoShardedBot):
    """AutoShardedBot without the 5 s pause discord.py inserts between shard IDENTIFYs."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def make_bot(**kwargs: Any) -> FastShardedBot:
    intents = kwargs.pop("intents", None) or discord.Intents.none()
    intents.guilds = True
    return FastShardedBot(
        command_prefix=commands.when_mentioned,
        intents=intents,
        guild_ready_timeout=0.05,
        **kwargs,
    )


@contextlib.asynccontextmanager
async def running(bot: commands.AutoShardedBot, fake: FakeDiscord) -> AsyncIterator[None]:
    """Run ``bot`` against the fake until it is ready; close it afterwards."""
    task = asyncio.create_task(bot.start(TOKEN))
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # re-raise the startup error
            raise AssertionError("bot stopped before becoming ready")
        if ready not in done:
            raise AssertionError("bot did not become ready:\n" + fake._timeout_message(5, "ready"))
        yield
    finally:
        ready.cancel()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake with discord.py pointed at it (Route.BASE / DEFAULT_GATEWAY restored)."""
    server = FakeDiscord(token=TOKEN)
    await server.start()
    original_base = discord.http.Route.BASE
    original_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        with server.patch_discord_py():
            assert server.api_url == discord.http.Route.BASE
            yield server
        assert original_base == discord.http.Route.BASE
        assert original_gateway == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        server.assert_no_protocol_errors()
    finally:
        await server.close()


@pytest.fixture
def world(fake: FakeDiscord) -> tuple[FakeGuild, FakeUser]:
    """A guild with one ordinary member."""
    guild = fake.add_guild(name="Test Guild")
    user = fake.add_member(guild, username="alice")
    return guild, user


class Recorder:
    """Collects values from inside bot callbacks."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.event = asyncio.Event()

    def put(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.event.set()

    async def get(self, key: str, timeout: float = 3.0) -> Any:
        async with asyncio.timeout(timeout):
            while key not in self.values:
                self.event.clear()
                await self.event.wait()
        return self.values[key]


def imagine_bot(rec: Recorder, handler: Callable[..., Any]) -> FastShardedBot:
    """A bot with ``/imagine prompt aspect_ratio`` that delegates to ``handler``."""
    bot = make_bot()

    @bot.tree.command(name="imagine", description="Turn a prompt into an image")
    @app_commands.describe(prompt="What to draw")
    @app_commands.choices(
        aspect_ratio=[
            app_commands.Choice(name="Square", value="1:1"),
            app_commands.Choice(name="Wide", value="16:9"),
        ]
    )
    async def imagine(
        interaction: discord.Interaction,
        prompt: str,
        aspect_ratio: app_commands.Choice[str] | None = None,
    ) -> None:
        rec.put("args", (prompt, aspect_ratio.value if aspect_ratio else None))
        try:
            await handler(interaction, prompt)
        except Exception as exc:
            rec.put("error", exc)
            raise

    return bot


async def start_synced(bot: FastShardedBot, fake: FakeDiscord) -> contextlib.AsyncExitStack:
    """Start ``bot`` and sync its tree; returns a stack that stops it."""
    stack = contextlib.AsyncExitStack()
    await stack.enter_async_context(running(bot, fake))
    await bot.tree.sync()
    return stack


# -- connection ------------------------------------------------------------------------


async def test_login_ready_and_guilds(fake: FakeDiscord) -> None:
    alpha = fake.add_guild(name="Alpha")
    beta = fake.add_guild(name="Beta")
    bot = make_bot()
    async with running(bot, fake):
        await fake.wait_for_ready()
        assert bot.user is not None
        assert bot.user.id == fake.application_id
        assert bot.application_id == fake.application_id
        assert {g.name for g in bot.guilds} == {"Alpha", "Beta"}
        guild = bot.get_guild(alpha.id)
        assert guild is not None
        assert guild.me is not None
        assert [c.name for c in guild.text_channels] == ["general"]
        assert abs((guild.created_at - discord.utils.utcnow()).total_seconds()) < 60
        assert guild.me.guild_permissions.attach_files

        routes = [r.route for r in fake.requests]
        assert "GET /users/@me" in routes
        assert "GET /oauth2/applications/@me" in routes
        assert "GET /gateway/bot" in routes
        assert all(r.headers["Authorization"] == f"Bot {TOKEN}" for r in fake.requests)
        (identify,) = fake.identifies
        assert identify["intents"] == Intents.GUILDS
        assert identify["shard"] == [0, 1]
        (session,) = fake.sessions
        assert session.connection is not None
        assert session.connection.compress == "zlib-stream"
        assert session.guild_ids == {alpha.id, beta.id}
        # discord.py heartbeats right after HELLO; the fake ACKs it.
        await fake.wait_until(lambda: session.connection and session.connection.heartbeats >= 1)

        # A guild added while connected arrives as GUILD_CREATE -> on_guild_join.
        rec = Recorder()

        async def on_guild_join(guild: discord.Guild) -> None:
            rec.put("joined", guild)

        bot.add_listener(on_guild_join)
        gamma = fake.add_guild(name="Gamma")
        assert (await rec.get("joined")).id == gamma.id


async def test_bad_token_and_privileged_intents(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("wrong-token")
    await client.close()
    assert fake.requests[-1].status == 401
    assert fake.requests[-1].response == {"message": "401: Unauthorized", "code": 0}

    bot = make_bot(intents=discord.Intents(guilds=True, message_content=True))
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(bot.start(TOKEN), 5)
    await bot.close()
    assert fake.gateway_closes[-1][0] == 4014


async def test_resume_after_dropped_connection(fake: FakeDiscord, world: Any) -> None:
    bot = make_bot()
    async with running(bot, fake):
        resumed = asyncio.Event()

        async def on_shard_resumed(shard_id: int) -> None:
            resumed.set()

        joined: list[int] = []

        async def on_guild_join(guild: discord.Guild) -> None:
            joined.append(guild.id)

        bot.add_listener(on_shard_resumed)
        bot.add_listener(on_guild_join)
        await fake.drop_connection(0, code=4000)
        late = fake.add_guild(name="Added while reconnecting")
        await asyncio.wait_for(resumed.wait(), 5)
        (session,) = fake.sessions
        assert session.resumes == 1
        assert session.connected
        await fake.wait_until(lambda: late.id in joined, 2, "GUILD_CREATE delivered")
        assert session.connection is not None
        received = [f.payload["op"] for f in session.connection.frames if f.direction == "recv"]
        assert 6 in received and 2 not in received  # RESUME on the new connection, no IDENTIFY


async def test_message_events_respect_intents(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    intents = discord.Intents.none()
    intents.guild_messages = True
    bot = make_bot(intents=intents)
    seen: list[discord.Message] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    bot.add_listener(on_message)
    async with running(bot, fake):
        fake.post_user_message(guild.text_channel, user, "secret")
        fake.post_user_message(guild.text_channel, user, f"hey {fake.bot_user.mention}")
        channel = bot.get_channel(guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("from the bot")
        await fake.wait_until(lambda: len(seen) == 3, 2, "three MESSAGE_CREATEs")
        # No MESSAGE_CONTENT intent: content is blank unless the bot wrote or was mentioned.
        assert [m.content for m in seen] == ["", f"hey <@{fake.bot_user.id}>", "from the bot"]
        assert seen[0].author.id == user.id
        assert fake.identifies[-1]["intents"] == Intents.GUILDS | Intents.GUILD_MESSAGES


# -- application commands ----------------------------------------------------------------


async def test_command_sync_and_validation(fake: FakeDiscord) -> None:
    rec = Recorder()
    bot = imagine_bot(rec, lambda *_: asyncio.sleep(0))
    await bot.login(TOKEN)
    try:
        synced = await bot.tree.sync()
        assert fake.command_sync_count == 1
        (command,) = fake.commands
        assert [c.id for c in synced] == [int(command["id"])]
        assert command["name"] == "imagine"
        assert [o["name"] for o in command["options"]] == ["prompt", "aspect_ratio"]
        assert (await bot.tree.fetch_commands())[0].name == "imagine"

        invalid: list[tuple[dict[str, Any], str]] = [
            ({"name": "Imagine", "description": "x"}, "APPLICATION_COMMAND_INVALID_NAME"),
            ({"name": "has space", "description": "x"}, "APPLICATION_COMMAND_INVALID_NAME"),
            ({"name": "d", "description": ""}, "BASE_TYPE_BAD_LENGTH"),
            ({"name": "d", "description": "x" * 101}, "BASE_TYPE_BAD_LENGTH"),
            (
                {
                    "name": "o",
                    "description": "x",
                    "options": [
                        {"type": 3, "name": f"o{i}", "description": "x"} for i in range(26)
                    ],
                },
                "BASE_TYPE_MAX_LENGTH",
            ),
            (
                {
                    "name": "c",
                    "description": "x",
                    "options": [
                        {
                            "type": 3,
                            "name": "c",
                            "description": "x",
                            "choices": [{"name": f"n{i}", "value": f"v{i}"} for i in range(26)],
                        }
                    ],
                },
                "BASE_TYPE_MAX_LENGTH",
            ),
            (
                {
                    "name": "g",
                    "description": "x",
                    "options": [
                        {
                            "type": 1,
                            "name": "sub",
                            "description": "x",
                            "options": [{"type": 2, "name": "grp", "description": "x"}],
                        }
                    ],
                },
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            ),
            (
                {
                    "name": "s",
                    "description": "x",
                    "options": [{"type": 3, "name": "s", "description": "x", "max_length": 7000}],
                },
                "NUMBER_TYPE_MAX",
            ),
            (
                {"name": "p", "description": "x", "default_member_permissions": "eight"},
                "BASE_TYPE_STRING",
            ),
            ({"name": "x", "description": "x", "contexts": 0}, "BASE_TYPE_ARRAY"),
        ]
        for payload, code in invalid:
            with pytest.raises(discord.HTTPException) as excinfo:
                await bot.http.bulk_upsert_global_commands(fake.application_id, payload=[payload])
            assert excinfo.value.status == 400
            assert excinfo.value.code == 50035
            body = fake.requests[-1].response
            assert body["message"] == "Invalid Form Body"
            assert code in str(body["errors"]), (payload, body)
        # Rejected PUTs neither count as syncs nor change the registered commands.
        assert fake.command_sync_count == 1
        assert [c["name"] for c in fake.commands] == ["imagine"]
    finally:
        await bot.close()


async def test_invoke_requires_registered_command(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    with pytest.raises(LookupError, match="Did the bot sync"):
        await fake.invoke_command(guild, guild.text_channel, user, "imagine", {"prompt": "x"})


async def test_defer_then_edit_with_file(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    png = make_png(5, 4)
    rec = Recorder()

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer(thinking=True)
        message = await interaction.edit_original_response(
            content=f"Here is {prompt!r}",
            attachments=[discord.File(io.BytesIO(png), filename="image.png")],
        )
        rec.put("message", message)
        rec.put("downloaded", await message.attachments[0].read())

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(
            guild, guild.text_channel, user, "imagine", {"prompt": "a cat", "aspect_ratio": "16:9"}
        )
        assert await rec.get("args") == ("a cat", "16:9")
        msg = await it.wait_for_original(lambda m: bool(m.attachments))
        assert it.response_type == 5
        assert it.ephemeral is False
        assert it.ack_latency is not None and it.ack_latency < 1
        assert msg.content == "Here is 'a cat'"
        assert not msg.loading
        (attachment,) = msg.attachments
        assert attachment.data == png
        assert (attachment.filename, attachment.size, attachment.width) == (
            "image.png",
            len(png),
            5,
        )
        assert attachment.content_type == "image/png"
        assert msg.interaction is it
        assert fake.channel_messages(guild.text_channel) == [msg]

        # discord.py parsed the returned message and downloaded the attachment from the fake.
        message: discord.InteractionMessage = await rec.get("message")
        assert message.id == msg.id
        assert message.attachments[0].filename == "image.png"
        assert message.interaction_metadata is not None
        assert message.interaction_metadata.user.id == user.id
        assert await rec.get("downloaded") == png

        patch = next(r for r in it.responses if r.method == "PATCH")
        assert patch.path.endswith("/messages/@original")
        assert patch.json["attachments"] == [{"id": 0, "filename": "image.png"}]
        assert [f.field for f in patch.files] == ["files[0]"]
        assert "Authorization" not in patch.headers
        assert it.responses[0].query == {"with_response": "1"}


async def test_subcommands_and_entity_options(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    admin = fake.add_member(guild, username="root", permissions=Permissions.ADMINISTRATOR)
    mods = fake.add_role(guild, "mods")
    rec = Recorder()
    bot = make_bot()
    limits = app_commands.Group(name="limits", description="Usage limits")

    @limits.command(name="set", description="Set a user's daily limit")
    async def set_limit(
        interaction: discord.Interaction,
        member: discord.Member,
        value: app_commands.Range[int, 0, 100],
        role: discord.Role | None = None,
    ) -> None:
        rec.put("call", (member, value, role, interaction.permissions.administrator))
        await interaction.response.send_message("ok", ephemeral=True)

    limits.default_permissions = discord.Permissions(manage_guild=True)
    bot.tree.add_command(limits)
    async with await start_synced(bot, fake):
        with pytest.raises(PermissionError):
            await fake.invoke_command(guild, guild.text_channel, user, "limits set", {})
        with pytest.raises(ValueError, match="must be <= 100"):
            await fake.invoke_command(
                guild, guild.text_channel, admin, "limits set", {"member": user, "value": 101}
            )
        it = await fake.invoke_command(
            guild,
            guild.text_channel,
            admin,
            "limits",
            {"member": user, "value": 7, "role": mods},
            subcommand="set",
        )
        member, value, role, is_admin = await rec.get("call")
        assert (member.id, member.name, value, role.id, is_admin) == (
            user.id,
            "alice",
            7,
            mods.id,
            True,
        )
        await it.wait_for_original()
        assert it.ephemeral is True
        assert it.data["options"][0]["name"] == "set"
        assert set(it.data["resolved"]) == {"users", "members", "roles"}


# -- interaction rules -------------------------------------------------------------------


async def test_second_response_is_rejected(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    rec = Recorder()

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.send_message("first")
        try:
            await interaction.response.send_message("second")
        except discord.InteractionResponded as exc:
            rec.put("client_side", exc)

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(guild, guild.text_channel, user, "imagine", {"prompt": "p"})
        assert isinstance(await rec.get("client_side"), discord.InteractionResponded)
        assert (await it.wait_for_original()).content == "first"

        # Bypassing discord.py's own bookkeeping, the server enforces it too.
        url = f"{fake.api_url}/interactions/{it.id}/{it.token}/callback"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"type": 4, "data": {"content": "again"}}) as resp,
        ):
            assert resp.status == 400
            assert await resp.json() == {
                "message": "Interaction has already been acknowledged.",
                "code": 40060,
            }
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{fake.api_url}/interactions/{it.id}/wrong-token/callback", json={"type": 5}
            ) as resp,
        ):
            assert (resp.status, (await resp.json())["code"]) == (404, 10062)
        assert [m.content for m in fake.channel_messages(guild.text_channel)] == ["first"]


async def test_late_initial_response_is_rejected(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    fake.initial_response_timeout = 0.2
    rec = Recorder()

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        await asyncio.sleep(0.3)
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            rec.put("late", exc)
        try:
            await interaction.followup.send("followup")
        except discord.NotFound as exc:
            rec.put("followup", exc)

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(guild, guild.text_channel, user, "imagine", {"prompt": "p"})
        late = await rec.get("late")
        assert (late.status, late.code) == (404, 10062)
        assert (await rec.get("followup")).code == 10015
        assert not it.responded
        assert fake.channel_messages(guild.text_channel) == []


async def test_expired_token_rejects_webhook_calls(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    rec = Recorder()
    go = asyncio.Event()

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer()
        await go.wait()
        try:
            await interaction.edit_original_response(content="done")
        except discord.HTTPException as exc:
            rec.put("edit", exc)

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(guild, guild.text_channel, user, "imagine", {"prompt": "p"})
        await it.wait_for_response()
        fake.expire_interaction(it)
        go.set()
        exc = await rec.get("edit")
        # Past its 15 minutes a token answers 401/50027, not 404/10015 (as reported).
        assert (exc.status, exc.code, exc.text) == (401, 50027, "Invalid Webhook Token")
        assert it.original_message is not None and it.original_message.loading


async def test_oversize_attachment_is_rejected(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    rec = Recorder()

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        rec.put("limit", interaction.filesize_limit)
        try:
            await interaction.response.send_message(
                file=discord.File(io.BytesIO(b"x" * 2048), filename="big.bin")
            )
        except discord.HTTPException as exc:
            rec.put("error413", exc)
        await interaction.response.send_message(
            file=discord.File(io.BytesIO(b"y" * 1024), filename="ok.bin")
        )

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(
            guild, guild.text_channel, user, "imagine", {"prompt": "p"}, attachment_size_limit=1024
        )
        assert await rec.get("limit") == 1024
        exc = await rec.get("error413")
        assert (exc.status, exc.code) == (413, 40005)
        msg = await it.wait_for_original()
        assert msg.files == [b"y" * 1024]


async def test_channel_messages_and_validation(fake: FakeDiscord, world: Any) -> None:
    guild, _ = world
    locked = fake.add_channel(guild, "locked", forbidden=True)
    bot = make_bot()
    async with running(bot, fake):
        channel = bot.get_channel(guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send(
            "hello <@1>",
            embed=discord.Embed(title="T", description="D").add_field(name="n", value="v"),
            file=discord.File(io.BytesIO(b"abc"), filename="a.txt"),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        stored = fake.messages[sent.id]
        assert stored.author is fake.bot_user
        assert stored.files == [b"abc"]
        assert stored.allowed_mentions == {"parse": []}
        assert stored.embeds[0]["fields"] == [{"name": "n", "value": "v", "inline": True}]
        edited = await sent.edit(
            content="edited",
            attachments=[sent.attachments[0], discord.File(io.BytesIO(b"new"), filename="b.txt")],
        )
        assert [a.filename for a in edited.attachments] == ["a.txt", "b.txt"]
        assert stored.files == [b"abc", b"new"]
        assert stored.attachments[0].id == sent.attachments[0].id  # kept by id
        edited = await edited.edit(content="edited", attachments=[])
        assert edited.content == "edited" and edited.attachments == []
        assert len(stored.edits) == 2 and stored.attachments == []

        with pytest.raises(discord.HTTPException) as excinfo:
            await channel.send("x" * 2001)
        assert excinfo.value.code == 50035
        with pytest.raises(discord.HTTPException) as excinfo:
            await channel.send(embeds=[discord.Embed(description="d" * 4000) for _ in range(2)])
        assert "MAX_EMBED_SIZE_EXCEEDED" in str(fake.requests[-1].response)
        with pytest.raises(discord.HTTPException) as excinfo:
            await bot.http.send_message(
                channel.id,
                params=discord.http.MultipartParameters(
                    payload={"content": ""}, multipart=None, files=None
                ),
            )
        assert excinfo.value.code == 50006
        with pytest.raises(discord.Forbidden) as forbidden:
            await bot.get_channel(locked.id).send("hi")  # type: ignore[union-attr]
        assert forbidden.value.code == 50013
        with pytest.raises(discord.NotFound) as missing:
            await bot.http.send_message(
                123, params=discord.http.MultipartParameters({"content": "x"}, None, None)
            )
        assert missing.value.code == 10003
        await sent.delete()
        assert stored.deleted


# -- components ----------------------------------------------------------------------------


async def test_button_round_trip(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    rec = Recorder()

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.green)
        async def confirm(
            self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]
        ) -> None:
            rec.put("clicked_by", interaction.user.id)
            await interaction.response.edit_message(content="confirmed", view=None)

        @discord.ui.select(
            custom_id="size",
            options=[discord.SelectOption(label=x, value=x) for x in ("small", "large")],
        )
        async def size(
            self, interaction: discord.Interaction, select: discord.ui.Select[Confirm]
        ) -> None:
            rec.put("size", select.values)
            await interaction.response.defer()

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.send_message("Confirm?", view=Confirm())

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(guild, guild.text_channel, user, "imagine", {"prompt": "p"})
        msg = await it.wait_for_original()
        assert msg.find_component("confirm") is not None
        with pytest.raises(LookupError):
            await fake.click_button(msg, "nope", user)
        with pytest.raises(ValueError, match="no option"):
            await fake.select_option(msg, "size", ["huge"], user)
        picked = await fake.select_option(msg, "size", ["large"], user)
        assert await rec.get("size") == ["large"]
        assert (await picked.wait_for_response()).type == 6
        click = await fake.click_button(msg, "confirm", user)
        assert await rec.get("clicked_by") == user.id
        callback = await click.wait_for_response()
        assert callback.type == 7
        assert msg.content == "confirmed"
        assert msg.components == []
        assert msg.edits[-1].via == "callback"
        assert click.payload["message"]["id"] == str(msg.id)


async def test_modal_round_trip(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    rec = Recorder()

    class PromptModal(discord.ui.Modal, title="Describe it"):
        prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
            label="Prompt", custom_id="prompt"
        )
        style: discord.ui.Label[PromptModal] = discord.ui.Label(
            text="Style",
            component=discord.ui.TextInput(custom_id="style", required=False),
        )

        async def on_submit(self, interaction: discord.Interaction) -> None:
            style_input = self.style.component
            assert isinstance(style_input, discord.ui.TextInput)
            rec.put("values", (self.prompt.value, style_input.value))
            await interaction.response.send_message("thanks", ephemeral=True)

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.send_modal(PromptModal())

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(guild, guild.text_channel, user, "imagine", {"prompt": "p"})
        callback = await it.wait_for_response()
        assert callback.type == 9
        assert it.modal is not None and it.modal["title"] == "Describe it"
        with pytest.raises(ValueError, match="required"):
            await fake.submit_modal(it, values={"style": "noir"})
        submit = await fake.submit_modal(it, values={"prompt": "a cat", "style": "noir"})
        assert await rec.get("values") == ("a cat", "noir")
        reply = await submit.wait_for_original()
        assert (reply.content, reply.ephemeral) == ("thanks", True)
        row, label = submit.data["components"]
        assert row["type"] == 1 and row["components"][0]["value"] == "a cat"
        assert label["type"] == 18 and label["component"]["value"] == "noir"


# -- sharding ------------------------------------------------------------------------------


async def test_two_shards_each_get_their_guilds() -> None:
    fake = FakeDiscord(token=TOKEN, shard_count=2)
    await fake.start()
    try:
        with fake.patch_discord_py():
            g0 = fake.add_guild(name="zero", shard_id=0)
            g1 = fake.add_guild(name="one", shard_id=1)
            user = fake.add_member(g1, username="bob")
            rec = Recorder()

            async def handler(interaction: discord.Interaction, prompt: str) -> None:
                assert interaction.guild is not None
                rec.put("shard", interaction.guild.shard_id)
                await interaction.response.send_message("hi")

            bot = imagine_bot(rec, handler)
            async with await start_synced(bot, fake):
                await fake.wait_for_ready()
                assert bot.shard_count == 2
                s0, s1 = fake.session_for_shard(0), fake.session_for_shard(1)
                assert (s0.guild_ids, s1.guild_ids) == ({g0.id}, {g1.id})
                assert bot.get_guild(g0.id).shard_id == 0  # type: ignore[union-attr]
                assert bot.get_guild(g1.id).shard_id == 1  # type: ignore[union-attr]
                it = await fake.invoke_command(
                    g1, g1.text_channel, user, "imagine", {"prompt": "p"}
                )
                assert it.shard_id == 1
                assert await rec.get("shard") == 1
                await it.wait_for_original()
        fake.assert_no_protocol_errors()
    finally:
        await fake.close()


def test_snowflakes_are_time_based() -> None:
    fake = FakeDiscord()
    ids = [fake.snowflakes.next() for _ in range(5000)]
    assert ids == sorted(set(ids))
    created = discord.utils.snowflake_time(ids[0])
    assert abs((created - discord.utils.utcnow()).total_seconds()) < 5
    for shard in range(3):
        assert (fake.snowflakes.next(shard=(shard, 3)) >> 22) % 3 == shard


async def test_fake_interaction_repr(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    interaction = fake._new_interaction(
        kind=2,
        guild=guild,
        channel=guild.text_channel,
        user=user,
        data={"name": "x"},
        attachment_size_limit=None,
    )
    assert isinstance(interaction, FakeInteraction)
    assert interaction.payload["member"]["permissions"] == str(
        guild.permissions_in(user.id, guild.text_channel)
    )


# -- followups, history ------------------------------------------------------------------


async def test_followups(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    rec = Recorder()

    async def handler(interaction: discord.Interaction, prompt: str) -> None:
        if prompt == "deferred":
            await interaction.response.defer(ephemeral=True)
            # Deprecated Discord behaviour: this edits the loading message.
            first = await interaction.followup.send("from followup", ephemeral=False, wait=True)
            rec.put("first", first)
            return
        await interaction.response.send_message("original")
        followup = await interaction.followup.send(
            "more", file=discord.File(io.BytesIO(b"data"), filename="f.txt"), wait=True
        )
        edited = await followup.edit(content="more (edited)")
        await interaction.delete_original_response()
        rec.put("followup", edited)

    bot = imagine_bot(rec, handler)
    async with await start_synced(bot, fake):
        it = await fake.invoke_command(guild, guild.text_channel, user, "imagine", {"prompt": "p"})
        followup = await rec.get("followup")
        assert followup.content == "more (edited)"
        (stored,) = it.followups
        assert (stored.id, stored.content, stored.files) == (
            followup.id,
            "more (edited)",
            [b"data"],
        )
        assert stored.to_dict()["interaction_metadata"]["original_response_message_id"] == str(
            it.original_message.id  # type: ignore[union-attr]
        )
        assert it.original_message is not None and it.original_message.deleted
        assert fake.channel_messages(guild.text_channel) == [stored]

        deferred = await fake.invoke_command(
            guild, guild.text_channel, user, "imagine", {"prompt": "deferred"}
        )
        first = await rec.get("first")
        assert deferred.followups == []
        assert deferred.original_message is not None
        assert first.id == deferred.original_message.id
        assert deferred.original_message.content == "from followup"
        assert deferred.original_message.ephemeral  # visibility chosen at defer time is kept


async def test_channel_history(fake: FakeDiscord, world: Any) -> None:
    guild, user = world
    bot = make_bot()
    async with running(bot, fake):
        for i in range(5):
            fake.post_user_message(guild.text_channel, user, f"m{i}")
        channel = bot.get_channel(guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        async with channel.typing():
            history = [m.content async for m in channel.history(limit=3)]
        assert history == ["m4", "m3", "m2"]
        oldest = [m.content async for m in channel.history(limit=10, oldest_first=True)]
        assert oldest == ["m0", "m1", "m2", "m3", "m4"]
        member = await bot.get_guild(guild.id).fetch_member(user.id)  # type: ignore[union-attr]
        assert member.name == "alice"
        fetched = await bot.fetch_channel(guild.text_channel.id)
        assert isinstance(fetched, discord.TextChannel)
        assert (fetched.id, fetched.name, fetched.guild.id) == (
            guild.text_channel.id,
            "general",
            guild.id,
        )
        with pytest.raises(discord.NotFound):
            await bot.fetch_channel(guild.text_channel.id + 1)


# -- protocol edges, without discord.py ---------------------------------------------------


async def _gateway_session(
    fake: FakeDiscord, query: str = "?v=10&encoding=json", **identify: Any
) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse, list[dict[str, Any]]]:
    """Connect a raw websocket, IDENTIFY and collect READY + GUILD_CREATEs."""
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(fake.gateway_url + query)
    hello = await ws.receive_json()
    assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}
    payload = {
        "token": TOKEN,
        "intents": Intents.GUILDS,
        "properties": {"os": "linux", "browser": "raw", "device": "raw"},
        **identify,
    }
    await ws.send_json({"op": 2, "d": payload})
    events: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=2)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return session, ws, events
        events.append(msg.json())
        if len(events) == 1 + len(events[0]["d"]["guilds"]):
            return session, ws, events


async def test_raw_gateway_protocol(fake: FakeDiscord) -> None:
    guild = fake.add_guild(name="Raw")
    session, ws, events = await _gateway_session(fake)
    try:
        ready, guild_create = events
        assert (ready["t"], ready["s"], ready["op"]) == ("READY", 1, 0)
        assert ready["d"]["guilds"] == [{"id": str(guild.id), "unavailable": True}]
        assert ready["d"]["resume_gateway_url"] == fake.gateway_url
        assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
        assert guild_create["d"]["channels"][0]["name"] == "general"
        await ws.send_json({"op": 1, "d": 2})
        assert await ws.receive_json() == {"op": 11, "d": None, "s": None, "t": None}
        await ws.send_json({"op": 2, "d": {"token": TOKEN, "properties": {}, "intents": 1}})
        await ws.receive()
        assert ws.close_code == 4005
    finally:
        await session.close()

    # zlib-stream: every frame ends with Z_SYNC_FLUSH and shares one inflate context.
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream")
        frame = await ws.receive_bytes()
        assert frame.endswith(b"\x00\x00\xff\xff")
        assert zlib.decompressobj().decompress(frame).startswith(b'{"op":10')
        await ws.close()

    bad: list[tuple[str, dict[str, Any], int]] = [
        ("?v=10&encoding=json", {"token": "nope"}, 4004),
        ("?v=10&encoding=json", {"shard": [2, 2]}, 4010),
        ("?v=10&encoding=json", {"intents": Intents.GUILD_MEMBERS}, 4014),
        ("?v=10&encoding=json", {"intents": "all"}, 4013),
        ("?v=9&encoding=json", {}, 4012),
        ("?v=10&encoding=json&compress=zstd-stream", {}, 4000),
    ]
    for query, identify, code in bad:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(fake.gateway_url + query)
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                payload = {"token": TOKEN, "intents": 1, "properties": {}, **identify}
                await ws.send_json({"op": 2, "d": payload})
                msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE, (query, identify)
            assert ws.close_code == code, (query, identify)
    assert any("zstd-stream" in e for e in fake.protocol_errors)
    fake.protocol_errors.clear()


async def test_raw_rest_edges(fake: FakeDiscord) -> None:
    guild = fake.add_guild(name="Raw")
    user = fake.add_member(guild, username="carol")
    http, ws, _ = await _gateway_session(fake)
    api = fake.api_url
    auth = {"Authorization": f"Bot {TOKEN}"}
    try:
        async with http.get(f"{api}/users/@me") as resp:
            assert (resp.status, await resp.json()) == (
                401,
                {"message": "401: Unauthorized", "code": 0},
            )
        command = {"name": "ping", "description": "Ping", "type": 1}
        async with http.put(
            f"{api}/applications/{fake.application_id}/commands", json=[command], headers=auth
        ) as resp:
            assert resp.status == 200
            (stored,) = await resp.json()
        assert (stored["application_id"], stored["integration_types"]) == (
            str(fake.application_id),
            [0],
        )
        it = await fake.invoke_command(guild, guild.text_channel, user, "ping")
        event = await ws.receive_json()
        assert (event["t"], event["d"]["token"]) == ("INTERACTION_CREATE", it.token)
        assert event["d"]["data"] == {"id": stored["id"], "name": "ping", "type": 1}
        assert event["d"]["member"]["user"]["id"] == str(user.id)

        hook = f"{api}/webhooks/{fake.application_id}/{it.token}"
        async with http.get(f"{hook}/messages/@original") as resp:
            assert (resp.status, (await resp.json())["code"]) == (404, 10008)
        async with http.post(hook, json={"content": "early"}) as resp:
            assert (resp.status, (await resp.json())["code"]) == (404, 10015)

        callback = f"{api}/interactions/{it.id}/{it.token}/callback"
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("payload_json", "{not json")
        async with http.post(callback, data=form) as resp:
            assert (resp.status, (await resp.json())["code"]) == (400, 50035)
        form = aiohttp.FormData(quote_fields=False)
        form.add_field(
            "payload_json",
            '{"type": 4, "data": {"attachments": [{"id": 1, "filename": "a.png"}]}}',
        )
        form.add_field("files[0]", b"abc", filename="a.png")
        async with http.post(callback, data=form) as resp:
            body = await resp.json()
        assert (resp.status, body["code"]) == (400, 50035)
        assert "ATTACHMENT_NOT_FOUND" in str(body["errors"]["data"]["attachments"]["0"]["id"])
        async with http.post(callback, json={"type": 4, "data": {"content": " "}}) as resp:
            assert (resp.status, await resp.json()) == (
                400,
                {"message": "Cannot send an empty message", "code": 50006},
            )
        bad_row = {"type": 1, "components": [{"type": 2, "style": 1, "label": "x"}] * 6}
        async with http.post(
            callback, json={"type": 4, "data": {"content": "x", "components": [bad_row]}}
        ) as resp:
            errors = (await resp.json())["errors"]
        assert "BASE_TYPE_BAD_LENGTH" in str(errors["data"]["components"]["0"]["components"])
        async with http.post(
            callback,
            json={"type": 4, "data": {"content": "x", "allowed_mentions": {"parse": ["all"]}}},
        ) as resp:
            errors = (await resp.json())["errors"]
        assert "BASE_TYPE_CHOICES" in str(errors["data"]["allowed_mentions"]["parse"]["0"])
        assert not it.responded

        async with http.post(f"{callback}?with_response=true", json={"type": 5}) as resp:
            body = await resp.json()
        assert body["interaction"]["response_message_loading"] is True
        assert "resource" not in body
        async with http.get(f"{hook}/messages/@original") as resp:
            assert (await resp.json())["flags"] == 128
        async with http.patch(f"{hook}/messages/@original", json={"content": ""}) as resp:
            assert (await resp.json())["code"] == 50006
        async with http.get(f"{api}/nope", headers=auth) as resp:
            assert resp.status == 404
        assert fake.protocol_errors == ["http: unsupported route GET /api/v10/nope"]
        fake.protocol_errors.clear()
    finally:
        await ws.close()
        await http.close()
