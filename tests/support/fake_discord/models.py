"""Data model of the fake Discord server: snowflakes, users, guilds, messages, interactions.

Everything here is plain data plus helpers that render Discord API JSON objects
(shapes from discord-api-docs). The server (``server.FakeDiscord``) owns instances of
these classes; tests read them to assert on what the bot did.
"""

from __future__ import annotations

import datetime as dt
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeDiscord

DISCORD_EPOCH_MS = 1420070400000
"""First millisecond of 2015, the epoch of Discord snowflakes."""

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
"""Default per-file upload limit (10 MiB), also the default ``attachment_size_limit``."""


class Permissions:
    """Permission bits (discord-api-docs topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EXTERNAL_APPS = 1 << 50

    ALL: int = sum(1 << bit for bit in (*range(47), 48, 49, 50, 51, 52))
    """Every documented permission bit (bit 47 is unassigned)."""

    DEFAULT_EVERYONE = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
        | USE_EXTERNAL_APPS
    )
    """Roughly what Discord gives @everyone in a new guild."""

    DEFAULT_BOT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | ADD_REACTIONS
        | USE_APPLICATION_COMMANDS
    )
    """Permissions of the bot's managed role unless ``add_guild(bot_permissions=...)``."""


class Intents:
    """Gateway intent bits (discord-api-docs events/gateway)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MESSAGES = 1 << 9
    GUILD_PRESENCES = 1 << 8
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
    ALL_VALID = (1 << 26) - 1


class MessageFlags:
    """Message flag bits (discord-api-docs resources/message)."""

    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_VOICE_MESSAGE = 1 << 13
    IS_COMPONENTS_V2 = 1 << 15
    SETTABLE = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_VOICE_MESSAGE | IS_COMPONENTS_V2


class SnowflakeGenerator:
    """Generates real, time-based snowflakes: ``(ms since 2015) << 22 | increment``.

    IDs are strictly increasing. ``next(shard=(shard_id, shard_count))`` returns an ID whose
    ``(id >> 22) % shard_count == shard_id`` by moving at most ``shard_count - 1`` ms ahead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._increment = 0

    def next(self, *, shard: tuple[int, int] | None = None) -> int:
        """Return a new snowflake (optionally one that lands on the given shard)."""
        with self._lock:
            now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            ms = max(now_ms, self._last_ms)
            if ms == self._last_ms:
                self._increment += 1
                if self._increment >= 4096:
                    ms += 1
                    self._increment = 0
            else:
                self._increment = 0
            if shard is not None:
                shard_id, shard_count = shard
                while ms % shard_count != shard_id:
                    ms += 1
                    self._increment = 0
            self._last_ms = ms
            return (ms << 22) | self._increment


def snowflake_time(snowflake: int) -> dt.datetime:
    """Creation time encoded in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso(when: dt.datetime) -> str:
    """ISO8601 timestamp in Discord's format (``2017-07-11T17:27:07.299000+00:00``)."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def utcnow() -> dt.datetime:
    """Timezone-aware current time."""
    return dt.datetime.now(dt.UTC)


@dataclass(eq=False)
class FakeUser:
    """A Discord user (or the bot user)."""

    id: int
    username: str
    global_name: str | None = None
    discriminator: str = "0"
    avatar: str | None = None
    bot: bool = False
    public_flags: int = 0

    @property
    def mention(self) -> str:
        """``<@id>`` mention string."""
        return f"<@{self.id}>"

    def to_dict(self) -> dict[str, Any]:
        """User object JSON."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": self.discriminator,
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": self.public_flags,
            "flags": self.public_flags,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeRole:
    """A guild role. The @everyone role has the guild's ID."""

    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    tags: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Role object JSON."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.tags is not None:
            data["tags"] = self.tags
        return data


@dataclass(eq=False)
class Overwrite:
    """A permission overwrite of a channel: a role's (``type`` 0) or a member's (1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Overwrite object JSON."""
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


