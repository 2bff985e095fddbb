"""Buttons on a job's message: Cancel while queued; Re-roll, Edit image, Remix and
Delete on every result, generated or edited.

Every button is a :class:`discord.ui.DynamicItem` whose custom id carries the
job id (``imagine:<action>:<job_id>``), so buttons on old messages keep
working after a restart: nothing about them lives only in memory. They live
beside the jobs (not in a cog) so a result can never be posted without them.
Buttons posted before editing existed say ``imagine:edit:<job_id>``: they act
as Remix, which is what they did then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.errors import UserFacingError, reply_ephemeral, report_unexpected
from bot.jobs.request import ACCEPTED_TEXT, EditSources, JobRequest, first_image, refusal
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
    """The same request again, by whoever clicks: same prompt and ratio, or same images."""

    action = "reroll"
    label = "Re-roll"
    emoji = "🔄"
    style = discord.ButtonStyle.primary

    async def run(self, interaction: Interaction) -> None:
        """Queue the same request again, through every admission check."""
        job = await load_job(interaction, self.job_id)
        await interaction.client.jobs.submit(interaction, JobRequest.again(job))


class EditImageButton(_JobButton, template=r"imagine:editimage:([0-9]+)"):
    """Edits THIS result's image: a modal asks what should change (edits chain)."""

    action = "editimage"
    label = "Edit image"
    emoji = "🖌️"

    async def run(self, interaction: Interaction) -> None:
        """Open the "What should change?" modal on the image of the message clicked.

        The image is on the message itself, so this works even once the job's
        row has been pruned.
        """
        message = interaction.message
        client = interaction.client
        image = None
        if message is not None:
            image = first_image(message, bot_id=client.user.id if client.user else None)
        if message is None or image is None:
            raise UserFacingError(NO_IMAGE)
        await EditImageModal.open(
            interaction, EditSources.of_message(message, image), key=f"job{self.job_id}"
        )


class RemixButton(_JobButton, template=r"imagine:remix:([0-9]+)"):
    """Opens a modal prefilled with the prompt (and ratio); submitting makes a new request."""

    action = "remix"
    label = "Remix"
    emoji = "✏️"

    async def run(self, interaction: Interaction) -> None:
        """Open the Remix modal."""
        job = await load_job(interaction, self.job_id)
        # An edit keeps its source's shape: no ratio box.
        ratios = () if job.is_edit else aspect_ratios(interaction.client.settings)
        await interaction.response.send_modal(RemixModal(job, ratios))


class LegacyRemixButton(RemixButton, template=r"imagine:edit:([0-9]+)"):
    """The Edit button of results posted before image editing existed: it acts as Remix."""

    action = "edit"


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


class RemixModal(discord.ui.Modal):
    """Like Midjourney's Remix: change the prompt (and ratio) and run the request again.

    A Remix of an edit runs the new prompt on the same images.
    """

    def __init__(self, job: Job, ratios: Sequence[str]) -> None:
        super().__init__(title="Remix", custom_id=f"imagine:remixmodal:{job.id}")
        self.job = job
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
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
        self.ratio: discord.ui.TextInput[RemixModal] | None = None
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
        """Queue the new prompt as a new request."""
        ratio = (self.ratio.value.strip() or None) if self.ratio is not None else None
        if ratio is not None and ratio not in self.ratios:
            raise UserFacingError(
                f"Unknown aspect ratio {ratio!r}. Choose one of: {', '.join(self.ratios)}."
            )
        request = JobRequest.again(self.job, prompt=self.prompt.value, aspect_ratio=ratio)
        await interaction.client.jobs.submit(interaction, request)

    async def on_error(  # type: ignore[override]
        self, interaction: Interaction, error: Exception
    ) -> None:
        """Refusals are answered privately; anything else with a reference id."""
        await _modal_error(interaction, error, "the remix form")


class EditImageModal(discord.ui.Modal):
    """One question, "What should change?", then an edit of the given image.

    Opened by the Edit image button (the result's image) and by the "Edit
    image" message command (the message's first image). The images are
    checked before the modal opens, so a member never types a prompt for an
    image that would be refused.
    """

    def __init__(self, sources: EditSources, *, key: str) -> None:
        super().__init__(title="Edit image", custom_id=f"imagine:editimagemodal:{key}")
        self.sources = sources
        self.prompt: discord.ui.TextInput[EditImageModal] = discord.ui.TextInput(
            label="What should change?",
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            placeholder="e.g. make it night, add a red scarf, turn it into a watercolour",
            min_length=1,
            max_length=1500,
        )
        self.add_item(self.prompt)

    @classmethod
    async def open(cls, interaction: Interaction, sources: EditSources, *, key: str) -> None:
        """Show the modal, or refuse at once when the image cannot be edited."""
        problem = refusal(sources, max_bytes=interaction.client.settings.max_source_image_bytes)
        if problem is not None:
            raise UserFacingError(problem)
        await interaction.response.send_modal(cls(sources, key=key))

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        """Queue the edit, through every check of /imagine."""
        request = JobRequest(self.prompt.value, edit=self.sources)
        await interaction.client.jobs.submit(interaction, request)

    async def on_error(  # type: ignore[override]
        self, interaction: Interaction, error: Exception
    ) -> None:
        """Refusals are answered privately; anything else with a reference id."""
        await _modal_error(interaction, error, "the edit form")


async def _modal_error(interaction: Interaction, error: Exception, where: str) -> None:
    if isinstance(error, UserFacingError):
        await reply_ephemeral(interaction, error.message)
    else:
        await report_unexpected(interaction, error, where)


NO_IMAGE = (
    f"That message has no image to edit. Use Edit image on a message with a {ACCEPTED_TEXT}"
    " image attached, or upload one with /edit."
)


def queued_view(job_id: int) -> discord.ui.View:
    """The Cancel button on a queued response."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


def result_view(job: Job) -> discord.ui.View:
    """Re-roll, Edit image, Remix and Delete under every finished image."""
    view = discord.ui.View(timeout=None)
    view.add_item(RerollButton(job.id))
    view.add_item(EditImageButton(job.id))
    view.add_item(RemixButton(job.id))
    view.add_item(DeleteButton(job.id))
    return view


DYNAMIC_ITEMS = (
    CancelButton,
    RerollButton,
    EditImageButton,
    RemixButton,
    LegacyRemixButton,
    DeleteButton,
)
