"""What a member asks for: a generation or an edit, and the images an edit starts from.

Every way in (``/imagine``, ``/edit``, the buttons, the "Edit image" message
command) describes its request as a :class:`JobRequest`; the job service takes
only that. The checks an edit's images must pass before anything is queued
(type and size, as Discord describes them) live here too, so each way in
gets the same answer.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import discord

from bot.storage.jobs import Job, Kind

# What the editing models read (vendor notes: Gemini takes PNG, JPEG and WebP);
# the job checks the bytes' signature against the same list.
ACCEPTED_TYPES: Final = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
ACCEPTED_TEXT: Final = "PNG, JPEG or WebP"
# The image to edit plus two references: what one IMAGE_EDITOR call takes.
MAX_IMAGES: Final = 3


@dataclass(frozen=True)
class SourceImage:
    """One image to edit (or draw from), as Discord described it.

    ``content_type`` and ``size`` are None when Discord did not say (an image
    inside an embed); the job then checks the bytes themselves.
    """

    url: str
    filename: str = ""
    content_type: str | None = None
    size: int | None = None

    @property
    def name(self) -> str:
        """The file name a member recognises: the attachment's, else the URL's."""
        return self.filename or posixpath.basename(urlsplit(self.url).path) or "the image"

    def media_type(self) -> str | None:
        """The content type without parameters, else guessed from the file name."""
        if self.content_type:
            return self.content_type.split(";")[0].strip().lower()
        guessed, _ = mimetypes.guess_type(self.name)
        return guessed


@dataclass(frozen=True)
class EditSources:
    """The images of an edit: the one to change first, then up to two references.

    ``paths`` are their uploaded paths when already known (a Re-roll or Remix
    of an edit); ``channel_id``/``message_id`` name the message the image came
    from, when there is one (a result, or a member's message).
    """

    images: tuple[SourceImage, ...]
    paths: tuple[str, ...] | None = None
    channel_id: int | None = None
    message_id: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.images) <= MAX_IMAGES:
            raise ValueError(f"an edit takes 1 to {MAX_IMAGES} images, got {len(self.images)}")

    @property
    def urls(self) -> tuple[str, ...]:
        """The Discord URLs of the images, in order (what is stored)."""
        return tuple(image.url for image in self.images)

    @classmethod
    def of_job(cls, job: Job) -> EditSources:
        """The same images as a stored edit, reusing its uploaded paths."""
        return cls(
            images=tuple(SourceImage(url) for url in job.source_urls),
            paths=job.source_paths,
            channel_id=job.source_channel_id,
            message_id=job.source_message_id,
        )

    @classmethod
    def of_message(cls, message: discord.Message, image: SourceImage) -> EditSources:
        """``image``, found on ``message``, with a link back to that message."""
        return cls(images=(image,), channel_id=message.channel.id, message_id=message.id)


@dataclass(frozen=True)
class JobRequest:
    """One request: a prompt, and for an edit the images it changes."""

    prompt: str
    aspect_ratio: str | None = None
    edit: EditSources | None = None

    @property
    def kind(self) -> Kind:
        """Generation or edit."""
        return Kind.GENERATE if self.edit is None else Kind.EDIT

    @classmethod
    def again(
        cls, job: Job, *, prompt: str | None = None, aspect_ratio: str | None = None
    ) -> JobRequest:
        """The request of a stored job once more (Re-roll), or with a new prompt (Remix).

        An edit keeps its images; a generation keeps (or changes) its ratio.
        """
        if job.is_edit:
            return cls(prompt if prompt is not None else job.prompt, edit=EditSources.of_job(job))
        if prompt is None:
            return cls(job.prompt, job.aspect_ratio)
        return cls(prompt, aspect_ratio)


def from_attachment(attachment: discord.Attachment) -> SourceImage:
    """An attachment a member gave (a command option or a message's file)."""
    return SourceImage(
        url=attachment.url,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
    )


def first_image(message: discord.Message, *, bot_id: int | None = None) -> SourceImage | None:
    """The first image attached to ``message``, or None.

    An attachment counts when Discord says it is an image (or its name does).
    A result of this bot shows its image inside the embed (``attachment://``),
    where Discord lists it as the embed's image rather than as an attachment;
    only the bot's own embeds are read, so no URL from elsewhere is fetched.
    """
    for attachment in message.attachments:
        image = from_attachment(attachment)
        media = image.media_type()
        if media is not None and media.startswith("image/"):
            return image
    if bot_id is not None and message.author.id == bot_id:
        for embed in message.embeds:
            url = embed.image.url
            if url:
                return SourceImage(url=url)
    return None


def refusal(sources: EditSources, *, max_bytes: int) -> str | None:
    """Why these images cannot be edited (what a member reads), or None if they can.

    Images already uploaded (a Re-roll or Remix of an edit) passed these checks
    when they were first given.
    """
    if sources.paths is not None:
        return None
    for image in sources.images:
        media = image.media_type()
        if media not in ACCEPTED_TYPES:
            what = f"a {media} file" if media else "not an image Discord recognises"
            return (
                f"{image.name} is {what}. Only {ACCEPTED_TEXT} images can be edited,"
                f" up to {_megabytes(max_bytes)}."
            )
        if image.size is not None and image.size > max_bytes:
            return (
                f"{image.name} is {_megabytes(image.size)}; images to edit can be at most"
                f" {_megabytes(max_bytes)} ({ACCEPTED_TEXT})."
            )
    return None


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{-(-size // 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"