THREAD_TYPES = (10, 11, 12)
"""Announcement, public and private thread channel types."""


@dataclass(eq=False)
class FakeChannel:
    """A guild text channel, or a thread of one (``parent_id``, ``archived``, ``locked``).

    ``overwrites`` are its permission overwrites (a thread uses its parent's).
    ``forbidden=True`` makes bot sends fail with 403/50013.
    """

    id: int
    guild_id: int
    name: str
    type: int = 0  # GUILD_TEXT
    position: int = 0
    forbidden: bool = False
    last_message_id: int | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    parent_id: int | None = None
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    created_at: dt.datetime = field(default_factory=utcnow)

    @property
    def is_thread(self) -> bool:
        """Whether this is a thread."""
        return self.type in THREAD_TYPES

    def to_dict(self) -> dict[str, Any]:
        """Guild text channel (or thread) object JSON."""
        if self.is_thread:
            return self._thread_dict()
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.to_dict() for o in self.overwrites],
            "parent_id": None,
            "flags": 0,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "last_pin_timestamp": None,
            "default_auto_archive_duration": 1440,
        }

    def _thread_dict(self) -> dict[str, Any]:
        # discord-api-docs, "Threads" and "Channel Resource" (thread metadata).
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "owner_id": str(self.owner_id or 0),
            "name": self.name,
            "flags": 0,
            "rate_limit_per_user": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "thread_metadata": {
                "archived": self.archived,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(self.created_at),
                "locked": self.locked,
                "invitable": True,
                "create_timestamp": iso(self.created_at),
            },
        }


@dataclass(eq=False)
class FakeMember:
    """A user's membership of a guild."""

    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=utcnow)

    def to_dict(self, *, permissions: int | None = None, with_user: bool = True) -> dict[str, Any]:
        """Guild member object JSON (optionally with computed ``permissions``)."""
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        if with_user:
            data["user"] = self.user.to_dict()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class FakeGuild:
    """A guild with its roles, channels and members. Create via ``FakeDiscord.add_guild``."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    preferred_locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    joined_at: dt.datetime = field(default_factory=utcnow)
    premium_tier: int = 0
    threads: dict[int, FakeChannel] = field(default_factory=dict)

    @property
    def default_role(self) -> FakeRole:
        """The @everyone role."""
        return self.roles[self.id]

    @property
    def text_channel(self) -> FakeChannel:
        """The first text channel (the default ``general`` channel)."""
        for channel in self.channels.values():
            if channel.type == 0:
                return channel
        raise LookupError(f"guild {self.name!r} has no text channel")

    def shard_id(self, shard_count: int) -> int:
        """Shard that receives this guild's events: ``(guild_id >> 22) % shard_count``."""
        return (self.id >> 22) % shard_count

    def base_permissions(self, user_id: int) -> int:
        """Guild-level permissions of a member (discord-api-docs compute_base_permissions)."""
        if user_id == self.owner_id:
            return Permissions.ALL
        member = self.members.get(user_id)
        perms = self.default_role.permissions
        if member is not None:
            for role_id in member.roles:
                role = self.roles.get(role_id)
                if role is not None:
                    perms |= role.permissions
        if perms & Permissions.ADMINISTRATOR:
            return Permissions.ALL
        return perms

    def permissions_in(self, user_id: int, channel: FakeChannel) -> int:
        """Channel permissions of a member, overwrites included (see ``permissions``)."""
        from .permissions import channel_permissions  # it needs these models

        return channel_permissions(self, user_id, channel)

    @property
    def upload_limit(self) -> int:
        """Bytes per file the bot may upload to this guild's channels (its boost tier)."""
        from .permissions import tier_upload_limit

        return tier_upload_limit(self.premium_tier)

    def to_dict(self) -> dict[str, Any]:
        """Guild object JSON (without the GUILD_CREATE extra fields)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.to_dict() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(self.features),
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.preferred_locale,
            "nsfw_level": 0,
            "nsfw": False,
            "incidents_data": None,
            "hub_type": None,
            "latest_onboarding_question_id": None,
        }


@dataclass(eq=False)
class FakeUpload:
    """One ``files[n]`` part of a multipart request."""

    field: str
    index: int
    filename: str
    content_type: str | None
    data: bytes


@dataclass(eq=False)
class FakeAttachment:
    """A stored attachment, with the exact bytes that were uploaded."""

    id: int
    filename: str
    data: bytes
    url: str
    content_type: str | None = None
    description: str | None = None
    title: str | None = None
    width: int | None = None
    height: int | None = None
    flags: int = 0
    ephemeral: bool = False

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def to_dict(self) -> dict[str, Any]:
        """Attachment object JSON."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        if self.description is not None:
            data["description"] = self.description
        if self.title is not None:
            data["title"] = self.title
        if self.width is not None and self.height is not None:
            data["width"] = self.width
            data["height"] = self.height
            data["placeholder_version"] = 1
        if self.flags:
            data["flags"] = self.flags
        if self.ephemeral:
            data["ephemeral"] = True
        return data


