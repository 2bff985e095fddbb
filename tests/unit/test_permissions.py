"""The bot's permissions in a channel, from Discord's REST objects (for doctor)."""

from __future__ import annotations

from typing import Any

from bot.permissions import (
    ALL,
    ATTACH_FILES,
    EMBED_LINKS,
    SEND_IN_THREADS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    channel_permissions,
    missing,
)

GUILD_ID, BOT_ID, BOT_ROLE, OTHER_ROLE = 1, 2, 3, 4
Json = dict[str, Any]
POSTING = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES


def guild(everyone: int = VIEW_CHANNEL, bot_role: int = POSTING, owner: int = 99) -> Json:
    return {
        "id": str(GUILD_ID),
        "owner_id": str(owner),
        "roles": [
            {"id": str(GUILD_ID), "permissions": str(everyone)},
            {"id": str(BOT_ROLE), "permissions": str(bot_role)},
            {"id": str(OTHER_ROLE), "permissions": "0"},
        ],
    }


def overwrite(target: int, kind: int, allow: int = 0, deny: int = 0) -> Json:
    return {"id": str(target), "type": kind, "allow": str(allow), "deny": str(deny)}


def channel(*overwrites: Json) -> Json:
    return {"id": "10", "type": 0, "permission_overwrites": list(overwrites)}


def lacks(server: Json, where: Json, parent: Json | None = None) -> list[str]:
    """What the bot (with its role) lacks to post in ``where``."""
    perms = channel_permissions(server, [BOT_ROLE], BOT_ID, where, parent)
    return missing(perms, thread=where["type"] == 11)


def test_roles_add_up_and_nothing_is_missing():
    assert lacks(guild(), channel()) == []


def test_overwrites_apply_everyone_then_roles_then_the_member():
    denied = channel(overwrite(GUILD_ID, 0, deny=EMBED_LINKS))
    assert lacks(guild(everyone=POSTING, bot_role=0), denied) == ["Embed Links"]
    # A role's allow wins over @everyone's deny; the member's deny wins over both.
    allowed = channel(
        overwrite(GUILD_ID, 0, deny=EMBED_LINKS), overwrite(BOT_ROLE, 0, allow=EMBED_LINKS)
    )
    assert lacks(guild(), allowed) == []
    member = channel(
        overwrite(BOT_ROLE, 0, allow=ATTACH_FILES), overwrite(BOT_ID, 1, deny=ATTACH_FILES)
    )
    assert lacks(guild(), member) == ["Attach Files"]


def test_without_view_channel_nothing_counts():
    hidden = channel(overwrite(BOT_ROLE, 0, deny=VIEW_CHANNEL))
    assert channel_permissions(guild(everyone=0), [BOT_ROLE], BOT_ID, hidden) == 0


def test_threads_take_the_parents_overwrites_and_need_their_own_send():
    parent = channel(overwrite(BOT_ROLE, 0, deny=ATTACH_FILES))
    thread = {"id": "11", "type": 11, "parent_id": "10"}
    assert lacks(guild(), thread, parent) == ["Send Messages in Threads", "Attach Files"]
    assert lacks(guild(bot_role=POSTING | SEND_IN_THREADS), thread, channel()) == []


def test_the_owner_and_administrators_have_everything():
    assert channel_permissions(guild(owner=BOT_ID), [], BOT_ID, channel()) == ALL
    hidden = channel(overwrite(GUILD_ID, 0, deny=VIEW_CHANNEL))
    assert channel_permissions(guild(bot_role=1 << 3), [BOT_ROLE], BOT_ID, hidden) == ALL
