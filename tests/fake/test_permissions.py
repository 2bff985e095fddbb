"""Permissions, threads, enforce_nonce and upload limits in the fake (discord-api-docs
"Permissions", "Threads", "Message Resource"; boost tiers)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import discord

from tests.fake.conftest import RULES_TOKEN, Raw
from tests.support.fake_discord import FakeDiscord, Permissions
from tests.support.fake_discord.permissions import NITRO_ATTACHMENT_LIMIT

MIB = 1024 * 1024
EMBED = {"title": "t", "description": "d"}


def bot_role(raw: Raw):
    return next(r for r in raw.guild.roles.values() if r.managed)


def revoke(raw: Raw, permission: int) -> None:
    """Take a permission from the bot (its role and @everyone both grant the usual ones)."""
    bot_role(raw).permissions &= ~permission
    raw.guild.default_role.permissions &= ~permission


async def test_overwrites_deny_and_allow_in_discord_order(raw: Raw, server: FakeDiscord) -> None:
    channel = raw.guild.text_channel
    path = f"/channels/{channel.id}/messages"
    server.set_overwrite(channel, raw.guild.default_role, deny=Permissions.SEND_MESSAGES)
    status, body, _ = await raw.request("POST", path, json={"content": "x"})
    assert (status, body["code"]) == (403, 50013)
    # A role's allow beats @everyone's deny; the member's own deny beats both.
    server.set_overwrite(channel, bot_role(raw), allow=Permissions.SEND_MESSAGES)
    assert (await raw.request("POST", path, json={"content": "ok"}))[0] == 200
    server.set_overwrite(channel, server.bot_user, deny=Permissions.SEND_MESSAGES)
    assert (await raw.request("POST", path, json={"content": "no"}))[0] == 403
    server.set_overwrite(channel, server.bot_user, deny=Permissions.VIEW_CHANNEL)
    status, body, _ = await raw.request("POST", path, json={"content": "no"})
    assert (status, body["code"]) == (403, 50001)
    [stored] = [m.content for m in server.channel_messages(channel)]
    assert stored == "ok"
    status, body, _ = await raw.request("GET", f"/channels/{channel.id}")
    assert (status, body["code"]) == (403, 50001)
    server.set_overwrite(channel, server.bot_user)
    status, body, _ = await raw.request("GET", f"/channels/{channel.id}")
    assert [o["type"] for o in body["permission_overwrites"]] == [0, 0, 1]


async def test_threads_need_send_messages_in_threads(raw: Raw, server: FakeDiscord) -> None:
    thread = server.add_thread(raw.guild.text_channel, "talk")
    path = f"/channels/{thread.id}/messages"
    # Send Messages does not reach into threads.
    revoke(raw, Permissions.SEND_MESSAGES_IN_THREADS)
    status, body, _ = await raw.request("POST", path, json={"content": "x"})
    assert (status, body["code"]) == (403, 50013)
    bot_role(raw).permissions |= Permissions.SEND_MESSAGES_IN_THREADS
    revoke(raw, Permissions.SEND_MESSAGES)
    status, message, _ = await raw.request("POST", path, json={"content": "in the thread"})
    assert status == 200 and message["channel_id"] == str(thread.id)
    status, body, _ = await raw.request("GET", f"/channels/{thread.id}")
    assert body["parent_id"] == str(raw.guild.text_channel.id)
    assert body["thread_metadata"]["locked"] is False


async def test_locked_and_archived_threads(raw: Raw, server: FakeDiscord) -> None:
    bot_role(raw).permissions |= Permissions.SEND_MESSAGES_IN_THREADS
    thread = server.add_thread(raw.guild.text_channel, "old")
    path = f"/channels/{thread.id}/messages"
    status, message, _ = await raw.request("POST", path, json={"content": "before"})
    assert status == 200
    server.update_thread(thread, archived=True)
    status, body, _ = await raw.request(
        "PATCH", f"{path}/{message['id']}", json={"content": "edited"}
    )
    assert (status, body["code"]) == (400, 50083)
    # Sending in an archived (not locked) thread unarchives it.
    assert (await raw.request("POST", path, json={"content": "revive"}))[0] == 200
    assert thread.archived is False
    server.update_thread(thread, locked=True)
    status, body, _ = await raw.request("POST", path, json={"content": "locked"})
    assert (status, body["code"]) == (403, 160005)
    bot_role(raw).permissions |= 1 << 34  # Manage Threads
    assert (await raw.request("POST", path, json={"content": "moderator"}))[0] == 200


async def test_an_interaction_response_in_an_archived_thread_cannot_be_edited(
    raw: Raw, server: FakeDiscord
) -> None:
    thread = server.add_thread(raw.guild.text_channel, "job")
    it = await raw.deferred(thread)
    server.update_thread(thread, archived=True)
    status, body, _ = await raw.request(
        "PATCH", f"{raw.hook(it)}/messages/@original", auth=False, json={"content": "result"}
    )
    assert (status, body["code"]) == (400, 50083)


async def test_without_embed_links_embeds_are_dropped_or_the_message_is_empty(
    raw: Raw, server: FakeDiscord
) -> None:
    path = f"/channels/{raw.guild.text_channel.id}/messages"
    revoke(raw, Permissions.EMBED_LINKS)
    status, message, _ = await raw.request("POST", path, json={"content": "hi", "embeds": [EMBED]})
    assert (status, message["content"], message["embeds"]) == (200, "hi", [])
    status, body, _ = await raw.request("POST", path, json={"embeds": [EMBED]})
    assert (status, body["code"]) == (400, 50006)
    # Interaction responses are not the bot's channel messages: their embeds stay.
    it = await raw.deferred()
    status, message, _ = await raw.request(
        "PATCH", f"{raw.hook(it)}/messages/@original", auth=False, json={"embeds": [EMBED]}
    )
    assert status == 200 and message["embeds"][0]["title"] == "t"


async def test_enforce_nonce_returns_the_earlier_message(raw: Raw, server: FakeDiscord) -> None:
    channel = raw.guild.text_channel
    path = f"/channels/{channel.id}/messages"
    payload = {"content": "once", "nonce": "job-7", "enforce_nonce": True}
    first = (await raw.request("POST", path, json=payload))[1]
    again = (await raw.request("POST", path, json={**payload, "content": "twice"}))[1]
    assert again["id"] == first["id"] and again["content"] == "once"
    # Without enforce_nonce the nonce is only echoed: a second message.
    other = (await raw.request("POST", path, json={"content": "free", "nonce": "job-7"}))[1]
    assert other["id"] != first["id"]
    assert [m.content for m in server.channel_messages(channel)] == ["once", "free"]
    # A nonce whose message was deleted shortly before answers 404 (discord.py's docs).
    gone = {"content": "gone", "nonce": "job-8", "enforce_nonce": True}
    deleted = (await raw.request("POST", path, json=gone))[1]
    assert (await raw.request("DELETE", f"{path}/{deleted['id']}"))[0] == 204
    status, body, _ = await raw.request("POST", path, json=gone)
    assert (status, body["code"]) == (404, 10008)


def _upload(size: int) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", json.dumps({"content": "file"}))
    form.add_field("files[0]", b"\0" * size, filename="big.bin")
    return form


async def test_channel_uploads_follow_the_boost_tier_interactions_their_own_limit(
    raw: Raw, server: FakeDiscord
) -> None:
    path = f"/channels/{raw.guild.text_channel.id}/messages"
    status, body, _ = await raw.request("POST", path, data=_upload(10 * MIB + 1))
    assert (status, body["code"]) == (413, 40005)
    server.set_premium_tier(raw.guild, 2)
    assert (await raw.request("POST", path, data=_upload(10 * MIB + 1)))[0] == 200
    status, _, _ = await raw.request("POST", path, data=_upload(50 * MIB + 1))
    assert status == 413

    # A member with Nitro: the interaction allows far more than the channel.
    it = await server.invoke_command(
        raw.guild,
        raw.guild.text_channel,
        raw.user,
        "ping",
        attachment_size_limit=NITRO_ATTACHMENT_LIMIT,
    )
    assert it.payload["attachment_size_limit"] == 500 * MIB
    await raw.request(
        "POST", f"/interactions/{it.id}/{it.token}/callback", auth=False, json={"type": 5}
    )
    status, _, _ = await raw.request(
        "PATCH", f"{raw.hook(it)}/messages/@original", auth=False, data=_upload(60 * MIB)
    )
    assert status == 200


async def test_discord_py_sees_boost_tiers_threads_and_overwrites(server: FakeDiscord) -> None:
    guild = server.add_guild()
    hidden = server.add_channel(guild, "hidden")
    server.set_overwrite(hidden, guild.default_role, deny=Permissions.VIEW_CHANNEL)
    thread = server.add_thread(guild.text_channel, "early")
    client = discord.Client(intents=discord.Intents(guilds=True))
    task = asyncio.create_task(client.start(RULES_TOKEN))
    try:
        await server.wait_for_ready()
        await client.wait_until_ready()
        cached = client.get_guild(guild.id)
        assert cached is not None
        assert cached.filesize_limit == 10 * MIB
        assert isinstance(client.get_channel(thread.id), discord.Thread)
        me = cached.me
        channel = cached.get_channel(hidden.id)
        assert isinstance(channel, discord.TextChannel)
        # The @everyone deny reaches the bot too, in discord.py's view as in the fake's.
        assert not channel.permissions_for(me).view_channel
        assert not guild.permissions_in(server.bot_user.id, hidden) & Permissions.VIEW_CHANNEL
        posting = (
            Permissions.VIEW_CHANNEL
            | Permissions.SEND_MESSAGES
            | Permissions.SEND_MESSAGES_IN_THREADS
            | Permissions.EMBED_LINKS
            | Permissions.ATTACH_FILES
        )
        shown = cached.text_channels[0].permissions_for(me).value & posting
        assert shown == guild.permissions_in(server.bot_user.id, guild.text_channel) & posting

        server.set_premium_tier(guild, 3)
        late = server.add_thread(guild.text_channel, "late")
        await server.wait_until(
            lambda: cached.filesize_limit == 100 * MIB and client.get_channel(late.id),
            3,
            "GUILD_UPDATE and THREAD_CREATE",
        )
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)
