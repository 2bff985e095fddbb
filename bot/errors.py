"""App-command errors in one place: domain errors carry what a member reads."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot import messages

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)


class UserFacingError(app_commands.AppCommandError):
    """An expected refusal or failure; ``message`` is shown to the member as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def require_guild(interaction: discord.Interaction[Any]) -> int:
    """The server an interaction came from; a clear refusal outside servers."""
    if interaction.guild_id is None:
        raise UserFacingError("This command works only in a server.")
    return interaction.guild_id


async def reply_ephemeral(
    interaction: discord.Interaction[Any], content: str, **kwargs: Any
) -> None:
    """Answer privately, whether or not the interaction was already acknowledged."""
    kwargs.setdefault("allowed_mentions", messages.NO_PINGS)
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(content, ephemeral=True, **kwargs)


async def report_unexpected(
    interaction: discord.Interaction[Any], error: BaseException, where: str
) -> None:
    """Log an unexpected error with a reference id and give the member that id.

    Used by the command tree, buttons and modals alike, so a member never sees
    only "This interaction failed" and the operator can find the traceback.
    """
    reference = secrets.token_hex(4)
    log.error("Unexpected error in %s (ref %s)", where, reference, exc_info=error)
    await _tell(
        interaction, f"Something went wrong on our side (ref `{reference}`). Please try again."
    )


async def _tell(interaction: discord.Interaction[Any], text: str) -> None:
    try:
        await reply_ephemeral(interaction, text)
    except discord.HTTPException:
        log.warning("Could not tell the member about an error: %s", text)


class ImagineTree(app_commands.CommandTree["ImagineBot"]):
    """Command tree whose ``on_error`` answers every failure politely."""

    async def on_error(
        self,
        interaction: discord.Interaction[ImagineBot],
        error: app_commands.AppCommandError,
    ) -> None:
        """Show domain errors as they are; log anything else with a reference id."""
        if isinstance(error, UserFacingError):
            await _tell(interaction, error.message)
        elif isinstance(error, app_commands.MissingPermissions | app_commands.NoPrivateMessage):
            await _tell(interaction, str(error))
        elif isinstance(error, app_commands.CommandOnCooldown):
            await _tell(interaction, f"Slow down: try again in {error.retry_after:.0f} s.")
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            await report_unexpected(interaction, error, f"/{command}")
