"""/limits (moderators) and /usage (everyone): per-server quotas from Discord itself."""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.app import ImagineBot
from bot.embeds import EMBED_TOTAL_LIMIT, MAX_FIELDS, line_fields
from bot.errors import UserFacingError, require_guild
from bot.limits import Limits, relative
from bot.storage import moderation
from bot.storage.limits import reset_member, set_limits

log = logging.getLogger(__name__)

NonNegative = app_commands.Range[int, 0, 1_000_000]

# The audit channel field and the "turned itself off" warning (its text cut to 1024).
AUDIT_FIELDS_ROOM = 1100


def limits_embed(limits: Limits, title: str) -> discord.Embed:
    """A server's limits as an embed."""
    embed = discord.Embed(title=title, colour=messages.RESULT_COLOUR)
    embed.add_field(
        name="Per member", value=_count(limits.user_daily, "images / 24 h"), inline=True
    )
    embed.add_field(
        name="Whole server", value=_count(limits.guild_daily, "images / 24 h"), inline=True
    )
    embed.add_field(
        name="Cooldown",
        value=f"{limits.cooldown_seconds} s" if limits.cooldown_seconds else "none",
        inline=True,
    )
    embed.add_field(name="Queue size", value=_count(limits.max_queue, "jobs"), inline=True)
    return embed


def _count(value: int, unit: str) -> str:
    return "off (0)" if value == 0 else f"{value} {unit}"


