"""Channel messages the bot sends, edits, deletes and reads, and its typing indicator."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from ..models import (
    FakeChannel,
    FakeMessage,
    Permissions,
)
from ..permissions import (
    check_edit,
    check_send,
    earlier_by_nonce,
    without_embeds_unless_allowed,
)
from ..validate import (
    FormErrors,
    api_error,
    missing_access,
    missing_permissions,
    unknown_channel,
    unknown_message,
)
from .body import read_body
from .common import API_PREFIX, Routes, json_response
from .messages import MessageBuilder

if TYPE_CHECKING:
    from ..server import FakeDiscord


class ChannelRoutes(Routes):
    """``/channels/{channel_id}``, its ``/messages[/{message_id}]`` and its ``/typing``."""

    def __init__(self, fake: FakeDiscord, messages: MessageBuilder) -> None:
        super().__init__(fake)
        self.messages = messages

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        messages = f"{API_PREFIX}/channels/{{channel_id}}/messages"
        router.add_post(messages, self.channel_create_message)
        router.add_get(messages, self.channel_list_messages)
        router.add_patch(messages + "/{message_id}", self.channel_edit_message)
        router.add_delete(messages + "/{message_id}", self.channel_delete_message)
        router.add_post(f"{API_PREFIX}/channels/{{channel_id}}/typing", self.channel_typing)
        router.add_get(f"{API_PREFIX}/channels/{{channel_id}}", self.get_channel)

    def _channel(self, request: web.Request) -> FakeChannel:
        self.require_bot(request)
        raw = request.match_info["channel_id"]
        channel = self.fake.channels.get(int(raw)) if raw.isdigit() else None
        if channel is None:
            raise unknown_channel()
        guild = self.fake.guilds[channel.guild_id]
        if not guild.permissions_in(self.fake.bot_user.id, channel) & Permissions.VIEW_CHANNEL:
            raise missing_access()
        return channel

    def _channel_message(self, request: web.Request, channel: FakeChannel) -> FakeMessage:
        raw = request.match_info["message_id"]
        message = self.fake.messages.get(int(raw)) if raw.isdigit() else None
        if (
            message is None
            or message.channel_id != channel.id
            or message.deleted
            or message.ephemeral
        ):
            raise unknown_message()
        return message

    async def channel_create_message(self, request: web.Request) -> web.Response:
        """POST /channels/{channel_id}/messages."""
        fake = self.fake
        channel = self._channel(request)
        guild = fake.guilds[channel.guild_id]
        perms = guild.permissions_in(fake.bot_user.id, channel)
        unarchives = check_send(channel, perms)
        body, uploads = await read_body(request, size_limit=guild.upload_limit)
        if uploads and not perms & Permissions.ATTACH_FILES:
            raise missing_permissions()
        earlier = earlier_by_nonce(fake, fake.bot_user.id, body, time.time())
        if earlier is not None:
            return json_response(earlier.to_dict())
        body = without_embeds_unless_allowed(body, perms)
        message = self.messages.build(body, uploads, channel=channel)
        fake._store_message(message)
        if unarchives:
            fake.update_thread(channel, archived=False)
        fake._notify()
        return json_response(message.to_dict())

    async def channel_edit_message(self, request: web.Request) -> web.Response:
        """PATCH /channels/{channel_id}/messages/{message_id}."""
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        guild = self.fake.guilds[channel.guild_id]
        perms = guild.permissions_in(self.fake.bot_user.id, channel)
        check_edit(channel, perms)
        body, uploads = await read_body(request, size_limit=guild.upload_limit)
        if message.author is not self.fake.bot_user:
            raise api_error(403, 50005, "Cannot edit a message authored by another user")
        body = without_embeds_unless_allowed(body, perms)
        self.messages.edit(message, body, uploads, via="channel")
        self.fake._dispatch_message_event("MESSAGE_UPDATE", message)
        self.fake._notify()
        return json_response(message.to_dict())

    async def channel_delete_message(self, request: web.Request) -> web.Response:
        """DELETE /channels/{channel_id}/messages/{message_id}."""
        fake = self.fake
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        guild = fake.guilds[channel.guild_id]
        if message.author is not fake.bot_user and not (
            guild.permissions_in(fake.bot_user.id, channel) & Permissions.MANAGE_MESSAGES
        ):
            raise missing_permissions()
        fake._delete_message(message)
        return web.Response(status=204)

    async def channel_list_messages(self, request: web.Request) -> web.Response:
        """GET /channels/{channel_id}/messages (``limit``/``before``/``after``/``around``)."""
        fake = self.fake
        channel = self._channel(request)
        guild = fake.guilds[channel.guild_id]
        if not guild.permissions_in(fake.bot_user.id, channel) & Permissions.READ_MESSAGE_HISTORY:
            raise missing_access()
        query = request.query
        errors = FormErrors()
        limit = query.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            errors.add(("limit",), "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        anchors = {k: query[k] for k in ("before", "after", "around") if k in query}
        for key, value in anchors.items():
            if not value.isdigit():
                errors.add((key,), "NUMBER_TYPE_COERCE", f"Value {value!r} is not snowflake.")
        errors.raise_if_any()
        count = int(limit)
        visible = [m for m in fake.channel_messages(channel) if not m.ephemeral]
        if "around" in anchors:
            pivot = int(anchors["around"])
            older = [m for m in visible if m.id < pivot][-(count // 2) :] if count > 1 else []
            newer = [m for m in visible if m.id >= pivot][: count - len(older)]
            selected = older + newer
        elif "after" in anchors:
            selected = [m for m in visible if m.id > int(anchors["after"])][:count]
        else:
            before = int(anchors.get("before", 1 << 64))
            selected = [m for m in visible if m.id < before][-count:]
        return json_response([m.to_dict() for m in reversed(selected)])

    async def channel_typing(self, request: web.Request) -> web.Response:
        """POST /channels/{channel_id}/typing."""
        self._channel(request)
        return web.Response(status=204)

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{channel_id}: discord.py's ``fetch_channel``, which the bot falls
        back on for a channel missing from its cache."""
        return json_response(self._channel(request).to_dict())
