"""The baseline: a bare discord.py bot whose /imagine only defers.

It is what any discord.py bot costs with the same intents (guilds only) and the same
sharding class as ours, so the benchmarks can show what the imagine bot adds on top.
Used in-process by ``bench.burst`` and, for memory, as a child process:

    DISCORD_TOKEN=... DISCORD_API_URL=http://127.0.0.1:PORT/api/v10 \\
        .venv/bin/python -m bench.barebot

It logs ``Ready as ...`` (like the real bot) once discord.py reports READY.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.http import Route

log = logging.getLogger("barebot")


class BareBot(commands.AutoShardedBot):
    """A minimal AutoShardedBot with one slash command, /imagine, that only defers."""

    def __init__(self, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            **options,
        )

        @self.tree.command(name="imagine", description="Create an image from a text prompt.")
        @app_commands.guild_only()
        @app_commands.describe(prompt="What should the image show?")
        async def imagine(
            interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 1500]
        ) -> None:
            await interaction.response.defer()

    async def setup_hook(self) -> None:
        """Register /imagine with Discord (the fake only dispatches registered commands)."""
        await self.tree.sync()

    async def on_ready(self) -> None:
        """Log the same line as the real bot, so a parent can wait for it."""
        log.info("Ready as %s in %d server(s)", self.user, len(self.guilds))


async def _run() -> None:
    Route.BASE = os.environ["DISCORD_API_URL"].rstrip("/")
    bot = BareBot()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with bot:
        runner = asyncio.create_task(bot.start(os.environ["DISCORD_TOKEN"]))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        await bot.close()
        stopper.cancel()
        if runner.done():
            runner.result()


def main() -> None:
    """Run the bare bot until SIGTERM/SIGINT, configured from the environment."""
    discord.utils.setup_logging(level=logging.INFO, root=True)
    asyncio.run(_run())


if __name__ == "__main__":
    main()
