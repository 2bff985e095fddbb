"""/imagine: parse the prompt and options, hand the request to the job service."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import ImagineBot
from bot.jobs.request import JobRequest
from bot.models import aspect_ratios
from bot.ratio_option import fit_aspect_ratio_option

PROMPT_MAX = 1500


class ImagineCog(commands.Cog):
    """Image generation for members."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        # The ratio choices are the generation model's (none: no aspect_ratio option).
        fit_aspect_ratio_option(self.imagine, aspect_ratios(bot.settings))

    @app_commands.command(name="imagine")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What should the image show?",
        aspect_ratio="Shape of the image (default 1:1, square)",
    )
    async def imagine(
        self,
        interaction: discord.Interaction[ImagineBot],
        prompt: app_commands.Range[str, 1, PROMPT_MAX],
        aspect_ratio: app_commands.Choice[str] | None = None,
    ) -> None:
        """Create an image from a text prompt."""
        await self.bot.jobs.submit(
            interaction, JobRequest(prompt, aspect_ratio.value if aspect_ratio else None)
        )


async def setup(bot: ImagineBot) -> None:
    """Load the cog."""
    await bot.add_cog(ImagineCog(bot))
