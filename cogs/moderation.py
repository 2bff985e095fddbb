"""/moderation: blocked words and the audit channel, run by a server's own moderators."""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.app import ImagineBot
from bot.errors import UserFacingError, require_guild
from bot.storage import moderation
from bot.wordfilter import normalise_word

log = logging.getLogger(__name__)


def _entry(word: str) -> str:
    """A blocked-word entry as stored, or a clear refusal."""
    try:
        return normalise_word(word)
    except ValueError:
        raise UserFacingError("That word has no letters or digits to match.") from None


class ModerationCog(commands.Cog):
    """Blocked words and auditing."""

    moderation = app_commands.Group(
        name="moderation",
        description="Blocked words and the audit channel",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    blocked = app_commands.Group(
        name="blocked", description="Words that refuse a prompt", parent=moderation
    )
    audit = app_commands.Group(
        name="audit-channel", description="Where generations are reported", parent=moderation
    )

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @blocked.command(name="add")
    @app_commands.describe(word="A word or short phrase; matched whole, ignoring case and accents")
    async def blocked_add(
        self, interaction: discord.Interaction[ImagineBot], word: app_commands.Range[str, 1, 100]
    ) -> None:
        """Block a word in prompts on this server."""
        guild_id = require_guild(interaction)
        entry = _entry(word)
        added = await moderation.add_blocked_word(
            self.bot.db, guild_id, entry, by=interaction.user.id, now=time.time()
        )
        self.bot.word_filters.invalidate(guild_id)
        if not added:
            words = await moderation.blocked_words(self.bot.db, guild_id)
            if entry in words:
                raise UserFacingError(f"`{entry}` is already blocked.")
            raise UserFacingError(
                f"This server already blocks {moderation.MAX_BLOCKED_WORDS} words;"
                " remove some first."
            )
        log.info("Guild %d: user %d blocked a word", guild_id, interaction.user.id)
        await interaction.response.send_message(
            f"Blocked `{entry}`. Prompts containing it are refused.", ephemeral=True
        )

    @blocked.command(name="remove")
    @app_commands.describe(word="The blocked word to allow again")
    async def blocked_remove(
        self, interaction: discord.Interaction[ImagineBot], word: app_commands.Range[str, 1, 100]
    ) -> None:
        """Allow a blocked word again."""
        guild_id = require_guild(interaction)
        entry = _entry(word)
        removed = await moderation.remove_blocked_word(self.bot.db, guild_id, entry)
        self.bot.word_filters.invalidate(guild_id)
        if not removed:
            raise UserFacingError(f"`{entry}` was not blocked.")
        log.info("Guild %d: user %d unblocked a word", guild_id, interaction.user.id)
        await interaction.response.send_message(f"`{entry}` is allowed again.", ephemeral=True)

    @blocked.command(name="list")
    async def blocked_list(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """List this server's blocked words."""
        guild_id = require_guild(interaction)
        words = await moderation.blocked_words(self.bot.db, guild_id)
        text = ", ".join(f"`{w}`" for w in words) if words else "No words are blocked."
        embed = discord.Embed(
            title=f"Blocked words ({len(words)})",
            description=messages.truncate(text, 4000),
            colour=messages.RESULT_COLOUR,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @audit.command(name="set")
    @app_commands.describe(channel="Channel that receives a post per generation and block")
    async def audit_set(
        self, interaction: discord.Interaction[ImagineBot], channel: discord.TextChannel
    ) -> None:
        """Report every generation and blocked prompt in a channel."""
        guild_id = require_guild(interaction)
        await moderation.set_audit_channel(self.bot.db, guild_id, channel.id)
        log.info(
            "Guild %d: audit channel set to %d by user %d",
            guild_id,
            channel.id,
            interaction.user.id,
        )
        await interaction.response.send_message(
            f"Generations and blocked prompts will be reported in {channel.mention}.",
            ephemeral=True,
        )

    @audit.command(name="clear")
    async def audit_clear(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Stop reporting generations."""
        guild_id = require_guild(interaction)
        await moderation.set_audit_channel(self.bot.db, guild_id, None)
        log.info("Guild %d: audit channel cleared by user %d", guild_id, interaction.user.id)
        await interaction.response.send_message("Auditing is off.", ephemeral=True)


async def setup(bot: ImagineBot) -> None:
    """Load the cog."""
    await bot.add_cog(ModerationCog(bot))
