"""Buttons on a job's message: Cancel while queued; Re-roll, Edit and Delete on results.

Every button is a :class:`discord.ui.DynamicItem` whose custom id carries the
job id (``imagine:<action>:<job_id>``), so buttons on old messages keep
working after a restart: nothing about them lives only in memory. They live
beside the jobs (not in a cog) so a result can never be posted without them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.errors import UserFacingError, reply_ephemeral, report_unexpected
from bot.models import aspect_ratios
from bot.storage import jobs as job_store
from bot.storage.jobs import Job

if TYPE_CHECKING:
    from bot.app import ImagineBot

    Interaction = discord.Interaction[ImagineBot]

log = logging.getLogger(__name__)


async def load_job(interaction: Interaction, job_id: int) -> Job:
    """The job a button is about, if it is from this server and still stored."""
    job = await job_store.get(interaction.client.db, job_id)
    if job is None or job.guild_id != interaction.guild_id:
        raise UserFacingError("That image no longer exists (it may have been pruned).")
    return job


def may_manage(interaction: Interaction, job: Job) -> bool:
    """The requester, or anyone with Manage Messages in the channel."""
    if interaction.user.id == job.user_id:
        return True
    return bool(interaction.permissions.manage_messages)


class _JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"imagine:_:([0-9]+)"):
    """A button about one job; answers every error privately.

    Subclasses set ``action`` (the custom id's middle part), the label, and
    their own ``template`` matching ``imagine:<action>:<job_id>``.
    """

    action = "_"
    label = ""
    emoji: str | None = None
    style = discord.ButtonStyle.secondary

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=f"imagine:{self.action}:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a click (also after a restart)."""
        return cls(int(match[1]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        """Run the button; expected refusals and unexpected errors are both answered."""
        try:
            await self.run(interaction)
        except UserFacingError as error:
            await reply_ephemeral(interaction, error.message)
        except Exception as error:
            # discord.py only logs errors of dynamic items; the member would
            # see "This interaction failed" with nothing to report.
            await report_unexpected(interaction, error, f"the {self.action} button")

    async def run(self, interaction: Interaction) -> None:
        """What the button does."""
        raise NotImplementedError


class CancelButton(_JobButton, template=r"imagine:cancel:([0-9]+)"):
    """Takes a queued job out of the queue; it is not charged."""

    action = "cancel"
    label = "Cancel"

    async def run(self, interaction: Interaction) -> None:
        """Cancel the job if it still waits."""
        await interaction.client.jobs.cancel(interaction, self.job_id)


class RerollButton(_JobButton, template=r"imagine:reroll:([0-9]+)"):
    """Same prompt and options, a new request by whoever clicks."""

    action = "reroll"
    label = "Re-roll"
    emoji = "🔄"
    style = discord.ButtonStyle.primary

    async def run(self, interaction: Interaction) -> None:
        """Queue the same prompt again, through every admission check."""
        job = await load_job(interaction, self.job_id)
        await interaction.client.jobs.submit(interaction, job.prompt, job.aspect_ratio)


class EditButton(_JobButton, template=r"imagine:edit:([0-9]+)"):
    """Opens a modal prefilled with the prompt; submitting it makes a new request."""

    action = "edit"
    label = "Edit"
    emoji = "✏️"

    async def run(self, interaction: Interaction) -> None:
        """Open the edit modal."""
        job = await load_job(interaction, self.job_id)
        ratios = aspect_ratios(interaction.client.settings)
        await interaction.response.send_modal(EditModal(job, ratios))


class DeleteButton(_JobButton, template=r"imagine:delete:([0-9]+)"):
    """Deletes the result: the requester or anyone with Manage Messages."""

    action = "delete"
    label = "Delete"
    emoji = "🗑️"
    style = discord.ButtonStyle.danger

    async def run(self, interaction: Interaction) -> None:
        """Delete the message the button is on."""
        job = await load_job(interaction, self.job_id)
        if not may_manage(interaction, job):
            raise UserFacingError(
                "Only the person who asked for this image or a moderator can delete it."
            )
        await interaction.response.defer()
        await interaction.delete_original_response()
        log.info("Result of job %d deleted by user %d", job.id, interaction.user.id)


class EditModal(discord.ui.Modal):
    """Like Midjourney's Remix: change the prompt (and ratio) and generate again."""

    def __init__(self, job: Job, ratios: Sequence[str]) -> None:
        super().__init__(title="Edit and generate again", custom_id=f"imagine:editmodal:{job.id}")
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Prompt",
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=job.prompt[:1500],
            min_length=1,
            max_length=1500,
        )
        self.add_item(self.prompt)
        # The generation model's ratios; a model without a ratio field gets no box.
        self.ratios = tuple(ratios)
        self.ratio: discord.ui.TextInput[EditModal] | None = None
        if self.ratios:
            self.ratio = discord.ui.TextInput(
                label="Aspect ratio (e.g. 1:1, 16:9, 9:16)",
                custom_id="aspect_ratio",
                default=(job.aspect_ratio or "") if job.aspect_ratio in self.ratios else "",
                required=False,
                max_length=5,
            )
            self.add_item(self.ratio)

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        """Queue the edited prompt as a new request."""
        ratio = (self.ratio.value.strip() or None) if self.ratio is not None else None
        if ratio is not None and ratio not in self.ratios:
            raise UserFacingError(
                f"Unknown aspect ratio {ratio!r}. Choose one of: {', '.join(self.ratios)}."
            )
        await interaction.client.jobs.submit(interaction, self.prompt.value, ratio)

    async def on_error(  # type: ignore[override]
        self, interaction: Interaction, error: Exception
    ) -> None:
        """Refusals are answered privately; anything else with a reference id."""
        if isinstance(error, UserFacingError):
            await reply_ephemeral(interaction, error.message)
        else:
            await report_unexpected(interaction, error, "the edit form")


def queued_view(job_id: int) -> discord.ui.View:
    """The Cancel button on a queued response."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


def result_view(job: Job) -> discord.ui.View:
    """Re-roll, Edit and Delete under a finished image."""
    view = discord.ui.View(timeout=None)
    view.add_item(RerollButton(job.id))
    view.add_item(EditButton(job.id))
    view.add_item(DeleteButton(job.id))
    return view


DYNAMIC_ITEMS = (CancelButton, RerollButton, EditButton, DeleteButton)