class LimitsCog(commands.Cog):
    """Quotas that a server's moderators control."""

    limits = app_commands.Group(
        name="limits",
        description="See or change this server's image limits",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @limits.command(name="show")
    async def show(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Show this server's image limits."""
        guild_id = require_guild(interaction)
        db = self.bot.db
        current = await self.bot.guild_limits.server(guild_id)
        embed = limits_embed(current, "Image limits for this server")
        roles = await moderation.role_limits(db, guild_id)
        lines = [f"<@&{role}>: {n}" for role, n in sorted(roles.items())]
        # A server may have many role limits: over several fields, within the
        # embed's limits, leaving room for the audit fields below.
        for name, value in line_fields(
            "Role limits (per member / 24 h)",
            lines,
            room=EMBED_TOTAL_LIMIT - len(embed) - AUDIT_FIELDS_ROOM,
            max_fields=MAX_FIELDS - len(embed.fields) - 2,
        ):
            embed.add_field(name=name, value=value, inline=False)
        channel_id, failure = await moderation.audit_channel(db, guild_id)
        embed.add_field(
            name="Audit channel", value=f"<#{channel_id}>" if channel_id else "off", inline=False
        )
        if failure:
            embed.add_field(name="⚠️ Auditing turned itself off", value=failure[:1024], inline=False)
            await moderation.acknowledge_audit_failure(db, guild_id)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=messages.NO_PINGS
        )

    @limits.command(name="set")
    @app_commands.describe(
        user_daily="Images each member may make per 24 hours (0 turns members off)",
        guild_daily="Images the whole server may make per 24 hours (0 turns the bot off)",
        cooldown_seconds="Least seconds between two requests of one member (0 = none)",
        max_queue="Jobs that may wait in this server's queue",
    )
    async def set_(
        self,
        interaction: discord.Interaction[ImagineBot],
        user_daily: NonNegative | None = None,
        guild_daily: NonNegative | None = None,
        cooldown_seconds: NonNegative | None = None,
        max_queue: NonNegative | None = None,
    ) -> None:
        """Change this server's image limits."""
        guild_id = require_guild(interaction)
        changes = {
            name: value
            for name, value in {
                "user_daily": user_daily,
                "guild_daily": guild_daily,
                "cooldown_seconds": cooldown_seconds,
                "max_queue": max_queue,
            }.items()
            if value is not None
        }
        if not changes:
            raise UserFacingError(
                "Give at least one limit to change: user_daily, guild_daily,"
                " cooldown_seconds or max_queue."
            )
        if any(v < 0 for v in changes.values()):
            raise UserFacingError("Limits are whole numbers, 0 or more.")
        await set_limits(self.bot.db, guild_id, changes, by=interaction.user.id, now=time.time())
        self.bot.guild_limits.invalidate(guild_id)
        log.info(
            "Limits changed in guild %d by user %d: %s",
            guild_id,
            interaction.user.id,
            ", ".join(f"{k}={v}" for k, v in changes.items()),
        )
        current = await self.bot.guild_limits.server(guild_id)
        await interaction.response.send_message(
            embed=limits_embed(current, "Limits updated"), ephemeral=True
        )

    @limits.command(name="role")
    @app_commands.describe(
        role="Members with this role get its daily limit if it is higher",
        user_daily="Images per member per 24 hours for this role",
    )
    async def role(
        self,
        interaction: discord.Interaction[ImagineBot],
        role: discord.Role,
        user_daily: NonNegative,
    ) -> None:
        """Give members with a role their own daily limit (e.g. more for boosters)."""
        guild_id = require_guild(interaction)
        await moderation.set_role_limit(self.bot.db, guild_id, role.id, user_daily)
        self.bot.guild_limits.invalidate(guild_id)
        log.info(
            "Guild %d: role %d daily limit set to %d by user %d",
            guild_id,
            role.id,
            user_daily,
            interaction.user.id,
        )
        await interaction.response.send_message(
            f"Members with {role.mention} may make {user_daily} images per 24 hours"
            " (or the server's limit, if that is higher).",
            ephemeral=True,
            allowed_mentions=messages.NO_PINGS,
        )

    @limits.command(name="role-clear")
    @app_commands.describe(role="The role whose own limit is removed")
    async def role_clear(
        self, interaction: discord.Interaction[ImagineBot], role: discord.Role
    ) -> None:
        """Remove a role's own daily limit."""
        guild_id = require_guild(interaction)
        cleared = await moderation.clear_role_limit(self.bot.db, guild_id, role.id)
        self.bot.guild_limits.invalidate(guild_id)
        if not cleared:
            raise UserFacingError(f"{role.mention} has no limit of its own.")
        log.info(
            "Guild %d: role %d limit cleared by user %d", guild_id, role.id, interaction.user.id
        )
        await interaction.response.send_message(
            f"{role.mention} no longer has a limit of its own.",
            ephemeral=True,
            allowed_mentions=messages.NO_PINGS,
        )

    @limits.command(name="reset")
    @app_commands.describe(user="The member whose use in this server is forgotten")
    async def reset(
        self, interaction: discord.Interaction[ImagineBot], user: discord.Member | discord.User
    ) -> None:
        """Forget a member's use in this server, giving them a full quota again."""
        guild_id = require_guild(interaction)
        now = time.time()
        await reset_member(self.bot.db, guild_id, user.id, by=interaction.user.id, now=now)
        # Admission counts in memory: they must forget the same use.
        self.bot.jobs.book.reset(guild_id, user.id, now)
        log.info(
            "Quota of user %d reset in guild %d by user %d", user.id, guild_id, interaction.user.id
        )
        await interaction.response.send_message(
            f"{user.mention}'s use in this server is forgotten: they have a full quota again.",
            ephemeral=True,
            allowed_mentions=messages.NO_PINGS,
        )

    @app_commands.command(name="usage")
    @app_commands.guild_only()
    async def usage_(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """See how many images you and this server have left today."""
        guild_id = require_guild(interaction)
        bot = self.bot
        now = time.time()
        roles = [role.id for role in getattr(interaction.user, "roles", ())]
        limits = await bot.guild_limits.for_member(guild_id, roles)
        # The same counts admission decides on (bot.jobs.admission).
        used = await bot.jobs.book.usage(guild_id, interaction.user.id, now=now)
        embed = discord.Embed(title="Your image use (last 24 hours)", colour=messages.RESULT_COLOUR)
        mine = f"**{used.user_count}** of {limits.user_daily}"
        left = max(0, limits.user_daily - used.user_count)
        frees = used.user_frees_at()
        if left:
            mine += f"\n{left} more available now"
        elif frees and limits.user_daily > 0:
            mine += f"\nNext image frees up {relative(frees)}"
        if limits.cooldown_seconds and used.user_latest:
            ready = used.user_latest + limits.cooldown_seconds
            if ready > now:
                mine += f"\nCooldown ends {relative(ready)}"
        embed.add_field(name="You", value=mine, inline=True)
        server = f"**{used.guild_count}** of {limits.guild_daily}"
        guild_frees = used.guild_frees_at()
        if guild_frees and used.guild_count >= limits.guild_daily > 0:
            server += f"\nNext image frees up {relative(guild_frees)}"
        embed.add_field(name="This server", value=server, inline=True)
        queued = [
            (position, job)
            for position, job in enumerate(bot.jobs.queue.queued_jobs(guild_id), start=1)
            if job.user_id == interaction.user.id
        ]
        if queued:
            lines = [
                f"#{position}: {messages.truncate(job.prompt, 60)} (job {job.id})"
                for position, job in queued
            ]
            embed.add_field(name="Your queued jobs", value="\n".join(lines)[:1024], inline=False)
        else:
            embed.add_field(name="Your queued jobs", value="none", inline=False)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=messages.NO_PINGS
        )


async def setup(bot: ImagineBot) -> None:
    """Load the cog."""
    await bot.add_cog(LimitsCog(bot))
