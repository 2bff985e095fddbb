"""Interaction tokens that die, and the latency knob (discord-api-docs "Receiving and
Responding": tokens live 15 minutes, the first answer is due within 3 seconds)."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands

from tests.fake.conftest import RULES_TOKEN, Raw
from tests.support.fake_discord import FakeDiscord


async def test_an_expired_token_answers_401_50027_and_an_unknown_one_404_10015(
    raw: Raw, server: FakeDiscord
) -> None:
    it = await raw.deferred()
    server.expire_interaction(it)
    status, body, _ = await raw.request(
        "PATCH", f"{raw.hook(it)}/messages/@original", auth=False, json={"content": "late"}
    )
    assert (status, body) == (401, {"message": "Invalid Webhook Token", "code": 50027})
    status, body, _ = await raw.request(
        "POST", f"/webhooks/{server.application_id}/not-a-token", auth=False, json={"content": "x"}
    )
    assert (status, body["code"]) == (404, 10015)
    assert server.protocol_errors == []


async def test_a_token_is_past_its_15_minutes_by_the_clock_too(
    raw: Raw, server: FakeDiscord
) -> None:
    it = await raw.deferred()
    server.interaction_token_lifetime = 0.05
    await asyncio.sleep(0.1)
    status, body, _ = await raw.request("GET", f"{raw.hook(it)}/messages/@original", auth=False)
    assert (status, body["code"]) == (401, 50027)


async def test_reusing_a_token_that_answered_401_or_404_is_a_protocol_error(
    raw: Raw, server: FakeDiscord
) -> None:
    it = await raw.deferred()
    server.expire_interaction(it)
    hook = f"{raw.hook(it)}/messages/@original"
    await raw.request("PATCH", hook, auth=False, json={"content": "first"})
    assert server.protocol_errors == []
    await raw.request("PATCH", hook, auth=False, json={"content": "again"})
    [error] = server.protocol_errors
    assert "already answered 401" in error and it.token not in error
    server.protocol_errors.clear()

    unknown = f"/webhooks/{server.application_id}/gone"
    await raw.request("POST", unknown, auth=False, json={"content": "x"})
    await raw.request("POST", unknown, auth=False, json={"content": "x"})
    [error] = server.protocol_errors
    assert "already answered 404" in error
    server.protocol_errors.clear()


async def test_a_webhook_call_before_the_first_answer_does_not_kill_the_token(
    raw: Raw, server: FakeDiscord
) -> None:
    it = await server.invoke_command(raw.guild, raw.guild.text_channel, raw.user, "ping")
    status, body, _ = await raw.request("POST", raw.hook(it), auth=False, json={"content": "x"})
    assert (status, body["code"]) == (404, 10015)
    await raw.request(
        "POST", f"/interactions/{it.id}/{it.token}/callback", auth=False, json={"type": 5}
    )
    status, _, _ = await raw.request(
        "PATCH", f"{raw.hook(it)}/messages/@original", auth=False, json={"content": "fine"}
    )
    assert status == 200 and server.protocol_errors == []


async def test_latency_delays_rest_answers_each_way(raw: Raw, server: FakeDiscord) -> None:
    server.latency = 0.1
    loop = asyncio.get_running_loop()
    began = loop.time()
    status, _, _ = await raw.request("GET", "/users/@me")
    assert status == 200
    assert loop.time() - began >= 0.2
    # The request reached "Discord" one latency after it was sent.
    assert server.requests[-1].time - began >= 0.1


async def test_latency_delays_gateway_frames_and_counts_in_the_3_seconds(
    server: FakeDiscord,
) -> None:
    guild = server.add_guild()
    user = server.add_member(guild, "eve")
    client = discord.Client(intents=discord.Intents(guilds=True))
    tree = app_commands.CommandTree(client)

    @tree.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    task = asyncio.create_task(client.start(RULES_TOKEN))
    try:
        await server.wait_for_ready()
        await tree.sync()
        server.latency = 0.15
        it = await server.invoke_command(guild, guild.text_channel, user, "ping")
        await it.wait_for_response()
        # Out on the gateway, back over REST: at least a latency each way.
        assert it.ack_latency is not None and it.ack_latency >= 0.3
        assert server.late_acknowledgements == []

        # An answer that, with its round trip, comes after the deadline is refused
        # and remembered.
        server.initial_response_timeout = 0.2
        late = await server.invoke_command(guild, guild.text_channel, user, "ping")
        await server.wait_until(lambda: late.responses, 5, "the late answer")
        assert not late.responded
        assert server.late_acknowledgements == [late]
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)
