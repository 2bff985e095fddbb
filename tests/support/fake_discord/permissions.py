"""Channel permissions, threads, upload limits and the message rules that depend on them.

Where the rules come from:

- discord-api-docs, "Permissions": base permissions from @everyone and the member's
  roles (administrator and the owner have all), then the channel's overwrites in
  order @everyone, roles (denies then allows, together), the member; no View
  Channel means no permission at all; denying Send Messages implicitly denies
  Mention Everyone, Send TTS Messages, Attach Files and Embed Links.
- discord-api-docs, "Threads": a thread takes its parent's permissions, except that
  Send Messages has no effect there and Send Messages in Threads is needed instead;
  without Manage Threads nobody creates or edits messages in a locked thread;
  messages in an archived thread cannot be edited (50083), and sending one
  unarchives the thread unless it is locked.
- discord-api-docs, "Message Resource", Create Message: ``enforce_nonce`` returns the
  message the same author created "in the past few minutes" with that nonce instead
  of a second one (the window is not documented: ``NONCE_WINDOW`` is an
  assumption); discord.py's docs of ``Messageable.send`` add that a nonce of a
  message deleted shortly before answers 404.
- Embed Links (reported, not documented for bot messages): without it Discord drops
  the embeds of a message that has anything else, and refuses an embed-only one as
  empty (50006).
- Upload limits by boost tier, 10, 10, 50 and 100 MiB (Discord's Server Boosting
  FAQ; discord.py's ``Guild.filesize_limit`` has the same table). A member's
  interaction says its own ``attachment_size_limit``, up to 500 MiB with Nitro.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .models import FakeChannel, FakeGuild, FakeMessage, Permissions
from .validate import missing_permissions, thread_archived, thread_locked, unknown_message

if TYPE_CHECKING:
    from .server import FakeDiscord

MIB = 1024 * 1024
TIER_UPLOAD_LIMITS = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}
NITRO_ATTACHMENT_LIMIT = 500 * MIB
"""The ``attachment_size_limit`` of an interaction by a member with Nitro."""
NONCE_WINDOW = 5 * 60.0
"""Seconds an enforced nonce is remembered ("the past few minutes": assumed 5)."""

# Implicitly denied without the right to send (discord-api-docs, "Permissions").
_NEEDS_SEND = (
    Permissions.MENTION_EVERYONE
    | Permissions.SEND_TTS_MESSAGES
    | Permissions.ATTACH_FILES
    | Permissions.EMBED_LINKS
)
MANAGE_THREADS = 1 << 34


def tier_upload_limit(premium_tier: int) -> int:
    """Bytes per file anyone may upload in a guild of this boost tier."""
    return TIER_UPLOAD_LIMITS.get(premium_tier, TIER_UPLOAD_LIMITS[0])


def channel_permissions(guild: FakeGuild, user_id: int, channel: FakeChannel) -> int:
    """A member's permissions in a channel or thread, overwrites and implicit denials applied."""
    base = guild.base_permissions(user_id)
    if base & Permissions.ADMINISTRATOR:
        return Permissions.ALL
    target = channel
    if channel.is_thread and channel.parent_id is not None:
        target = guild.channels.get(channel.parent_id, channel)
    overwrites = {o.id: o for o in target.overwrites}
    perms = base
    everyone = overwrites.get(guild.id)
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    member = guild.members.get(user_id)
    roles = member.roles if member is not None else []
    allow = deny = 0
    for role_id in roles:
        overwrite = overwrites.get(role_id)
        if overwrite is not None and overwrite.type == 0:
            allow |= overwrite.allow
            deny |= overwrite.deny
    perms = (perms & ~deny) | allow
    own = overwrites.get(user_id)
    if own is not None and own.type == 1:
        perms = (perms & ~own.deny) | own.allow
    if not perms & Permissions.VIEW_CHANNEL:
        return 0
    send = Permissions.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permissions.SEND_MESSAGES
    if not perms & send:
        perms &= ~_NEEDS_SEND
    return perms


def can_send(perms: int, channel: FakeChannel) -> bool:
    """Whether ``perms`` allow sending a message in ``channel`` (threads need their own bit)."""
    if channel.is_thread:
        return bool(perms & Permissions.SEND_MESSAGES_IN_THREADS)
    return bool(perms & Permissions.SEND_MESSAGES)


def check_send(channel: FakeChannel, perms: int) -> bool:
    """Raise unless a message may be created here; True when it will unarchive a thread."""
    if channel.forbidden or not can_send(perms, channel):
        raise missing_permissions()
    if channel.is_thread and channel.locked and not perms & MANAGE_THREADS:
        raise thread_locked()
    return channel.is_thread and channel.archived


def check_edit(channel: FakeChannel, perms: int) -> None:
    """Raise unless a message in this channel may be edited (archived and locked threads)."""
    if not channel.is_thread:
        return
    if channel.archived:
        raise thread_archived()
    if channel.locked and not perms & MANAGE_THREADS:
        raise thread_locked()


def without_embeds_unless_allowed(payload: Any, perms: int) -> Any:
    """The payload as Discord keeps it: no embeds without Embed Links (reported)."""
    if perms & Permissions.EMBED_LINKS or not isinstance(payload, dict):
        return payload
    if not payload.get("embeds"):
        return payload
    return {key: value for key, value in payload.items() if key != "embeds"}


def earlier_by_nonce(
    fake: FakeDiscord, author_id: int, payload: Any, now: float
) -> FakeMessage | None:
    """The message this create repeats under ``enforce_nonce``, if any (404 if deleted)."""
    if not isinstance(payload, dict) or not payload.get("enforce_nonce"):
        return None
    nonce = payload.get("nonce")
    if nonce is None:
        return None
    for message in reversed(list(fake.messages.values())):
        if message.author.id != author_id or message.nonce is None:
            continue
        if str(message.nonce) != str(nonce):
            continue
        if now - message.created_at.timestamp() > NONCE_WINDOW:
            return None
        if message.deleted:
            raise unknown_message()
        return message
    return None
