"""Fixtures for the tests of Discord's rules in the fake: a server, and a raw client.

The raw client speaks HTTP and the gateway without discord.py, so a test sees exactly
the statuses, bodies and headers the fake answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.support.fake_discord import (
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeInteraction,
    FakeUser,
    Intents,
)

RULES_TOKEN = "rules-token-456"


@pytest.fixture
async def server() -> AsyncIterator[FakeDiscord]:
    """A started fake with discord.py pointed at it; fails the test on protocol errors."""
    fake = FakeDiscord(token=RULES_TOKEN)
    await fake.start()
    try:
        with fake.patch_discord_py():
            yield fake
        fake.assert_no_protocol_errors()
    finally:
        await fake.close()


@dataclass
class Raw:
    """A bot that speaks raw HTTP to the fake, with one guild, one member and ``/ping``."""

    fake: FakeDiscord
    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    guild: FakeGuild
    user: FakeUser

    @property
    def auth(self) -> dict[str, str]:
        """The bot's Authorization header."""
        return {"Authorization": f"Bot {RULES_TOKEN}"}

    def url(self, path: str) -> str:
        """An API URL."""
        return f"{self.fake.api_url}{path}"

    async def request(
        self, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or None, headers) of one request."""
        headers = self.auth if auth else {}
        async with self.http.request(method, self.url(path), headers=headers, **kwargs) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, body, dict(resp.headers)

    async def deferred(self, channel: FakeChannel | None = None) -> FakeInteraction:
        """An interaction of ``/ping`` answered with a deferred message (its webhook lives)."""
        it = await self.fake.invoke_command(
            self.guild, channel or self.guild.text_channel, self.user, "ping"
        )
        status, _, _ = await self.request(
            "POST", f"/interactions/{it.id}/{it.token}/callback", auth=False, json={"type": 5}
        )
        assert status == 204
        return it

    def hook(self, it: FakeInteraction) -> str:
        """The path of an interaction's webhook."""
        return f"/webhooks/{self.fake.application_id}/{it.token}"


@pytest.fixture
async def raw(server: FakeDiscord) -> AsyncIterator[Raw]:
    """A raw client, identified on the gateway, with ``/ping`` registered."""
    guild = server.add_guild(name="Rules")
    user = server.add_member(guild, "dora")
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(server.gateway_url + "?v=10&encoding=json")
    try:
        await ws.receive_json()  # HELLO
        identify = {"token": RULES_TOKEN, "intents": Intents.GUILDS, "properties": {}}
        await ws.send_json({"op": 2, "d": identify})
        await server.wait_for_ready()
        client = Raw(server, http, ws, guild, user)
        status, _, _ = await client.request(
            "PUT",
            f"/applications/{server.application_id}/commands",
            json=[{"name": "ping", "description": "Ping", "type": 1}],
        )
        assert status == 200
        yield client
    finally:
        await ws.close()
        await http.close()