@dataclass(eq=False)
class MessageEdit:
    """One successful edit of a message: the request payload and the state before it."""

    at: dt.datetime
    payload: dict[str, Any]
    uploads: list[FakeUpload]
    before: dict[str, Any]
    via: str


@dataclass(eq=False)
class FakeMessage:
    """A message stored by the fake (channel message, interaction response or followup)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    attachments: list[FakeAttachment] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    tts: bool = False
    nonce: str | int | None = None
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction: FakeInteraction | None = None
    is_followup: bool = False
    message_reference: dict[str, Any] | None = None
    mentions: list[FakeUser] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    poll: dict[str, Any] | None = None
    sticker_ids: list[str] = field(default_factory=list)
    deleted: bool = False
    deleted_at: dt.datetime | None = None
    edited_at: dt.datetime | None = None
    edits: list[MessageEdit] = field(default_factory=list)
    created_payload: dict[str, Any] = field(default_factory=dict)

    @property
    def created_at(self) -> dt.datetime:
        """Creation time (from the snowflake)."""
        return snowflake_time(self.id)

    @property
    def ephemeral(self) -> bool:
        """Whether the EPHEMERAL flag is set."""
        return bool(self.flags & MessageFlags.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether this is a deferred ("thinking") interaction response not yet edited."""
        return bool(self.flags & MessageFlags.LOADING)

    @property
    def files(self) -> list[bytes]:
        """Raw bytes of every attachment, in order."""
        return [a.data for a in self.attachments]

    def iter_components(self) -> Iterator[dict[str, Any]]:
        """Every component in the message, depth first."""
        yield from iter_components(self.components)

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        """Component with the given custom_id, if any."""
        for component in self.iter_components():
            if component.get("custom_id") == custom_id:
                return component
        return None

    def visible_attachments(self) -> list[FakeAttachment]:
        """Attachments as listed in the message JSON (those not shown inside embeds)."""
        used = set()
        for embed in self.embeds:
            for key in ("image", "thumbnail"):
                url = (embed.get(key) or {}).get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    used.add(url.removeprefix("attachment://"))
        return [a for a in self.attachments if a.filename not in used]

    def _render_embeds(self) -> list[dict[str, Any]]:
        by_name = {a.filename: a for a in self.attachments}
        rendered = []
        for embed in self.embeds:
            out = dict(embed)
            out.setdefault("type", "rich")
            out.setdefault("content_scan_version", 0)
            for key in ("image", "thumbnail"):
                media = out.get(key)
                if isinstance(media, dict):
                    url = media.get("url")
                    if isinstance(url, str) and url.startswith("attachment://"):
                        att = by_name.get(url.removeprefix("attachment://"))
                        if att is not None:
                            media = dict(media, url=att.url, proxy_url=att.url)
                            if att.width is not None:
                                media.update(width=att.width, height=att.height)
                            media.setdefault("flags", 0)
                            out[key] = media
            rendered.append(out)
        return rendered

    def to_dict(self, *, with_guild_id: bool = False) -> dict[str, Any]:
        """Message object JSON, as the REST API returns it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "content": self.content,
            "channel_id": str(self.channel_id),
            "author": self.author.to_dict(),
            "attachments": [a.to_dict() for a in self.visible_attachments()],
            "embeds": self._render_embeds(),
            "mentions": [u.to_dict() for u in self.mentions],
            "mention_roles": [str(r) for r in self.mention_roles],
            "pinned": False,
            "mention_everyone": self.mention_everyone,
            "tts": self.tts,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "flags": self.flags,
            "components": self.components,
        }
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.poll is not None:
            data["poll"] = self.poll
        if self.interaction is not None:
            data.update(self.interaction._message_interaction_fields(self))
        if with_guild_id and self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        return data


def iter_components(components: list[Any]) -> Iterator[dict[str, Any]]:
    """Walk a component tree depth first (rows, sections, containers, labels)."""
    for component in components:
        if not isinstance(component, dict):
            continue
        yield component
        children = component.get("components")
        if isinstance(children, list):
            yield from iter_components(children)
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from iter_components([child])


@dataclass(eq=False)
class RecordedRequest:
    """One HTTP request received by the fake, with the response it got."""

    method: str
    path: str
    """Path relative to the API base, e.g. ``/interactions/1/tok/callback``."""
    route: str
    """Route template, e.g. ``POST /interactions/{id}/{token}/callback``."""
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    """Parsed JSON body, or the parsed ``payload_json`` of a multipart body."""
    files: list[FakeUpload]
    time: float
    """``loop.time()`` when the request arrived."""
    status: int | None = None
    response: Any = None
    done: bool = False

    @property
    def ok(self) -> bool:
        """Whether the response was 2xx."""
        return self.status is not None and 200 <= self.status < 300

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.path} -> {self.status}>"


@dataclass(eq=False)
class InteractionCallback:
    """The accepted initial response to an interaction."""

    type: int
    data: dict[str, Any]
    files: list[FakeUpload]
    received_at: float
    request: RecordedRequest

    @property
    def ephemeral(self) -> bool:
        """Whether flags include EPHEMERAL (64)."""
        return bool(int(self.data.get("flags") or 0) & MessageFlags.EPHEMERAL)


class InteractionType:
    """Interaction type values."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType:
    """Interaction callback type values."""

    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9
    PREMIUM_REQUIRED = 10
    LAUNCH_ACTIVITY = 12


