"""What members read: the texts and embeds the bot posts, in one place.

Prompt text is shown inside embeds and never in a way that could ping: every
message also goes out with ``allowed_mentions`` that allow nothing.
"""

from __future__ import annotations

import discord

from bot.storage.jobs import Job

# Embed colours: a calm blurple for results, red for errors.
RESULT_COLOUR = discord.Colour(0x5865F2)
ERROR_COLOUR = discord.Colour(0xED4245)

NO_PINGS = discord.AllowedMentions.none()


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote_prompt(prompt: str) -> str:
    """The prompt as embed text, with markdown that would break the layout neutralised."""
    return discord.utils.escape_markdown(prompt, as_needed=True)


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link to a message."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def source_text(job: Job) -> str:
    """Where an edit's image came from: a link to its message, or "an uploaded image"."""
    if job.source_channel_id is not None and job.source_message_id is not None:
        link = jump_url(job.guild_id, job.source_channel_id, job.source_message_id)
        text = f"[this message]({link})"
    else:
        text = "an uploaded image"
    references = len(job.source_urls) - 1
    if references > 0:
        text += f" + {references} reference image{'s' if references > 1 else ''}"
    return text


def running_text(job: Job) -> str:
    """The response's text once the job has started."""
    return "🖌️ Editing your image…" if job.is_edit else queued_text(0)


def queued_text(position: int | None, wait: float | None = None) -> str:
    """The response's text while the job waits (``position`` ≥ 1) or runs (0 or None)."""
    if position is None or position == 0:
        return "🎨 Generating your image…"
    where = "you are next" if position == 1 else f"position {position} in this server's queue"
    return f"⏳ Queued: {where}{_about(wait)}."


def _about(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f" (about {max(5, round(seconds / 5) * 5):.0f} s)"
    return f" (about {round(seconds / 60):.0f} min)"


def result_embed(
    job: Job, *, filename: str, seconds: float, model: str, width: int, height: int
) -> discord.Embed:
    """The embed under a finished image: prompt, requester, ratio (or, for an edit,
    where its image came from), time taken."""
    embed = discord.Embed(
        description=truncate(quote_prompt(job.prompt), 4000),
        colour=RESULT_COLOUR,
    )
    if job.is_edit:
        embed.title = "🖌️ Edited image"
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    if job.is_edit:
        embed.add_field(name="Edit of", value=source_text(job), inline=True)
    else:
        embed.add_field(name="Aspect ratio", value=job.aspect_ratio or "1:1 (default)", inline=True)
    embed.add_field(name="Time", value=f"{seconds:.1f} s", inline=True)
    embed.set_image(url=f"attachment://{filename}")
    embed.set_footer(text=f"{model} · {width}×{height} · job #{job.id}")
    return embed


def error_embed(message: str, *, job_id: int | None = None) -> discord.Embed:
    """A short error a member can act on."""
    embed = discord.Embed(description=f"❌ {message}", colour=ERROR_COLOUR)
    if job_id is not None:
        embed.set_footer(text=f"job #{job_id} · not counted against your quota")
    return embed


def failed_prompt_line(job: Job) -> str:
    """Which request failed, for the edited response."""
    verb = "edit" if job.is_edit else "generate"
    return f"Couldn't {verb}: {truncate(quote_prompt(job.prompt), 200)}"
