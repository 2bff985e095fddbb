"""/edit and the "Edit image" message command: parse, hand the request to the job service.

Both end in the same place as /imagine (``Jobs.submit``): the images are
checked, then every limit, and the edit waits in the same queue.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import ImagineBot
from bot.errors import UserFacingError
from bot.jobs.buttons import NO_IMAGE, EditImageModal
from bot.jobs.request import EditSources, JobRequest, first_image, from_attachment

PROMPT_MAX = 1500
MESSAGE_COMMAND = "Edit image"


class EditCog(commands.Cog):
    """Image editing for members: an uploaded image, or any message's image."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        # discord.py has no decorator for context menus inside a cog: the menu
        # is made here and added to the tree when the cog loads.
        self.menu = app_commands.ContextMenu(name=MESSAGE_COMMAND, callback=self.edit_message)

    async def cog_load(self) -> None:
        """Register the message command with the tree."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Take the message command off the tree."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="edit")
    @app_commands.guild_only()
    @app_commands.describe(
        image="The image to change (PNG, JPEG or WebP)",
        prompt="What should change? e.g. make it night, add a hat",
        reference="Another image to take something from (optional)",
        reference2="A second image to take something from (optional)",
    )
    async def edit(
        self,
        interaction: discord.Interaction[ImagineBot],
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, PROMPT_MAX],
        reference: discord.Attachment | None = None,
        reference2: discord.Attachment | None = None,
    ) -> None:
        """Edit an image you upload, optionally using up to two reference images."""
        given = [image, *(a for a in (reference, reference2) if a is not None)]
        sources = EditSources(images=tuple(from_attachment(a) for a in given))
        await self.bot.jobs.submit(interaction, JobRequest(prompt, edit=sources))

    async def edit_message(
        self, interaction: discord.Interaction[ImagineBot], message: discord.Message
    ) -> None:
        """Edit the first image of a message: ask what should change, then queue it."""
        if interaction.guild_id is None:
            raise UserFacingError("Images can only be edited in a server.")
        bot_id = self.bot.user.id if self.bot.user else None
        image = first_image(message, bot_id=bot_id)
        if image is None:
            raise UserFacingError(NO_IMAGE)
        await EditImageModal.open(
            interaction, EditSources.of_message(message, image), key=f"message{message.id}"
        )


async def setup(bot: ImagineBot) -> None:
    """Load the cog."""
    await bot.add_cog(EditCog(bot))
