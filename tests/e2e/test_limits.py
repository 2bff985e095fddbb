"""Limits end to end: moderators set them from Discord, members are refused clearly."""

from __future__ import annotations

import asyncio
import re

from tests.support.fake_discord import FakeInteraction
from tests.support.fake_onemin import Scripted


def has_image(message) -> bool:
    return bool(message.attachments)


async def set_limits(world, options) -> None:
    """Run /limits set as the moderator and wait for its answer."""
    interaction = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "limits set", options
    )
    await interaction.wait_for_original()


async def refused_text(interaction: FakeInteraction) -> str:
    callback = await interaction.wait_for_response()
    assert callback.ephemeral, "refusals are private"
    message = await interaction.wait_for_original()
    return message.content


async def test_user_daily_limit_set_by_a_moderator(world):
    setting = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "limits set", {"user_daily": 2}
    )
    answer = await setting.wait_for_original()
    assert setting.ephemeral
    fields = {f["name"]: f["value"] for f in answer.embeds[0]["fields"]}
    assert fields["Per member"] == "2 images / 24 h"

    for n in range(2):
        done = await world.imagine(prompt=f"cat {n}")
        await done.wait_for_original(has_image, timeout=10)
    calls = len(world.api.requests)
    third = await world.imagine(prompt="cat 3")
    text = await refused_text(third)
    assert "2 images" in text
    assert re.search(r"<t:\d+:R>", text), "says when to try again"
    assert len(world.api.requests) == calls, "the API is not called"

    other = await world.imagine(world.bob, prompt="dog")
    await other.wait_for_original(has_image, timeout=10)
    rows = await world.bot.db.fetchall("SELECT user_id, status, error_kind FROM requests")
    assert [r["status"] for r in rows].count("refused") == 1
    assert any(r["error_kind"] == "user_daily" for r in rows)


async def test_failed_generation_is_not_charged(world):
    await set_limits(world, {"user_daily": 1})
    world.api.script(Scripted.error(500), Scripted.error(500), Scripted.error(500))
    failed = await world.imagine(prompt="unlucky")
    await world.wait_for_row(1, "failed")
    assert not failed.original_message.attachments
    retry = await world.imagine(prompt="lucky")
    await retry.wait_for_original(has_image, timeout=10)


async def test_cooldown_refuses_then_allows(world):
    await set_limits(world, {"cooldown_seconds": 1})
    first = await world.imagine(prompt="one")
    await first.wait_for_response()
    second = await world.imagine(prompt="two")
    assert "Cooldown" in await refused_text(second)
    await asyncio.sleep(1.05)
    third = await world.imagine(prompt="three")
    await third.wait_for_original(has_image, timeout=10)


async def test_guild_daily_and_zero_limits_refuse(world):
    await set_limits(world, {"guild_daily": 1})
    ok = await world.imagine(prompt="only one")
    await ok.wait_for_original(has_image, timeout=10)
    refused = await world.imagine(world.bob, prompt="two")
    assert "This server has used its 1 images" in await refused_text(refused)

    await set_limits(world, {"guild_daily": 0})
    off = await world.imagine(world.bob, prompt="three")
    assert "turned off" in await refused_text(off)


async def test_set_needs_an_option_and_members_cannot_use_limits(world):
    empty = await world.discord.invoke_command(world.guild, world.channel, world.mod, "limits set")
    assert "at least one" in (await empty.wait_for_original()).content
    # Discord itself hides /limits from members without Manage Server.
    try:
        await world.discord.invoke_command(
            world.guild, world.channel, world.alice, "limits set", {"user_daily": 99}
        )
    except PermissionError:
        pass
    else:
        raise AssertionError("a member without Manage Server could run /limits")


async def test_simultaneous_requests_for_the_last_slot_give_one_job(world):
    await set_limits(world, {"guild_daily": 1})
    world.api.latency = 0.3
    members = [world.discord.add_member(world.guild, f"m{n}") for n in range(5)]
    interactions = await asyncio.gather(
        *(world.imagine(m, prompt=f"race {m.username}") for m in members)
    )
    callbacks = [await i.wait_for_response() for i in interactions]
    assert sorted(c.ephemeral for c in callbacks) == [False, True, True, True, True]
    rows = await world.bot.db.fetchall("SELECT status FROM requests WHERE status != 'refused'")
    assert len(rows) == 1


async def test_settings_and_usage_survive_a_restart_and_reset_restores(world):
    await set_limits(world, {"user_daily": 1})
    done = await world.imagine(prompt="before restart")
    await done.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(1, "succeeded")

    await world.harness.restart()
    again = await world.imagine(prompt="after restart")
    assert "1 images" in await refused_text(again)

    reset = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "limits reset", {"user": world.alice}
    )
    assert "full quota" in (await reset.wait_for_original()).content
    allowed = await world.imagine(prompt="after reset")
    await allowed.wait_for_original(has_image, timeout=10)


async def test_usage_shows_the_numbers(world):
    await set_limits(world, {"user_daily": 5, "guild_daily": 50})
    for n in range(2):
        done = await world.imagine(prompt=f"n{n}")
        await done.wait_for_original(has_image, timeout=10)
    bob = await world.imagine(world.bob, prompt="bob's")
    await bob.wait_for_original(has_image, timeout=10)
    usage = await world.discord.invoke_command(world.guild, world.channel, world.alice, "usage")
    message = await usage.wait_for_original()
    assert usage.ephemeral
    fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
    assert fields["You"] == "**2** of 5\n3 more available now"
    assert fields["This server"].startswith("**3** of 50")
    assert fields["Your queued jobs"] == "none"


async def test_a_full_queue_refuses_and_says_when_to_try(world):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1")
    await set_limits(world, {"max_queue": 1})
    world.api.hold()  # one job runs, one waits, until the third was refused
    running = await world.imagine(world.alice, prompt="running")
    await running.wait_for_response()
    await world.wait_for_row(1, "running")
    waiting = await world.imagine(world.bob, prompt="waiting")
    await waiting.wait_for_response()
    third = world.discord.add_member(world.guild, "carol")
    refused = await world.imagine(third, prompt="no room")
    text = await refused_text(refused)
    assert "queue is full (1 waiting)" in text
    assert re.search(r"<t:\d+:R>", text)
    world.api.release()
    await waiting.wait_for_original(has_image, timeout=10)
    prompts = [call.json["promptObject"]["prompt"] for call in world.api.requests]
    assert "no room" not in prompts
