"""/stats (moderators), /history (members) and /status (operator): figures from the log."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.app import ImagineBot
from bot.charts import daily_chart
from bot.errors import UserFacingError, require_guild
from bot.messages import jump_url
from bot.storage.jobs import Job
from bot.storage.stats import health, history, images_per_day, period_stats, top_members

DAY = 24 * 60 * 60
HISTORY_PAGE = 5
STATUS_ICONS = {
    "succeeded": "✅",
    "failed": "❌",
    "queued": "⏳",
    "running": "🎨",
    "cancelled": "🚫",
}


def history_embed(
    member: discord.abc.User, jobs: list[Job], page: int, total: int
) -> discord.Embed:
    """One page of a member's jobs."""
    pages = max(1, -(-total // HISTORY_PAGE))
    embed = discord.Embed(
        title=f"Recent images of {member.display_name}", colour=messages.RESULT_COLOUR
    )
    if not jobs:
        embed.description = "No images yet."
    for job in jobs:
        link = ""
        if job.result_message_id and job.result_channel_id and job.status == "succeeded":
            link = (
                f" · [open]({jump_url(job.guild_id, job.result_channel_id, job.result_message_id)})"
            )
        icon = STATUS_ICONS.get(job.status.value, "•")
        what = " · 🖌️ edit" if job.is_edit else ""
        embed.add_field(
            name=f"{icon} job #{job.id} · {job.status.value}{what}",
            value=f"{messages.truncate(messages.quote_prompt(job.prompt), 200)}\n"
            f"<t:{int(job.created_at)}:R>{link}",
            inline=False,
        )
    embed.set_footer(text=f"page {page + 1} of {pages} · {total} job(s)")
    return embed


def _edits(count: int) -> str:
    """How many of the images were edits, for /stats."""
    return f"{count} of them edit{'' if count == 1 else 's'}"


class HistoryView(discord.ui.View):
    """Previous / Next buttons over a member's history (private to whoever asked)."""

    def __init__(
        self, bot: ImagineBot, viewer_id: int, guild_id: int, member: discord.abc.User, total: int
    ) -> None:
        super().__init__(timeout=600)
        self.bot = bot
        self.viewer_id = viewer_id
        self.guild_id = guild_id
        self.member = member
        self.total = total
        self.page = 0
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        last = max(0, -(-self.total // HISTORY_PAGE) - 1)
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= last

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Only the member who asked turns the pages."""
        return bool(interaction.user.id == self.viewer_id)

    async def _show(self, interaction: discord.Interaction[ImagineBot]) -> None:
        jobs, self.total = await history(
            self.bot.db,
            self.guild_id,
            self.member.id,
            offset=self.page * HISTORY_PAGE,
            limit=HISTORY_PAGE,
        )
        self._sync_buttons()
        await interaction.response.edit_message(
            embed=history_embed(self.member, jobs, self.page, self.total), view=self
        )

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[ImagineBot], button: discord.ui.Button[Any]
    ) -> None:
        """Newer jobs."""
        self.page = max(0, self.page - 1)
        await self._show(interaction)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction[ImagineBot], button: discord.ui.Button[Any]
    ) -> None:
        """Older jobs."""
        self.page += 1
        await self._show(interaction)


class StatsCog(commands.Cog):
    """Figures for moderators, members and the operator."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(name="stats")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def stats(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Image statistics for this server, with a chart of the last 30 days."""
        guild_id = require_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = time.time()
        embed = discord.Embed(title="Image statistics", colour=messages.RESULT_COLOUR)
        for label, days in (("Last 24 hours", 1), ("Last 7 days", 7), ("Last 30 days", 30)):
            figures = await period_stats(self.bot.db, guild_id, since=now - days * DAY)
            average = f"{figures.average_seconds:.1f} s" if figures.average_seconds else "–"
            embed.add_field(
                name=label,
                value=f"{figures.images} images\n{figures.members} members\n"
                f"{figures.failures} failures\n{_edits(figures.edits)}\navg {average}",
                inline=True,
            )
        top = await top_members(self.bot.db, guild_id, since=now - 30 * DAY)
        embed.add_field(
            name="Top members (30 days)",
            value="\n".join(f"<@{user}>: {n}" for user, n in top) or "nobody yet",
            inline=False,
        )
        per_day = await images_per_day(self.bot.db, guild_id, days=30, now=now)
        # Drawing is CPU work; keep the event loop free.
        png = await asyncio.to_thread(
            daily_chart, per_day, title="Images per day (UTC), last 30 days"
        )
        embed.set_image(url="attachment://images-per-day.png")
        # Editing the deferred answer (rather than a followup, which Discord
        # only sometimes folds into it) leaves exactly one message.
        await interaction.edit_original_response(
            embed=embed,
            attachments=[discord.File(io.BytesIO(png), filename="images-per-day.png")],
            allowed_mentions=messages.NO_PINGS,
        )

    @app_commands.command(name="history")
    @app_commands.guild_only()
    @app_commands.describe(member="Whose images (someone else's needs Manage Messages)")
    async def history_(
        self,
        interaction: discord.Interaction[ImagineBot],
        member: discord.Member | discord.User | None = None,
    ) -> None:
        """Your recent images in this server, or a member's."""
        guild_id = require_guild(interaction)
        target = member or interaction.user
        if target.id != interaction.user.id and not interaction.permissions.manage_messages:
            raise UserFacingError(
                "Seeing someone else's history needs the Manage Messages permission."
            )
        jobs, total = await history(self.bot.db, guild_id, target.id, offset=0, limit=HISTORY_PAGE)
        view = HistoryView(self.bot, interaction.user.id, guild_id, target, total)
        await interaction.response.send_message(
            embed=history_embed(target, jobs, 0, total),
            view=view,
            ephemeral=True,
            allowed_mentions=messages.NO_PINGS,
        )

    @app_commands.command(name="status")
    @app_commands.guild_only()
    async def status(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Bot health: uptime, queues, API latency and errors (operator and moderators).

        A moderator sees this server's queue and the bot's totals; which other
        servers use the bot, and how much, is for the bot's owner alone.
        """
        bot = self.bot
        guild_id = require_guild(interaction)
        owner = await bot.is_owner(interaction.user)
        if not (interaction.permissions.manage_guild or owner):
            raise UserFacingError("/status is for the bot's owner and members with Manage Server.")
        now = time.time()
        recent = await health(bot.db, since=now - 3600)
        embed = discord.Embed(title="Bot status", colour=messages.RESULT_COLOUR)
        embed.add_field(name="Up since", value=f"<t:{int(bot.started_at)}:R>", inline=True)
        embed.add_field(
            name="This server's queue",
            value=f"{bot.jobs.queue.queued_count(guild_id)} waiting,"
            f" {bot.jobs.running_count(guild_id)} running",
            inline=True,
        )
        embed.add_field(
            name="All servers",
            value=f"{bot.jobs.queue.total_queued()} waiting, {bot.jobs.running_count()} running"
            f" (of {bot.settings.max_concurrent_jobs} workers)",
            inline=True,
        )
        busiest = bot.jobs.queue.busiest(5)
        if owner and busiest:
            embed.add_field(
                name="Longest queues",
                value="\n".join(f"server {guild}: {n} waiting" for guild, n in busiest),
                inline=False,
            )
        latency = f"{recent.median_api_seconds:.1f} s" if recent.median_api_seconds else "–"
        rate = f"{recent.error_rate:.0%}" if recent.error_rate is not None else "–"
        embed.add_field(
            name="API, last hour",
            value=f"{recent.calls} jobs · median {latency} · errors {rate}",
            inline=False,
        )
        size = bot.db.size_bytes()
        embed.add_field(name="Database", value=f"{size / 1_048_576:.1f} MiB", inline=True)
        embed.add_field(name="Gateway latency", value=f"{bot.latency * 1000:.0f} ms", inline=True)
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: ImagineBot) -> None:
    """Load the cog."""
    await bot.add_cog(StatsCog(bot))
