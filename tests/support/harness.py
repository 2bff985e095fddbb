"""Running the real bot against the local fakes: :class:`BotHarness` and :class:`World`.

Plain classes (no pytest), so the end-to-end fixtures and the benchmarks build the bot
the same way. The bot is constructed in exactly one place, :meth:`BotHarness.start`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from bot.app import ImagineBot
from bot.config import Settings, load_settings
from bot.resources import configure_process, open_resources
from tests.support.fake_discord import (
    FakeAttachment,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeInteraction,
    FakeUser,
)
from tests.support.fake_onemin import FakeOneMin

# Permission bits (discord-api-docs, "Permissions"): what the moderator of a World holds.
MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13


@dataclass
class BotHarness:
    """Starts, stops and restarts the real bot in this event loop."""

    discord: FakeDiscord
    api: FakeOneMin
    db_path: Path
    env: dict[str, str] = field(default_factory=dict)
    bot: ImagineBot | None = None
    task: asyncio.Task[None] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``ImagineBot`` over the harness's quick defaults."""
    edit_interval: float = 0.05
    """Least time between two queue-position edits of one message (2 s in production);
    short so tests see positions move."""
    _resources: contextlib.AsyncExitStack | None = None

    def settings(self) -> Settings:
        """The bot's settings: the fakes, a private database, quick timeouts."""
        env = {
            "DISCORD_TOKEN": self.discord.token,
            "ONEMIN_API_KEY": self.api.api_key,
            "ONEMIN_API_URL": self.api.base_url,
            "DISCORD_API_URL": self.discord.api_url,
            "DATABASE_PATH": str(self.db_path),
            "DEFAULT_COOLDOWN_SECONDS": "0",
            "ONEMIN_TIMEOUT_SECONDS": "10",
            "SHUTDOWN_GRACE_SECONDS": "5",
        }
        env.update(self.env)
        return load_settings(env)

    async def start(self, **env: str) -> ImagineBot:
        """Start the bot and wait until it has received every guild."""
        self.env.update(env)
        # Logging in and connecting take a dozen round trips: under a latency knob
        # that is seconds per start, and says nothing about answering in time. The
        # knob applies to what the bot does once it is ready.
        latency, self.discord.latency = self.discord.latency, 0.0
        try:
            return await self._start()
        finally:
            self.discord.latency = latency

    async def _start(self) -> ImagineBot:
        settings = self.settings()
        # Built the way the entry point builds it (bot/__main__.py).
        configure_process(settings)
        self._resources = contextlib.AsyncExitStack()
        resources = await self._resources.enter_async_context(open_resources(settings))
        # discord.py waits guild_ready_timeout after the last GUILD_CREATE before READY.
        bot = ImagineBot(
            settings,
            session=resources.session,
            db=resources.db,
            **{"guild_ready_timeout": 0.05, **self.options},
        )
        bot.jobs.messages.min_interval = self.edit_interval
        self.bot = bot
        self.task = asyncio.create_task(bot.start(self.discord.token))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self.task}, timeout=15, return_when="FIRST_COMPLETED")
        if self.task in done:
            ready.cancel()
            self.task.result()
            raise AssertionError("the bot stopped before it was ready")
        if ready not in done:
            raise AssertionError("the bot did not become ready in 15 s")
        return bot

    async def stop(self) -> None:
        """Close the bot the way SIGTERM does."""
        if self.bot is not None:
            await self.bot.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self._resources is not None:
            await self._resources.aclose()
        self.bot = None
        self.task = None
        self._resources = None

    async def restart(self, **env: str) -> ImagineBot:
        """Stop and start again on the same database."""
        await self.stop()
        return await self.start(**env)


@dataclass
class World:
    """A server with a channel, two members and a moderator."""

    discord: FakeDiscord
    api: FakeOneMin
    harness: BotHarness
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    bob: FakeUser
    mod: FakeUser

    @classmethod
    async def create(cls, harness: BotHarness) -> World:
        """Add "Test Server" with alice, bob and mod to the fake, then start the bot."""
        fake = harness.discord
        guild = fake.add_guild(name="Test Server")
        alice = fake.add_member(guild, "alice")
        bob = fake.add_member(guild, "bob")
        mod = fake.add_member(guild, "mod", permissions=MANAGE_GUILD | MANAGE_MESSAGES)
        await harness.start()
        return cls(fake, harness.api, harness, guild, guild.text_channel, alice, bob, mod)

    @property
    def bot(self) -> ImagineBot:
        """The running bot."""
        assert self.harness.bot is not None
        return self.harness.bot

    async def wait_for_row(
        self, job_id: int, *statuses: str, timeout: float = 10.0
    ) -> aiosqlite.Row:
        """The stored request once its status is one of ``statuses``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            row = await self.bot.db.fetchone("SELECT * FROM requests WHERE id = ?", (job_id,))
            if row is not None and row["status"] in statuses:
                return row
            if loop.time() > deadline:
                found = None if row is None else row["status"]
                raise AssertionError(f"job {job_id} is {found}, not {statuses}")
            await asyncio.sleep(0.02)

    async def imagine(
        self, user: FakeUser | None = None, prompt: str = "a red fox", **options: Any
    ) -> FakeInteraction:
        """Run /imagine as ``user`` (alice by default); return the interaction."""
        return await self.discord.invoke_command(
            self.guild, self.channel, user or self.alice, "imagine", {"prompt": prompt, **options}
        )

    async def edit(
        self,
        image: FakeAttachment,
        prompt: str = "make it night",
        user: FakeUser | None = None,
        **references: FakeAttachment,
    ) -> FakeInteraction:
        """Run /edit as ``user`` (alice by default) on an uploaded ``image``; ``references``
        are ``reference=`` and ``reference2=``."""
        options: dict[str, Any] = {"image": image, "prompt": prompt, **references}
        return await self.discord.invoke_command(
            self.guild, self.channel, user or self.alice, "edit", options
        )
