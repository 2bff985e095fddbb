"""/help: what the bot does, the commands this member may use, this server's limits."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.app import ImagineBot
from bot.errors import require_guild
from bot.limits import Limits

AnyCommand = app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu

# Commands whose own check asks more than their default_member_permissions
# (cogs/stats.py: /status is for Manage Server or the bot's owner).
EXTRA_PERMISSIONS: dict[str, discord.Permissions] = {
    "status": discord.Permissions(manage_guild=True),
}
# What a command does differently without a permission.
LIMITED_WITHOUT: dict[str, tuple[discord.Permissions, str]] = {
    "history": (
        discord.Permissions(manage_messages=True),
        "someone else's needs Manage Messages",
    ),
}


def may_use(
    command: AnyCommand,
    permissions: discord.Permissions,
    *,
    owner: bool = False,
) -> bool:
    """Whether a member with ``permissions`` sees and may run ``command``.

    Discord shows a command whose ``default_member_permissions`` the member
    lacks to nobody but administrators (unless moderators changed it under
    Server Settings → Integrations, which a bot cannot read).
    """
    if permissions.administrator:
        return True
    required = command.default_permissions
    if required is not None and not required.is_subset(permissions):
        return False
    extra = EXTRA_PERMISSIONS.get(command.name)
    return extra is None or owner or extra.is_subset(permissions)


def command_line(
    command: AnyCommand,
    permissions: discord.Permissions,
) -> str:
    """One line naming ``command`` (and its subcommands) and what it does."""
    if isinstance(command, app_commands.ContextMenu):
        return f"**{command.name}**: in the Apps menu of a message"
    name = f"`/{command.name}`"
    if isinstance(command, app_commands.Group):
        name = f"`/{command.name}` " + " · ".join(f"`{sub.name}`" for sub in command.commands)
    line = f"{name}: {command.description}"
    limited = LIMITED_WITHOUT.get(command.name)
    if limited is not None and not (permissions.administrator or limited[0].is_subset(permissions)):
        line += f" ({limited[1]})"
    return line


def limits_line(limits: Limits) -> str:
    """This server's limits for this member, in one line."""
    if limits.guild_daily == 0:
        return "Image making is turned off in this server (its daily limit is 0)."
    cooldown = (
        f"{limits.cooldown_seconds} s between your requests"
        if limits.cooldown_seconds
        else "no wait between requests"
    )
    return (
        f"You: {limits.user_daily} images per 24 h · the server: {limits.guild_daily}"
        f" per 24 h · {cooldown} · up to {limits.max_queue} may wait in the queue."
    )


class HelpCog(commands.Cog):
    """Help for members."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(name="help")
    @app_commands.guild_only()
    async def help_(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """What this bot does and the commands you can use here."""
        guild_id = require_guild(interaction)
        bot = self.bot
        permissions = interaction.permissions
        owner = await bot.is_owner(interaction.user)
        members: list[str] = []
        moderators: list[str] = []
        for command in bot.tree.get_commands():
            if command.name == "help" or not may_use(command, permissions, owner=owner):
                continue
            line = command_line(command, permissions)
            restricted = command.default_permissions is not None or command.name in (
                EXTRA_PERMISSIONS
            )
            (moderators if restricted else members).append(line)
        roles = [role.id for role in getattr(interaction.user, "roles", ())]
        limits = await bot.guild_limits.for_member(guild_id, roles)
        name = bot.user.name if bot.user else "this bot"
        embed = discord.Embed(
            title=f"{name}: images from your words",
            description=(
                "Describe a picture with `/imagine` and I draw it with 1min.ai's"
                f" `{bot.settings.onemin_model}` model. The result is posted in the channel"
                " with buttons to re-roll it, remix it or delete it."
            ),
            colour=messages.RESULT_COLOUR,
        )
        embed.add_field(name="Commands", value="\n".join(members) or "none", inline=False)
        if moderators:
            embed.add_field(name="For moderators", value="\n".join(moderators), inline=False)
        embed.add_field(name="Limits here", value=limits_line(limits), inline=False)
        embed.add_field(
            name="Who may use what",
            value="Moderators choose who may use each command, and in which channels, in"
            f" **Server Settings → Integrations → {name}**.",
            inline=False,
        )
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=messages.NO_PINGS
        )


async def setup(bot: ImagineBot) -> None:
    """Load the cog."""
    await bot.add_cog(HelpCog(bot))
