"""/imagine: take a prompt, queue a job, answer at once."""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.app import ImagineBot
from bot.errors import UserFacingError, reply_ephemeral
from bot.jobs import QueueClosedError
from bot.limits import RefusedError, admit, record_refusal
from bot.models import aspect_ratios
from bot.ratio_option import fit_aspect_ratio_option
from bot.storage import requests
from bot.storage.requests import NewRequest, Status
from cogs.imagine_views import DYNAMIC_ITEMS, queued_view, result_view

log = logging.getLogger(__name__)

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
        await self.submit(interaction, prompt, aspect_ratio.value if aspect_ratio else None)

    async def submit(
        self, interaction: discord.Interaction[ImagineBot], prompt: str, aspect_ratio: str | None
    ) -> None:
        """Store a request, answer the member with its place in the queue, and queue it."""
        with self.bot.in_flight.track():
            await self._submit(interaction, prompt, aspect_ratio)

    async def _submit(
        self, interaction: discord.Interaction[ImagineBot], prompt: str, aspect_ratio: str | None
    ) -> None:
        if interaction.guild_id is None or interaction.channel_id is None:
            raise UserFacingError("Images can only be made in a server.")
        prompt = prompt.strip()
        if not prompt:
            raise UserFacingError("The prompt is empty: describe the image you want.")
        if not self.bot.jobs.accepting:
            raise UserFacingError("The bot is restarting; please try again in a minute.")
        request = NewRequest(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            prompt=prompt,
            aspect_ratio=aspect_ratio,
            application_id=interaction.application_id,
            interaction_id=interaction.id,
            interaction_token=interaction.token,
            attachment_limit=interaction.filesize_limit,
        )
        bot = self.bot
        now = time.time()
        words = await bot.word_filters.get(interaction.guild_id)
        if words.find(prompt) is not None:
            await record_refusal(bot.db, request, "blocked", now)
            # Answer first: the audit post is a Discord call of its own.
            await reply_ephemeral(
                interaction,
                "This prompt uses a word this server's moderators have blocked. Try rewording it.",
            )
            await bot.audit.blocked(
                interaction.guild_id, interaction.channel_id, interaction.user.id, prompt
            )
            return
        roles = [role.id for role in getattr(interaction.user, "roles", ())]
        limits = await bot.guild_limits.for_member(interaction.guild_id, roles)
        try:
            job_id = await admit(
                bot.db, request, limits, now=now, queue_wait=bot.jobs.estimated_wait(1)
            )
        except RefusedError as refused:
            # Answer first, then keep the refused attempt in the usage log.
            await reply_ephemeral(interaction, refused.refusal.message)
            await record_refusal(bot.db, request, refused.refusal.limit.value, now)
            return
        text = bot.progress.text_for(bot.jobs.queued_count(interaction.guild_id) + 1)
        try:
            callback = await interaction.response.send_message(
                text, view=queued_view(job_id), allowed_mentions=messages.NO_PINGS
            )
        except discord.HTTPException:
            # The member never saw an answer: do not run (or charge) the job.
            await requests.update(self.bot.db, job_id, status=Status.CANCELLED.value)
            raise
        job = await requests.set_response_message(bot.db, job_id, callback.message_id)
        bot.progress.initial(job, text)
        try:
            self.bot.jobs.enqueue(job)
        except QueueClosedError:
            # Shutdown began between the check and now; the row stays queued
            # and runs after the restart.
            log.info("Job %d stays queued for after the restart", job_id)


async def setup(bot: ImagineBot) -> None:
    """Load the cog and register its buttons, so old messages' buttons work after a restart."""
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    bot.runner.result_view = result_view
    await bot.add_cog(ImagineCog(bot))


async def teardown(bot: ImagineBot) -> None:
    """Unregister the buttons."""
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
    bot.runner.result_view = None