@dataclass(eq=False)
class FakeInteraction:
    """An interaction the fake dispatched, and everything the bot did in reply."""

    fake: FakeDiscord = field(repr=False)
    id: int
    token: str
    type: int
    user: FakeUser
    guild: FakeGuild
    channel: FakeChannel
    data: dict[str, Any]
    payload: dict[str, Any] = field(repr=False)
    attachment_size_limit: int
    shard_id: int
    name: str | None = None
    """Full command name (``"limits set"``) for application commands."""
    command_type: int | None = None
    message: FakeMessage | None = None
    """For component / modal-from-component interactions: the message interacted with."""
    parent: FakeInteraction | None = field(default=None, repr=False)
    """For modal submits: the interaction that opened the modal."""
    dispatched_at: float | None = None
    expired: bool = False
    callback: InteractionCallback | None = None
    original_message: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    responses: list[RecordedRequest] = field(default_factory=list)
    """Every callback / webhook request addressed to this interaction (including failures)."""

    # -- state -------------------------------------------------------------
    @property
    def responded(self) -> bool:
        """Whether an initial response was accepted."""
        return self.callback is not None

    @property
    def response_type(self) -> int | None:
        """Callback type of the accepted initial response."""
        return self.callback.type if self.callback else None

    @property
    def ephemeral(self) -> bool | None:
        """Whether the initial response was ephemeral (None before it)."""
        if self.callback is None:
            return None
        if self.original_message is not None and self.callback.type in (4, 5):
            return self.original_message.ephemeral
        return self.callback.ephemeral

    @property
    def ack_latency(self) -> float | None:
        """Seconds between dispatching the interaction and receiving the initial response."""
        if self.callback is None or self.dispatched_at is None:
            return None
        return self.callback.received_at - self.dispatched_at

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal (callback data) if the bot answered with type 9."""
        if self.callback is not None and self.callback.type == CallbackType.MODAL:
            return self.callback.data
        return None

    @property
    def messages(self) -> list[FakeMessage]:
        """Original response (if any) followed by followups."""
        out = [self.original_message] if self.original_message is not None else []
        return out + self.followups

    # -- waiting -----------------------------------------------------------
    async def wait_for_response(
        self,
        timeout: float = 5.0,
    ) -> InteractionCallback:
        """Wait for the initial callback; returns it."""
        await self.fake.wait_until(
            lambda: self.callback is not None, timeout, f"initial response to {self!r}"
        )
        assert self.callback is not None
        return self.callback

    async def wait_for_original(
        self,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        include_followups: bool = True,
    ) -> FakeMessage:
        """Wait until the original response (or a followup) satisfies ``predicate``.

        Without a predicate, waits for an original response that is no longer loading.
        """

        def check() -> FakeMessage | None:
            candidates = [self.original_message] if self.original_message else []
            if include_followups:
                candidates += self.followups
            for msg in candidates:
                if msg.deleted:
                    continue
                if predicate is None:
                    if msg is self.original_message and not msg.loading:
                        return msg
                elif predicate(msg):
                    return msg
            return None

        return await self.fake.wait_until(
            check, timeout, f"original response matching for {self!r}"
        )

    # -- JSON helpers ------------------------------------------------------
    def _metadata(self, message: FakeMessage) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "user": self.user.to_dict(),
            "authorizing_integration_owners": {"0": str(self.guild.id)},
        }
        if self.type == InteractionType.APPLICATION_COMMAND:
            meta["name"] = self.name
            meta["command_type"] = self.command_type
        if self.type == InteractionType.MESSAGE_COMPONENT and self.message is not None:
            meta["interacted_message_id"] = str(self.message.id)
        if self.type == InteractionType.MODAL_SUBMIT and self.parent is not None:
            meta["triggering_interaction_metadata"] = self.parent._metadata(message)
        if message.is_followup and self.original_message is not None:
            meta["original_response_message_id"] = str(self.original_message.id)
        return meta

    def _message_interaction_fields(self, message: FakeMessage) -> dict[str, Any]:
        fields: dict[str, Any] = {"interaction_metadata": self._metadata(message)}
        if self.type == InteractionType.APPLICATION_COMMAND or (
            self.type == InteractionType.MODAL_SUBMIT and self.message is None
        ):
            root = self.parent if self.parent is not None else self
            member = self.guild.members.get(self.user.id)
            legacy: dict[str, Any] = {
                "id": str(self.id),
                "type": self.type,
                "name": root.name or "",
                "user": self.user.to_dict(),
            }
            if member is not None:
                legacy["member"] = member.to_dict(with_user=False)
            fields["interaction"] = legacy
        return fields

    def __repr__(self) -> str:
        what = self.name or self.data.get("custom_id")
        return f"<FakeInteraction id={self.id} type={self.type} {what!r}>"


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of PNG, GIF, JPEG or WebP bytes (None if unknown)."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            chunk = data[12:16]
            if chunk == b"VP8X":
                width = int.from_bytes(data[24:27], "little") + 1
                height = int.from_bytes(data[27:30], "little") + 1
                return width, height
            if chunk == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return width & 0x3FFF, height & 0x3FFF
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if data[:2] == b"\xff\xd8":
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    return None
                marker = data[i + 1]
                length = struct.unpack(">H", data[i + 2 : i + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB):
                    height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                    return width, height
                i += 2 + length
    except (struct.error, IndexError):
        return None
    return None
