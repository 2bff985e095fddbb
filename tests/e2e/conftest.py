"""End-to-end fixtures: the real bot, real discord.py, local Discord and 1min.ai servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fake_discord import FakeDiscord
from tests.support.fake_onemin import FakeOneMin
from tests.support.harness import BotHarness, World


@pytest.fixture
async def discord_server(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    """A local Discord; discord.py is pointed at it for the test.

    With ``--discord-latency``, every REST request and answer and every gateway
    frame takes that long each way. Whatever the latency, every interaction must
    have been acknowledged within Discord's 3 seconds.
    """
    fake = FakeDiscord()
    fake.latency = request.config.getoption("--discord-latency")
    await fake.start()
    with fake.patch_discord_py():
        yield fake
        fake.assert_no_protocol_errors()
        late = fake.late_acknowledgements
        assert not late, f"answered after {fake.initial_response_timeout} s: {late}"
    await fake.close()


@pytest.fixture
async def harness(
    discord_server: FakeDiscord, onemin: FakeOneMin, tmp_path: Path
) -> AsyncIterator[BotHarness]:
    """A bot harness; the bot is stopped after the test."""
    h = BotHarness(discord_server, onemin, tmp_path / "data" / "bot.sqlite3")
    yield h
    await h.stop()


@pytest.fixture
async def world(harness: BotHarness) -> World:
    """A started bot in a server with alice, bob and a moderator."""
    return await World.create(harness)
