"""The fake's rate limits (discord-api-docs "Rate Limits"; discord.py's handling of 429)."""

from __future__ import annotations

import discord
import pytest

from tests.fake.conftest import RULES_TOKEN, Raw
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_discord.ratelimits import VIA

HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
)


async def test_every_answer_carries_the_rate_limit_headers_and_via(raw: Raw) -> None:
    for method, path, expected in (
        ("GET", "/users/@me", 200),
        ("GET", "/channels/1/messages", 404),  # an error answer too
    ):
        status, _, headers = await raw.request(method, path)
        assert status == expected
        for name in HEADERS:
            assert name in headers, (path, name)
        assert headers["Via"] == VIA
    status, _, headers = await raw.request("GET", "/users/@me", auth=False)
    assert status == 401 and headers["X-RateLimit-Bucket"]


async def test_channel_messages_are_limited_per_channel(raw: Raw, server: FakeDiscord) -> None:
    other = server.add_channel(raw.guild, "other")
    path = f"/channels/{raw.guild.text_channel.id}/messages"
    seen = []
    for n in range(5):
        status, _, headers = await raw.request("POST", path, json={"content": f"m{n}"})
        seen.append((status, headers["X-RateLimit-Remaining"]))
    assert seen == [(200, "4"), (200, "3"), (200, "2"), (200, "1"), (200, "0")]
    assert headers["X-RateLimit-Limit"] == "5"
    bucket = headers["X-RateLimit-Bucket"]

    status, body, headers = await raw.request("POST", path, json={"content": "sixth"})
    assert status == 429
    # discord-api-spec's RatelimitedResponse: an Error (code, message) with these two.
    assert set(body) == {"message", "code", "retry_after", "global"}
    assert body["global"] is False and 0 < body["retry_after"] <= 5
    assert headers["X-RateLimit-Scope"] == "user"
    assert int(headers["Retry-After"]) >= body["retry_after"]
    assert headers["Via"] == VIA
    assert [m.content for m in server.channel_messages(raw.guild.text_channel)][-1] == "m4"

    # Another channel is another top-level resource: same bucket, its own count.
    status, _, headers = await raw.request(
        "POST", f"/channels/{other.id}/messages", json={"content": "elsewhere"}
    )
    assert (status, headers["X-RateLimit-Bucket"]) == (200, bucket)
    assert server.ratelimits.count_429() == 1


async def test_an_interaction_webhook_is_limited_per_token(raw: Raw, server: FakeDiscord) -> None:
    first, second = await raw.deferred(), await raw.deferred()
    statuses = []
    for n in range(6):
        status, _, _ = await raw.request(
            "PATCH", f"{raw.hook(first)}/messages/@original", auth=False, json={"content": f"{n}"}
        )
        statuses.append(status)
    assert statuses == [200] * 5 + [429]
    status, _, headers = await raw.request(
        "PATCH", f"{raw.hook(second)}/messages/@original", auth=False, json={"content": "ok"}
    )
    assert (status, headers["X-RateLimit-Limit"]) == (200, "5")


async def test_the_global_limit_spares_interaction_endpoints(raw: Raw, server: FakeDiscord) -> None:
    it = await raw.deferred()
    server.ratelimits.reset()
    server.ratelimits.global_limit = 3
    statuses = [(await raw.request("GET", "/users/@me"))[0] for _ in range(3)]
    status, body, headers = await raw.request("GET", "/users/@me")
    assert statuses == [200, 200, 200]
    assert (status, body["global"]) == (429, True)
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    # Interaction endpoints are not bound to the global limit.
    status, _, _ = await raw.request(
        "PATCH", f"{raw.hook(it)}/messages/@original", auth=False, json={"content": "still"}
    )
    assert status == 200


async def test_401_403_and_429_answers_are_counted_shared_429s_are_not(
    raw: Raw, server: FakeDiscord
) -> None:
    before = server.ratelimits.invalid_count
    await raw.request("GET", "/users/@me", auth=False)  # 401
    server.add_channel(raw.guild, "closed", forbidden=True)
    closed = next(c for c in raw.guild.channels.values() if c.name == "closed")
    await raw.request("POST", f"/channels/{closed.id}/messages", json={"content": "x"})  # 403
    server.ratelimits.global_limit = 0
    await raw.request("GET", "/users/@me")  # 429, global
    assert server.ratelimits.invalid_count == before + 3

    server.ratelimits.global_limit = 50
    server.ratelimits.channel_webhook = (1, 60.0)
    it = await raw.deferred()
    hook = f"{raw.hook(it)}/messages/@original"
    await raw.request("PATCH", hook, auth=False, json={"content": "one"})
    status, body, headers = await raw.request("PATCH", hook, auth=False, json={"content": "two"})
    # The channel's hidden limit: a shared 429 while the route's bucket has room.
    assert (status, headers["X-RateLimit-Scope"]) == (429, "shared")
    assert int(headers["X-RateLimit-Remaining"]) > 0 and body["retry_after"] > 0
    assert server.ratelimits.invalid_count == before + 3
    assert server.ratelimits.count_429("shared") == 1


async def test_discord_py_waits_out_a_429_with_via_and_raises_one_without(
    server: FakeDiscord,
) -> None:
    guild = server.add_guild()
    client = discord.Client(intents=discord.Intents.none())
    await client.login(RULES_TOKEN)
    try:
        channel = await client.fetch_channel(guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        # A global 429 discord.py cannot foresee from the route's headers: it sleeps
        # retry_after and sends again, because the answer has a Via header.
        server.ratelimits.reset()
        server.ratelimits.global_limit = 1
        await client.fetch_channel(guild.text_channel.id)  # this second's one request
        await channel.send("waited")
        assert [m.content for m in server.channel_messages(guild.text_channel)] == ["waited"]
        assert server.ratelimits.count_429("global") >= 1

        # Without Via, discord.py takes the 429 for a Cloudflare ban and raises.
        server.ratelimits.via = None
        server.ratelimits.reset()
        await client.fetch_channel(guild.text_channel.id)
        with pytest.raises(discord.HTTPException) as raised:
            await channel.send("refused")
        assert raised.value.status == 429
    finally:
        await client.close()
