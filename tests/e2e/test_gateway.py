"""Connecting to Discord: the gateway address from /gateway/bot, shards, reconnects."""

from __future__ import annotations

import asyncio

import pytest
import yarl
from discord.gateway import DiscordWebSocket

from tests.support.fake_discord import FakeDiscord, FakeGuild
from tests.support.harness import BotHarness

# A loopback port nothing listens on: if the bot ever used this address it would fail
# (and nothing here may reach the real Discord).
NOWHERE = yarl.URL("ws://127.0.0.1:9/")


def has_image(message) -> bool:
    return bool(message.attachments)


@pytest.fixture
async def sharded_discord():
    fake = FakeDiscord(shard_count=2)
    await fake.start()
    with fake.patch_discord_py():
        yield fake
    await fake.close()


async def test_identifies_with_guilds_intent_only(harness, discord_server):
    discord_server.add_guild(name="Intents")
    await harness.start()
    [identify] = discord_server.identifies
    assert identify["intents"] == 1  # GUILDS
    assert identify["shard"] == [0, 1]


async def test_the_recommended_shard_count_is_used(onemin, sharded_discord, tmp_path):
    # A guild's shard is (id >> 22) % shards: ids minted a millisecond apart differ.
    guilds: list[FakeGuild] = []
    while {g.shard_id(2) for g in guilds} != {0, 1}:
        guilds.append(sharded_discord.add_guild(name=f"g{len(guilds)}"))
        await asyncio.sleep(0.002)
    harness = BotHarness(sharded_discord, onemin, tmp_path / "bot.sqlite3")
    try:
        bot = await harness.start()
        assert bot.shard_count == 2
        assert {s["shard"][0] for s in sharded_discord.identifies} == {0, 1}
        for guild in guilds:
            user = sharded_discord.add_member(guild, f"u{guild.name}")
            interaction = await sharded_discord.invoke_command(
                guild, guild.text_channel, user, "imagine", {"prompt": guild.name}
            )
            await interaction.wait_for_original(has_image, timeout=10)
    finally:
        await harness.stop()


async def test_an_invalidated_session_reconnects_to_the_given_gateway(harness, discord_server):
    guild = discord_server.add_guild(name="Reconnect")
    alice = discord_server.add_member(guild, "alice")
    # discord.py falls back to DEFAULT_GATEWAY after an invalidated session; the bot must
    # point it at the address /gateway/bot returned, not keep a built-in one.
    DiscordWebSocket.DEFAULT_GATEWAY = NOWHERE
    await harness.start()
    assert yarl.URL(discord_server.gateway_url) == DiscordWebSocket.DEFAULT_GATEWAY

    session = discord_server.session_for_shard(0)
    session.invalidated = True
    await discord_server.drop_connection(0)
    await discord_server.wait_until(
        lambda: len(discord_server.identifies) == 2 or None, 15, "a fresh IDENTIFY"
    )
    await discord_server.wait_for_ready(10)
    interaction = await discord_server.invoke_command(
        guild, guild.text_channel, alice, "imagine", {"prompt": "after reconnect"}
    )
    await interaction.wait_for_original(has_image, timeout=10)
