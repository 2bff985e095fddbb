"""What the bot may do in a channel, computed from Discord's REST answers.

``doctor`` runs without the gateway, so it has no discord.py cache to ask; it
reads the guild (roles), the bot's member (its roles) and the channel (its
overwrites; a thread's are its parent's) and computes the permissions the way
discord-api-docs ("Permissions") describes: @everyone and the member's roles
(the owner and administrators have everything), then the channel's overwrites
for @everyone, for the member's roles together (denies, then allows), for the
member; without View Channel nothing else counts; in a thread, Send Messages
in Threads takes the place of Send Messages ("Threads").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import discord

_FLAGS = discord.Permissions
ADMINISTRATOR = _FLAGS(administrator=True).value
VIEW_CHANNEL = _FLAGS(view_channel=True).value
SEND_MESSAGES = _FLAGS(send_messages=True).value
SEND_IN_THREADS = _FLAGS(send_messages_in_threads=True).value
EMBED_LINKS = _FLAGS(embed_links=True).value
ATTACH_FILES = _FLAGS(attach_files=True).value
ALL = _FLAGS.all().value

THREAD_TYPES = (10, 11, 12)

# What the bot needs where it posts a result (README, "Creating the Discord application").
NEEDED: tuple[tuple[int, str], ...] = (
    (VIEW_CHANNEL, "View Channel"),
    (SEND_MESSAGES, "Send Messages"),
    (EMBED_LINKS, "Embed Links"),
    (ATTACH_FILES, "Attach Files"),
)
NEEDED_IN_THREADS: tuple[tuple[int, str], ...] = (
    (VIEW_CHANNEL, "View Channel"),
    (SEND_IN_THREADS, "Send Messages in Threads"),
    (EMBED_LINKS, "Embed Links"),
    (ATTACH_FILES, "Attach Files"),
)


def is_thread(channel: Mapping[str, Any]) -> bool:
    """Whether a channel object is a thread."""
    return channel.get("type") in THREAD_TYPES


def channel_permissions(
    guild: Mapping[str, Any],
    member_roles: Sequence[int],
    user_id: int,
    channel: Mapping[str, Any],
    parent: Mapping[str, Any] | None = None,
) -> int:
    """The permission bits of a member in ``channel`` (a thread: pass its ``parent``)."""
    guild_id = int(guild["id"])
    if int(guild.get("owner_id") or 0) == user_id:
        return ALL
    roles = {int(role["id"]): int(role.get("permissions") or 0) for role in guild.get("roles", ())}
    base = roles.get(guild_id, 0)
    for role_id in member_roles:
        base |= roles.get(role_id, 0)
    if base & ADMINISTRATOR:
        return ALL
    source = parent if is_thread(channel) and parent is not None else channel
    overwrites = {int(o["id"]): o for o in source.get("permission_overwrites") or ()}
    perms = base
    everyone = overwrites.get(guild_id)
    if everyone is not None:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role_id in member_roles:
        overwrite = overwrites.get(role_id)
        if overwrite is not None and int(overwrite["type"]) == 0:
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
    perms = (perms & ~deny) | allow
    own = overwrites.get(user_id)
    if own is not None and int(own["type"]) == 1:
        perms = (perms & ~int(own["deny"])) | int(own["allow"])
    if not perms & VIEW_CHANNEL:
        return 0
    return perms


def missing(perms: int, *, thread: bool) -> list[str]:
    """The names of the permissions the bot needs to post there and lacks."""
    needed = NEEDED_IN_THREADS if thread else NEEDED
    return [name for bit, name in needed if not perms & bit]
