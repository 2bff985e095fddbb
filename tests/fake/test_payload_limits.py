"""Limits on message payloads (discord-api-docs "Message Resource": Embed Limits, content)
and how edits re-parse mentions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake.conftest import Raw
from tests.support.fake_discord import FakeDiscord

FIELD = {"name": "n", "value": "v"}

# (what is sent, where the error is, Discord's error code); each is one over its limit.
OVER: list[tuple[dict[str, Any], tuple[str | int, ...], str]] = [
    ({"content": "x" * 2001}, ("content",), "BASE_TYPE_MAX_LENGTH"),
    ({"embeds": [{"title": "x" * 257}]}, ("embeds", 0, "title"), "BASE_TYPE_MAX_LENGTH"),
    (
        {"embeds": [{"description": "x" * 4097}]},
        ("embeds", 0, "description"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"embeds": [{"fields": [{"name": "x" * 257, "value": "v"}]}]},
        ("embeds", 0, "fields", 0, "name"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"embeds": [{"fields": [{"name": "n", "value": "x" * 1025}]}]},
        ("embeds", 0, "fields", 0, "value"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        {"embeds": [{"footer": {"text": "x" * 2049}}]},
        ("embeds", 0, "footer", "text"),
        "BASE_TYPE_MAX_LENGTH",
    ),
    ({"embeds": [{"fields": [FIELD] * 26}]}, ("embeds", 0, "fields"), "BASE_TYPE_MAX_LENGTH"),
    (
        # 6001 characters over two embeds, each within its own limits.
        {"embeds": [{"description": "x" * 4000}, {"description": "x" * 2001}]},
        ("embeds",),
        "MAX_EMBED_SIZE_EXCEEDED",
    ),
]

AT_LIMIT: list[dict[str, Any]] = [
    {"content": "x" * 2000},
    {
        "embeds": [
            {
                "title": "x" * 256,
                "description": "x" * 3000,
                "footer": {"text": "x" * 1000},
                "fields": [{"name": "x" * 10, "value": "x" * 58}] * 25,
            }
        ]
    },  # 256 + 3000 + 1000 + 25 × 68 = 5956
    {"embeds": [{"fields": [{"name": "x" * 256, "value": "x" * 1024}]}]},
]


def error_at(body: dict[str, Any], path: tuple[str | int, ...]) -> list[str]:
    node = body["errors"]
    for part in path:
        node = node[str(part)]
    return [e["code"] for e in node["_errors"]]


@pytest.mark.parametrize(("payload", "path", "code"), OVER)
async def test_one_over_a_limit_is_refused_where_it_is(
    raw: Raw, payload: dict[str, Any], path: tuple[str | int, ...], code: str
) -> None:
    status, body, _ = await raw.request(
        "POST", f"/channels/{raw.guild.text_channel.id}/messages", json=payload
    )
    assert (status, body["code"]) == (400, 50035)
    assert code in error_at(body, path)


async def test_payloads_at_their_limits_are_taken(raw: Raw) -> None:
    it = await raw.deferred()
    for payload in AT_LIMIT:
        status, _, _ = await raw.request(
            "POST", f"/channels/{raw.guild.text_channel.id}/messages", json=payload
        )
        assert status == 200, payload
        status, _, _ = await raw.request(
            "PATCH", f"{raw.hook(it)}/messages/@original", auth=False, json=payload
        )
        assert status == 200, payload


def button(emoji: Any) -> dict[str, Any]:
    row = {"type": 1, "components": [{"type": 2, "style": 2, "custom_id": "b", "emoji": emoji}]}
    return {"content": "x", "components": [row]}


@pytest.mark.parametrize("emoji", [{"name": "🔄"}, {"name": "✏️"}, {"name": "🗑️"}, {"name": "1️⃣"}])
async def test_button_emoji_that_are_emoji_are_taken(raw: Raw, emoji: dict[str, Any]) -> None:
    path = f"/channels/{raw.guild.text_channel.id}/messages"
    assert (await raw.request("POST", path, json=button(emoji)))[0] == 200
    custom = {"id": "123456789012345678", "name": "party"}
    assert (await raw.request("POST", path, json=button(custom)))[0] == 200


@pytest.mark.parametrize("emoji", [{}, {"name": "black_nib"}, {"name": ":smile:"}, {"name": "x"}])
async def test_button_emoji_that_are_not_are_refused(raw: Raw, emoji: dict[str, Any]) -> None:
    status, body, _ = await raw.request(
        "POST", f"/channels/{raw.guild.text_channel.id}/messages", json=button(emoji)
    )
    assert status == 400
    where = ("components", 0, "components", 0, "emoji", "name")
    assert error_at(body, where) == ["BUTTON_COMPONENT_INVALID_EMOJI"]


async def test_an_edit_without_allowed_mentions_parses_mentions_with_the_defaults(
    raw: Raw, server: FakeDiscord
) -> None:
    role = server.add_role(raw.guild, "artists")
    role.mentionable = True
    ping = f"{raw.user.mention} and <@&{role.id}>"
    path = f"/channels/{raw.guild.text_channel.id}/messages"
    quiet = {"content": ping, "allowed_mentions": {"parse": []}}
    message = (await raw.request("POST", path, json=quiet))[1]
    assert message["mentions"] == [] and message["mention_roles"] == []

    # The creation's allowed_mentions do not carry over: a channel message's defaults
    # parse users and roles.
    edited = (await raw.request("PATCH", f"{path}/{message['id']}", json={"content": ping}))[1]
    assert [u["id"] for u in edited["mentions"]] == [str(raw.user.id)]
    assert edited["mention_roles"] == [str(role.id)]
    # An edit that leaves the content alone leaves the mentions alone.
    same = (await raw.request("PATCH", f"{path}/{message['id']}", json={"embeds": []}))[1]
    assert len(same["mentions"]) == 1

    # Interaction responses default to users only.
    it = await raw.deferred()
    hook = f"{raw.hook(it)}/messages/@original"
    await raw.request("PATCH", hook, auth=False, json=quiet)
    edited = (await raw.request("PATCH", hook, auth=False, json={"content": ping}))[1]
    assert [u["id"] for u in edited["mentions"]] == [str(raw.user.id)]
    assert edited["mention_roles"] == []
