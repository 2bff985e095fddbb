"""The audit channel: each generation or edit and each blocked attempt, posted without pings."""

from __future__ import annotations

import logging

import discord

from bot import messages
from bot.messages import jump_url
from bot.storage import moderation
from bot.storage.database import Database
from bot.storage.jobs import Job

log = logging.getLogger(__name__)

AUDIT_COLOUR = discord.Colour(0x99AAB5)
BLOCKED_COLOUR = discord.Colour(0xFEE75C)
# discord-api-docs, "Opcodes and Status Codes": Cannot send an empty message.
EMPTY_MESSAGE = 50006


class Auditor:
    """Posts audit entries; turns auditing off when the channel is gone or forbidden."""

    def __init__(self, client: discord.Client, db: Database) -> None:
        self._client = client
        self._db = db

    async def generated(self, job: Job, *, channel_id: int, message_id: int) -> None:
        """Report a finished image; an edit says so and links its source."""
        embed = discord.Embed(
            title="Image edited" if job.is_edit else "Image generated",
            description=messages.truncate(messages.quote_prompt(job.prompt), 1000),
            colour=AUDIT_COLOUR,
        )
        embed.add_field(name="Member", value=f"<@{job.user_id}>", inline=True)
        embed.add_field(name="Channel", value=f"<#{job.channel_id}>", inline=True)
        embed.add_field(
            name="Result",
            value=f"[open]({jump_url(job.guild_id, channel_id, message_id)})",
            inline=True,
        )
        if job.is_edit:
            embed.add_field(name="Edit of", value=messages.source_text(job), inline=False)
        embed.set_footer(text=f"job #{job.id}")
        await self._post(job.guild_id, embed)

    async def blocked(self, guild_id: int, channel_id: int, user_id: int, prompt: str) -> None:
        """Report a prompt refused for a blocked word."""
        embed = discord.Embed(
            title="Prompt blocked",
            description=messages.truncate(messages.quote_prompt(prompt), 1000),
            colour=BLOCKED_COLOUR,
        )
        embed.add_field(name="Member", value=f"<@{user_id}>", inline=True)
        embed.add_field(name="Channel", value=f"<#{channel_id}>", inline=True)
        await self._post(guild_id, embed)

    async def _post(self, guild_id: int, embed: discord.Embed) -> None:
        channel_id, _ = await moderation.audit_channel(self._db, guild_id)
        if channel_id is None:
            return
        channel = self._client.get_channel(channel_id)
        try:
            if not isinstance(channel, discord.abc.Messageable):
                fetched = await self._client.fetch_channel(channel_id)
                if not isinstance(fetched, discord.abc.Messageable):
                    raise TypeError("not a text channel")
                channel = fetched
            await channel.send(embed=embed, allowed_mentions=messages.NO_PINGS)
        except (discord.NotFound, discord.Forbidden, TypeError) as exc:
            reason = f"posting in <#{channel_id}> failed ({exc}); auditing was turned off"
            log.warning("Guild %d: %s", guild_id, reason)
            await moderation.disable_audit(self._db, guild_id, reason)
        except discord.HTTPException as exc:
            if exc.code == EMPTY_MESSAGE:
                # An audit post is an embed alone; without Embed Links Discord
                # drops it and refuses the empty rest, every time.
                reason = (
                    f"the bot lacks Embed Links in <#{channel_id}>, so its posts there are"
                    " empty; auditing was turned off"
                )
                log.warning("Guild %d: %s", guild_id, reason)
                await moderation.disable_audit(self._db, guild_id, reason)
                return
            log.warning("Guild %d: audit post failed: %s", guild_id, exc)
