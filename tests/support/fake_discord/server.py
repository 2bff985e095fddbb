"""A local Discord-compatible server for driving the real discord.py client in tests.

Usage::

    fake = FakeDiscord(token="t0ken", shard_count=1)
    await fake.start()
    guild = fake.add_guild(name="Test Guild")
    user = fake.add_member(guild, "alice")
    with fake.patch_discord_py():          # Route.BASE + DiscordWebSocket.DEFAULT_GATEWAY
        ...start the bot with token "t0ken", await fake.wait_for_ready()...
        it = await fake.invoke_command(guild, guild.text_channel, user, "imagine",
                                       options={"prompt": "a cat"})
        msg = await it.wait_for_original(lambda m: bool(m.attachments))
    await fake.close()

REST lives under ``fake.api_url`` (``http://127.0.0.1:PORT/api/v10``), the gateway at
``fake.gateway_url`` (``ws://127.0.0.1:PORT/gateway``). Every HTTP request is recorded in
``fake.requests``; gateway/HTTP protocol misuse that the fake cannot serve is recorded in
``fake.protocol_errors`` (check it with :meth:`FakeDiscord.assert_no_protocol_errors`).

This module is the test-facing control API; the protocol lives in the sibling modules
(see the package docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from .gateway import GatewayServer, GatewaySession
from .interactions import (
    CHAT_INPUT_COMMAND,
    MESSAGE_COMMAND,
    OptionValue,
    Resolved,
    build_command_data,
    check_command_usable,
    find_button,
    message_command_data,
    modal_submit_components,
    new_token,
    select_values,
)
from .models import (
    DEFAULT_UPLOAD_LIMIT,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Intents,
    InteractionType,
    Overwrite,
    Permissions,
    RecordedRequest,
    SnowflakeGenerator,
    image_size,
    utcnow,
)
from .ratelimits import RateLimits
from .rest import RestApi

__all__ = ["FakeDiscord", "FakeDiscordTimeout"]

_T = TypeVar("_T")


class FakeDiscordTimeout(AssertionError):
    """A ``wait_*`` helper timed out; the message says what was awaited and what happened."""


class FakeDiscord:
    """A fake Discord API + gateway on 127.0.0.1 with a test-facing control API.

    Args:
        token: the bot token the fake accepts (``Authorization: Bot <token>``, IDENTIFY).
        shard_count: shard count recommended by ``GET /gateway/bot``.

    The application has no privileged intents: IDENTIFY asking for one is closed with
    4014. Limits and timeouts are attributes a test may change before acting.
    """

    def __init__(
        self,
        token: str = "fake-bot-token",  # noqa: S107
        *,
        shard_count: int = 1,
    ) -> None:
        if shard_count < 1:
            raise ValueError("shard_count must be >= 1")
        self.token = token
        self.snowflakes = SnowflakeGenerator()
        self.application_id = self.snowflakes.next()
        self.shard_count = shard_count
        self.heartbeat_interval = 41250
        """HELLO ``heartbeat_interval`` in ms (what Discord sends)."""
        self.attachment_size_limit = DEFAULT_UPLOAD_LIMIT
        """Default ``attachment_size_limit`` of interactions (bytes)."""
        self.initial_response_timeout = 3.0
        """Seconds the bot has for the initial interaction response (Discord: 3)."""
        self.interaction_token_lifetime = 15 * 60.0
        """Seconds an interaction token stays valid (Discord: 15 minutes)."""
        self.latency = 0.0
        """Seconds each way between the bot and the fake: REST requests and their answers
        are each delayed this long, and so is every gateway frame."""
        self.ratelimits = RateLimits()
        """Per-route, global and invalid-request limits (see ``ratelimits``)."""
        self.late_acknowledgements: list[FakeInteraction] = []
        """Interactions whose initial response came after ``initial_response_timeout``."""

        self.bot_user = FakeUser(
            id=self.application_id, username="FakeBot", discriminator="0001", bot=True
        )
        self.owner_user = FakeUser(id=self.snowflakes.next(), username="app-owner")
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        """Every message ever stored (including deleted ones), by ID."""
        self.attachments: dict[int, FakeAttachment] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self.commands: list[dict[str, Any]] = []
        """Global application commands, as returned by the API."""
        self.command_syncs: list[RecordedRequest] = []
        """Successful bulk-overwrite PUTs."""
        self.requests: list[RecordedRequest] = []
        self.protocol_errors: list[str] = []
        self.gateway_closes: list[tuple[int, str]] = []
        """(close code, reason) of every connection the fake closed on purpose."""
        self.identifies: list[dict[str, Any]] = []
        self.gateway_received: list[dict[str, Any]] = []
        self.verify_key = secrets.token_hex(32)

        self._rest = RestApi(self)
        self._gateway = GatewayServer(self)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self.holds: list[tuple[str, asyncio.Event]] = []
        """(path prefix, gate): REST requests whose path starts with the prefix wait for
        the gate before they are handled (see :meth:`hold_requests`)."""
        self.poll_interval = 0.02
        """How often ``wait_until`` re-checks predicates that the fake is not notified of."""

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Start listening on 127.0.0.1 (random port)."""
        if self._runner is not None:
            raise RuntimeError("FakeDiscord already started")
        app = web.Application(middlewares=[self._rest.middleware], client_max_size=1 << 30)
        app.router.add_get("/gateway", self._gateway.handle)
        self._rest.add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def close(self) -> None:
        """Close gateway connections and stop the server."""
        if self._runner is None:
            return
        await self._gateway.close_all()
        await self._runner.cleanup()
        self._runner = None
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()

    @property
    def port(self) -> int:
        """TCP port of the server."""
        if self._port is None:
            raise RuntimeError("FakeDiscord not started; call `await fake.start()`")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Gateway URL (also returned by ``GET /gateway/bot`` and as ``resume_gateway_url``)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @contextlib.contextmanager
    def patch_discord_py(self) -> Iterator[None]:
        """Point ``Route.BASE`` and ``DEFAULT_GATEWAY`` of discord.py at the fake, then restore."""
        import discord.gateway  # lazy: the fake itself does not need discord.py
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    def hold_requests(self, path_prefix: str) -> asyncio.Event:
        """Hold the REST requests whose path (relative to the API base, e.g.
        ``/interactions/{id}/``) starts with ``path_prefix`` until the returned event
        is set: a Discord slow to answer one interaction. They are recorded at once."""
        gate = asyncio.Event()
        self.holds.append((path_prefix, gate))
        return gate

    # -- waiting ---------------------------------------------------------------------
    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_until(
        self,
        predicate: Callable[[], _T | None],
        timeout: float = 5.0,
        description: str = "condition",
    ) -> _T:
        """Wait until ``predicate()`` returns something truthy; returns that value.

        Re-checked whenever the fake's state changes and every ``poll_interval`` seconds, so
        predicates may also look at client-side state. Raises :class:`FakeDiscordTimeout`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise FakeDiscordTimeout(self._timeout_message(timeout, description))
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            # Woken by any change in the fake; also polls, for client-side conditions.
            await asyncio.wait([waiter], timeout=min(remaining, self.poll_interval))

    def _timeout_message(self, timeout: float, description: str) -> str:
        recent = "\n".join(
            f"  {r.method} {r.path} -> {r.status} {r.response if not r.ok else ''}"
            for r in self.requests[-8:]
        )
        errors = "\n".join(f"  {e}" for e in self.protocol_errors) or "  (none)"
        closes = ", ".join(f"{c} {m!r}" for c, m in self.gateway_closes) or "(none)"
        return (
            f"timed out after {timeout}s waiting for {description}\n"
            f"recent requests:\n{recent or '  (none)'}\n"
            f"protocol errors:\n{errors}\ngateway closes: {closes}"
        )

    async def wait_for_ready(
        self,
        timeout: float = 5.0,
        *,
        shard_count: int | None = None,
    ) -> None:
        """Wait until every shard got READY and its GUILD_CREATEs on a live connection."""
        expected = shard_count or self.shard_count

        def check() -> bool:
            live = [s for s in self._gateway.sessions if s.ready and s.connected]
            if expected == 1 and any(not s.sharded for s in live):
                return True
            shards = {s.shard_id for s in live if s.sharded and s.shard_count == expected}
            return shards == set(range(expected))

        await self.wait_until(check, timeout, f"READY on all {expected} shard(s)")

    @property
    def sessions(self) -> list[GatewaySession]:
        """All gateway sessions (live or not)."""
        return list(self._gateway.sessions)

    def session_for_shard(self, shard_id: int) -> GatewaySession:
        """The most recent live session for ``shard_id``."""
        for session in reversed(self._gateway.sessions):
            if session.connected and session.shard_id == shard_id:
                return session
        raise LookupError(f"no live gateway session for shard {shard_id}")

    async def drop_connection(self, shard_id: int = 0, code: int = 4000) -> None:
        """Close a shard's websocket with ``code`` (discord.py then RESUMEs)."""
        session = self.session_for_shard(shard_id)
        assert session.connection is not None
        await session.connection.close(code, "dropped by test")

    def assert_no_protocol_errors(self) -> None:
        """Fail if the client used something the fake does not support."""
        if self.protocol_errors:
            raise AssertionError(
                "fake discord protocol errors:\n" + "\n".join(self.protocol_errors)
            )

    # -- payload helpers -------------------------------------------------------------
    def _bot_user_payload(self) -> dict[str, Any]:
        data = self.bot_user.to_dict()
        data.update(
            bot=True,
            verified=True,
            mfa_enabled=False,
            email=None,
            locale="en-US",
            premium_type=0,
            flags=0,
        )
        return data

    def _application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": self.verify_key,
            "flags": 0,  # no GATEWAY_*_LIMITED flags: no privileged intents
            "owner": self.owner_user.to_dict(),
            "team": None,
            "bot": self._bot_user_payload(),
            "rpc_origins": [],
            "redirect_uris": [],
            "tags": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(self.guilds),
            "approximate_user_install_count": 0,
            "is_monetized": False,
            "storefront_available": False,
            "explicit_content_filter": 0,
        }

    # -- setup API -------------------------------------------------------------------
    def add_user(self, username: str) -> FakeUser:
        """Create a (human) user that is not (yet) in any guild."""
        user = FakeUser(id=self.snowflakes.next(), username=username)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        shard_id: int | None = None,
    ) -> FakeGuild:
        """Create a guild (bot included, with a managed role) and a ``general`` text channel.

        ``shard_id`` picks a guild ID that lands on that shard of ``shard_count``. When the
        bot is already connected, GUILD_CREATE is sent on the owning shard.
        """
        if shard_id is not None and not 0 <= shard_id < self.shard_count:
            raise ValueError(f"shard_id must be in range({self.shard_count})")
        guild_id = self.snowflakes.next(
            shard=(shard_id, self.shard_count) if shard_id is not None else None
        )
        owner = self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = FakeGuild(id=guild_id, name=name, owner_id=owner.id)
        guild.roles[guild.id] = FakeRole(
            id=guild.id,
            guild_id=guild.id,
            name="@everyone",
            permissions=Permissions.DEFAULT_EVERYONE,
        )
        bot_role = FakeRole(
            id=self.snowflakes.next(),
            guild_id=guild.id,
            name=self.bot_user.username,
            permissions=Permissions.DEFAULT_BOT,
            position=1,
            managed=True,
            tags={"bot_id": str(self.bot_user.id)},
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = FakeMember(user=owner, guild_id=guild.id)
        guild.members[self.bot_user.id] = FakeMember(
            user=self.bot_user, guild_id=guild.id, roles=[bot_role.id]
        )
        self.guilds[guild.id] = guild
        self._add_channel(guild, "general")
        for session in self._gateway.sessions_for(guild, live=False):
            if guild.id not in session.guild_ids:
                session.dispatch(
                    "GUILD_CREATE", self._gateway.guild_create_payload(guild, session, joined=True)
                )
                session.guild_ids.add(guild.id)
        return guild

    def _add_channel(self, guild: FakeGuild, name: str) -> FakeChannel:
        channel = FakeChannel(
            id=self.snowflakes.next(),
            guild_id=guild.id,
            name=name,
            position=len(guild.channels),
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def _dispatch_guild_event(
        self, guild: FakeGuild, event: str, data: dict[str, Any], intent: int = Intents.GUILDS
    ) -> None:
        for session in self._gateway.sessions_for(guild, live=False):
            if session.has_intent(intent):
                session.dispatch(event, data)

    def add_channel(self, guild: FakeGuild, name: str, *, forbidden: bool = False) -> FakeChannel:
        """Add a text channel. ``forbidden=True`` makes bot sends to it fail with 403/50013."""
        channel = self._add_channel(guild, name)
        channel.forbidden = forbidden
        self._dispatch_guild_event(guild, "CHANNEL_CREATE", channel.to_dict())
        return channel

    # -- permissions, threads, boosts ---------------------------------------------------
    def set_overwrite(
        self,
        channel: FakeChannel,
        target: FakeRole | FakeUser,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """Set a role's or a member's permission overwrite on a channel (CHANNEL_UPDATE)."""
        kind = 0 if isinstance(target, FakeRole) else 1
        channel.overwrites = [o for o in channel.overwrites if o.id != target.id]
        channel.overwrites.append(Overwrite(id=target.id, type=kind, allow=allow, deny=deny))
        guild = self.guilds[channel.guild_id]
        data = dict(channel.to_dict(), guild_id=str(guild.id))
        self._dispatch_guild_event(guild, "CHANNEL_UPDATE", data)

    def add_thread(
        self,
        parent: FakeChannel,
        name: str,
        *,
        archived: bool = False,
        locked: bool = False,
    ) -> FakeChannel:
        """Open a public thread in ``parent`` (THREAD_CREATE when it is active)."""
        guild = self.guilds[parent.guild_id]
        thread = FakeChannel(
            id=self.snowflakes.next(),
            guild_id=guild.id,
            name=name,
            type=11,  # PUBLIC_THREAD
            parent_id=parent.id,
            owner_id=guild.owner_id,
            archived=archived,
            locked=locked,
        )
        guild.threads[thread.id] = thread
        self.channels[thread.id] = thread
        if not archived:
            data = dict(thread.to_dict(), newly_created=True)
            self._dispatch_guild_event(guild, "THREAD_CREATE", data)
        return thread

    def update_thread(
        self, thread: FakeChannel, *, archived: bool | None = None, locked: bool | None = None
    ) -> None:
        """Archive, unarchive, lock or unlock a thread (THREAD_UPDATE)."""
        if archived is not None:
            thread.archived = archived
        if locked is not None:
            thread.locked = locked
        guild = self.guilds[thread.guild_id]
        self._dispatch_guild_event(guild, "THREAD_UPDATE", thread.to_dict())

    def set_premium_tier(self, guild: FakeGuild, tier: int) -> None:
        """Change a guild's boost tier, and with it its upload limit (GUILD_UPDATE)."""
        if tier not in (0, 1, 2, 3):
            raise ValueError("boost tiers are 0 to 3")
        guild.premium_tier = tier
        self._dispatch_guild_event(guild, "GUILD_UPDATE", guild.to_dict())

    def join(self, guild: FakeGuild, user: FakeUser, *, roles: Sequence[FakeRole] = ()) -> None:
        """Make an existing user (the application's owner, say) a member of ``guild``."""
        guild.members[user.id] = FakeMember(
            user=user, guild_id=guild.id, roles=[r.id for r in roles]
        )

    def add_role(
        self,
        guild: FakeGuild,
        name: str,
        permissions: int = 0,
    ) -> FakeRole:
        """Add a (not mentionable) role to a guild."""
        role = FakeRole(
            id=self.snowflakes.next(),
            guild_id=guild.id,
            name=name,
            permissions=permissions,
            position=len(guild.roles),
        )
        guild.roles[role.id] = role
        self._dispatch_guild_event(
            guild, "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_dict()}
        )
        return role

    def add_member(
        self,
        guild: FakeGuild,
        username: str,
        *,
        permissions: int = 0,
        roles: Sequence[FakeRole] = (),
    ) -> FakeUser:
        """Add a new user as a member. ``permissions`` adds a personal role."""
        user = self.add_user(username)
        role_ids = [r.id for r in roles]
        if permissions:
            role = self.add_role(guild, f"{user.username}-perms", permissions)
            role_ids.append(role.id)
        member = FakeMember(user=user, guild_id=guild.id, roles=role_ids)
        guild.members[user.id] = member
        # No GUILD_MEMBER_ADD: it needs GUILD_MEMBERS, a privileged intent the fake's
        # application is never granted.
        return user

    def post_user_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        content: str,
        *,
        files: Sequence[tuple[str, bytes]] = (),
    ) -> FakeMessage:
        """Store a message written by a (human) user and send MESSAGE_CREATE.

        ``files`` are (file name, bytes) attached to it, served from the CDN route.
        """
        message = FakeMessage(
            id=self.snowflakes.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=content,
            attachments=[
                self.add_attachment(name, data, channel=channel, ephemeral=False)
                for name, data in files
            ],
        )
        self._rest.messages.apply_mentions(message, default_parse=["users", "roles", "everyone"])
        self._store_message(message)
        self._notify()
        return message

    # -- files members give: attachment options and attached files ---------------------
    def add_attachment(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        channel: FakeChannel | None = None,
        ephemeral: bool = True,
    ) -> FakeAttachment:
        """A file a member uploads, served from the CDN route; give it to an ATTACHMENT option.

        Like Discord, ``content_type`` is taken from the file name unless given, and
        ``width``/``height`` from the bytes of an image. A file given to a command
        option is an ephemeral attachment (discord-api-docs, Attachment object:
        ``ephemeral``); remove it from ``fake.attachments`` and its URL answers 404.
        """
        attachment_id = self.snowflakes.next()
        size = image_size(data)
        where = channel.id if channel is not None else self.application_id
        attachment = FakeAttachment(
            id=attachment_id,
            filename=filename,
            data=data,
            url=f"{self.base_url}/attachments/{where}/{attachment_id}/{quote(filename)}",
            content_type=content_type or mimetypes.guess_type(filename)[0],
            width=size[0] if size else None,
            height=size[1] if size else None,
            ephemeral=ephemeral,
        )
        self.attachments[attachment_id] = attachment
        return attachment

    # -- messages ----------------------------------------------------------------------
    def channel_messages(
        self, channel: FakeChannel, *, include_deleted: bool = False
    ) -> list[FakeMessage]:
        """Messages in ``channel`` (oldest first), including ephemeral ones."""
        return sorted(
            (
                m
                for m in self.messages.values()
                if m.channel_id == channel.id and (include_deleted or not m.deleted)
            ),
            key=lambda m: m.id,
        )

    def _store_message(self, message: FakeMessage) -> None:
        self.messages[message.id] = message
        channel = self.channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            channel.last_message_id = message.id
        self._dispatch_message_event("MESSAGE_CREATE", message)

    def _delete_message(self, message: FakeMessage) -> None:
        message.deleted = True
        message.deleted_at = utcnow()
        guild = self.guilds.get(message.guild_id or 0)
        if guild is not None and not message.ephemeral:
            self._dispatch_guild_event(
                guild,
                "MESSAGE_DELETE",
                {
                    "id": str(message.id),
                    "channel_id": str(message.channel_id),
                    "guild_id": str(guild.id),
                },
                Intents.GUILD_MESSAGES,
            )
        self._notify()

    def _dispatch_message_event(self, event: str, message: FakeMessage) -> None:
        guild = self.guilds.get(message.guild_id or 0)
        if guild is None or message.ephemeral:
            return
        for session in self._gateway.sessions_for(guild, live=False):
            if not session.has_intent(Intents.GUILD_MESSAGES):
                continue
            data = message.to_dict(with_guild_id=True)
            member = guild.members.get(message.author.id)
            if member is not None and message.webhook_id is None:
                data["member"] = member.to_dict(with_user=False)
            own = message.author.id == self.bot_user.id
            mentioned = any(u.id == self.bot_user.id for u in message.mentions)
            # MESSAGE_CONTENT is privileged and never granted: content only for the
            # bot's own messages and those that mention it.
            if not (own or mentioned):
                data.update(content="", embeds=[], attachments=[], components=[])
            session.dispatch(event, data)

    # -- commands ----------------------------------------------------------------------
    def get_command(self, name: str, *, kind: int = CHAT_INPUT_COMMAND) -> dict[str, Any]:
        """A registered (global) command: a slash command, or ``kind=3`` a message command."""
        for command in self.commands:
            if command["name"] == name and command["type"] == kind:
                return command
        registered = [(c["name"], c["type"]) for c in self.commands]
        raise LookupError(
            f"no command {name!r} of type {kind} is registered; registered: {registered}. "
            "Did the bot sync its command tree?"
        )

    @property
    def command_sync_count(self) -> int:
        """Number of successful bulk-overwrite PUTs."""
        return len(self.command_syncs)

    # -- interactions --------------------------------------------------------------------
    def expire_interaction(self, interaction: FakeInteraction) -> None:
        """Invalidate the interaction's token now (as if 15 minutes had passed)."""
        interaction.expired = True

    def _base_payload(
        self,
        *,
        interaction_id: int,
        token: str,
        kind: int,
        guild: FakeGuild,
        channel: FakeChannel,
        user: FakeUser,
        attachment_size_limit: int,
    ) -> dict[str, Any]:
        if channel.guild_id != guild.id:
            raise ValueError(f"channel {channel.name!r} is not in guild {guild.name!r}")
        member = guild.members.get(user.id)
        if member is None:
            raise LookupError(
                f"{user.username} is not a member of {guild.name!r}; use fake.add_member()"
            )
        perms = guild.permissions_in(user.id, channel)
        if not perms & Permissions.VIEW_CHANNEL:
            raise PermissionError(f"{user.username} cannot see #{channel.name}")
        if channel.is_thread and channel.archived:
            # discord-api-docs, "Threads": no application commands in archived threads.
            raise PermissionError(f"#{channel.name} is an archived thread")
        channel_payload = channel.to_dict()
        channel_payload["permissions"] = str(perms)
        return {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "guild": {
                "id": str(guild.id),
                "locale": guild.preferred_locale,
                "features": list(guild.features),
            },
            "guild_id": str(guild.id),
            "guild_locale": guild.preferred_locale,
            "channel": channel_payload,
            "channel_id": str(channel.id),
            "member": member.to_dict(permissions=perms),
            "app_permissions": str(guild.permissions_in(self.bot_user.id, channel)),
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": attachment_size_limit,
        }

    async def _dispatch_interaction(self, interaction: FakeInteraction) -> FakeInteraction:
        sessions = self._gateway.sessions_for(interaction.guild)
        if not sessions:
            shard = interaction.guild.shard_id(self.shard_count)
            live = [
                (s.shard_id, s.shard_count, s.ready) for s in self._gateway.sessions if s.connected
            ]
            raise RuntimeError(
                f"no ready gateway session receives guild {interaction.guild.name!r} "
                f"(shard {shard} of {self.shard_count}); live sessions (shard, count, ready): "
                f"{live}. Did the bot connect? Try `await fake.wait_for_ready()`."
            )
        session = sessions[-1]
        interaction.shard_id = session.shard_id
        self.interactions[interaction.id] = interaction
        self._interactions_by_token[interaction.token] = interaction
        interaction.dispatched_at = asyncio.get_running_loop().time()
        session.dispatch("INTERACTION_CREATE", interaction.payload)
        await session.flush()
        self._notify()
        return interaction

    def _new_interaction(
        self,
        *,
        kind: int,
        guild: FakeGuild,
        channel: FakeChannel,
        user: FakeUser,
        data: dict[str, Any],
        attachment_size_limit: int | None,
    ) -> FakeInteraction:
        interaction_id = self.snowflakes.next()
        token = new_token(interaction_id)
        limit = attachment_size_limit or self.attachment_size_limit
        payload = self._base_payload(
            interaction_id=interaction_id,
            token=token,
            kind=kind,
            guild=guild,
            channel=channel,
            user=user,
            attachment_size_limit=limit,
        )
        payload["data"] = data
        return FakeInteraction(
            fake=self,
            id=interaction_id,
            token=token,
            type=kind,
            user=user,
            guild=guild,
            channel=channel,
            data=data,
            payload=payload,
            attachment_size_limit=limit,
            shard_id=-1,
        )

    async def invoke_command(
        self,
        guild: FakeGuild,
        channel: FakeChannel,
        user: FakeUser,
        name: str,
        options: Mapping[str, OptionValue] | None = None,
        *,
        subcommand: str | None = None,
        attachment_size_limit: int | None = None,
    ) -> FakeInteraction:
        """Dispatch a slash command (APPLICATION_COMMAND) like a Discord client would.

        ``name`` may include the subcommand path (``"limits set"``); alternatively pass
        ``subcommand=``. Option values are str/int, FakeUser / FakeRole / FakeChannel for
        entity options. Raises if the member could not run the command, it is not
        registered, or the options do not match its registered definition.
        """
        parts = name.split()
        path = parts[1:] + ([subcommand] if subcommand else [])
        command = self.get_command(parts[0])
        check_command_usable(command, guild, channel, user)
        resolved = Resolved(guild, channel, user)
        built, full_name = build_command_data(command, path, options or {}, resolved)
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1}
        if built:
            data["options"] = built
        if resolved.data:
            data["resolved"] = resolved.data
        interaction = self._new_interaction(
            kind=InteractionType.APPLICATION_COMMAND,
            guild=guild,
            channel=channel,
            user=user,
            data=data,
            attachment_size_limit=attachment_size_limit,
        )
        interaction.name = full_name
        interaction.command_type = 1
        return await self._dispatch_interaction(interaction)

    async def invoke_message_command(
        self, user: FakeUser, name: str, target: FakeMessage
    ) -> FakeInteraction:
        """Run the message command ``name`` (right click -> Apps) on ``target`` as ``user``.

        Raises like :meth:`invoke_command` when the member could not, and when the
        target is deleted or an ephemeral message of someone else.
        """
        command = self.get_command(name, kind=MESSAGE_COMMAND)
        guild, channel = self._component_target(target, user)
        check_command_usable(command, guild, channel, user)
        interaction = self._new_interaction(
            kind=InteractionType.APPLICATION_COMMAND,
            guild=guild,
            channel=channel,
            user=user,
            data=message_command_data(command, target),
            attachment_size_limit=None,
        )
        interaction.name = name
        interaction.command_type = MESSAGE_COMMAND
        return await self._dispatch_interaction(interaction)

    def _component_target(
        self, message: FakeMessage, user: FakeUser
    ) -> tuple[FakeGuild, FakeChannel]:
        if message.deleted:
            raise LookupError(f"message {message.id} was deleted")
        if message.ephemeral and (
            message.interaction is None or message.interaction.user is not user
        ):
            raise PermissionError(f"ephemeral message {message.id} is only visible to its user")
        channel = self.channels[message.channel_id]
        return self.guilds[channel.guild_id], channel

    async def click_button(
        self, message: FakeMessage, custom_id: str, user: FakeUser
    ) -> FakeInteraction:
        """Click a button on a stored message (MESSAGE_COMPONENT interaction)."""
        guild, channel = self._component_target(message, user)
        component = find_button(message, custom_id)
        if component.get("style") in (5, 6):
            raise TypeError(
                f"button {custom_id!r} is a link/premium button; it sends no interaction"
            )
        data = {"custom_id": custom_id, "component_type": 2, "id": component["id"]}
        return await self._component_interaction(message, guild, channel, user, data)

    async def select_option(
        self, message: FakeMessage, custom_id: str, values: Sequence[str], user: FakeUser
    ) -> FakeInteraction:
        """Choose values in a string select menu on a stored message."""
        guild, channel = self._component_target(message, user)
        component = message.find_component(custom_id)
        if component is None or component.get("type") != 3:
            raise LookupError(f"message {message.id} has no string select {custom_id!r}")
        if component.get("disabled"):
            raise PermissionError(f"select {custom_id!r} is disabled")
        data: dict[str, Any] = {
            "custom_id": custom_id,
            "component_type": component["type"],
            "id": component["id"],
            "values": select_values(component, values),
        }
        return await self._component_interaction(message, guild, channel, user, data)

    async def _component_interaction(
        self,
        message: FakeMessage,
        guild: FakeGuild,
        channel: FakeChannel,
        user: FakeUser,
        data: dict[str, Any],
    ) -> FakeInteraction:
        interaction = self._new_interaction(
            kind=InteractionType.MESSAGE_COMPONENT,
            guild=guild,
            channel=channel,
            user=user,
            data=data,
            attachment_size_limit=None,
        )
        interaction.message = message
        interaction.payload["message"] = message.to_dict()
        return await self._dispatch_interaction(interaction)

    async def submit_modal(
        self, opener: FakeInteraction, values: Mapping[str, str] | None = None
    ) -> FakeInteraction:
        """Submit, as its user, the modal the bot answered ``opener`` with (MODAL_SUBMIT).

        ``values`` maps text input custom_ids to text. The payload mirrors the modal's
        layout (action rows or labels).
        """
        modal = opener.modal
        if modal is None:
            raise LookupError(f"{opener!r} was not answered with a modal (type 9)")
        data: dict[str, Any] = {
            "custom_id": modal["custom_id"],
            "components": modal_submit_components(modal, values or {}),
        }
        interaction = self._new_interaction(
            kind=InteractionType.MODAL_SUBMIT,
            guild=opener.guild,
            channel=opener.channel,
            user=opener.user,
            data=data,
            attachment_size_limit=opener.attachment_size_limit,
        )
        interaction.parent = opener
        if opener.message is not None and not opener.message.deleted:
            interaction.message = opener.message
            interaction.payload["message"] = opener.message.to_dict()
        return await self._dispatch_interaction(interaction)
