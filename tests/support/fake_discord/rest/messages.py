"""Building and editing bot messages: validation, attachments, mentions.

Shared by the channel routes and the interaction routes, which differ only in where a
message comes from.
"""

from __future__ import annotations

import copy
import mimetypes
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..models import (
    FakeAttachment,
    FakeChannel,
    FakeInteraction,
    FakeMessage,
    FakeUpload,
    MessageEdit,
    MessageFlags,
    Permissions,
    image_size,
    utcnow,
)
from ..validate import (
    FormErrors,
    assign_component_ids,
    empty_message,
    is_snowflake,
    validate_message_payload,
)

if TYPE_CHECKING:
    from ..server import FakeDiscord

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


class MessageBuilder:
    """Turns create/edit payloads into :class:`FakeMessage` changes, or raises ApiError."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def _new_attachment(
        self, upload: FakeUpload, channel_id: int, *, filename: str, item: dict[str, Any]
    ) -> FakeAttachment:
        fake = self.fake
        attachment_id = fake.snowflakes.next()
        content_type = mimetypes.guess_type(filename)[0]
        if content_type is None and upload.content_type not in (None, "application/octet-stream"):
            content_type = upload.content_type
        if content_type is not None and content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        size = image_size(upload.data)
        flags = 0
        if filename.startswith("SPOILER_") or item.get("is_spoiler"):
            flags |= 1 << 3
        attachment = FakeAttachment(
            id=attachment_id,
            filename=filename,
            data=upload.data,
            url=f"{fake.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename)}",
            content_type=content_type,
            description=item.get("description"),
            title=item.get("title"),
            width=size[0] if size else None,
            height=size[1] if size else None,
            flags=flags,
        )
        fake.attachments[attachment_id] = attachment
        return attachment

    def _resolve_attachments(
        self,
        spec: Any,
        uploads: list[FakeUpload],
        existing: list[FakeAttachment],
        *,
        editing: bool,
        channel_id: int,
        errors: FormErrors,
    ) -> list[FakeAttachment] | None:
        """New attachment list (None = unchanged on edit)."""
        by_index = {u.index: u for u in uploads}
        if spec is None:
            if editing and not uploads:
                return None
            base = list(existing) if editing else []
            return base + [
                self._new_attachment(u, channel_id, filename=u.filename, item={}) for u in uploads
            ]
        if not isinstance(spec, list):
            return None  # already reported by validate_message_payload
        result: list[FakeAttachment] = []
        used: set[int] = set()
        by_id = {a.id: a for a in existing}
        for i, item in enumerate(spec):
            if not isinstance(item, dict) or "id" not in item:
                continue
            raw_id = item["id"]
            if is_snowflake(raw_id) and int(raw_id) in by_id:
                kept = copy.copy(by_id[int(raw_id)])
                if "description" in item:
                    kept.description = item["description"]
                if item.get("is_spoiler"):
                    kept.flags |= 1 << 3
                result.append(kept)
            elif is_snowflake(raw_id) and int(raw_id) in by_index:
                upload = by_index[int(raw_id)]
                used.add(upload.index)
                filename = item.get("filename") or upload.filename
                result.append(
                    self._new_attachment(upload, channel_id, filename=filename, item=item)
                )
            else:
                errors.add(
                    ("attachments", i, "id"),
                    "ATTACHMENT_NOT_FOUND",
                    f"Attachment {raw_id!r} is neither an existing attachment of the message nor "
                    f"an uploaded files[{raw_id}] part.",
                )
        if not editing:
            for upload in uploads:
                if upload.index not in used:
                    result.append(
                        self._new_attachment(upload, channel_id, filename=upload.filename, item={})
                    )
        if len(result) > 10:
            errors.add(("attachments",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        return result

    def apply_mentions(self, message: FakeMessage, *, default_parse: list[str]) -> None:
        fake = self.fake
        guild = fake.guilds.get(message.guild_id or 0)
        allowed = message.allowed_mentions
        if allowed is None:
            parse, users, roles = default_parse, [], []
        else:
            parse = list(allowed.get("parse") or [])
            users = [int(u) for u in allowed.get("users") or []]
            roles = [int(r) for r in allowed.get("roles") or []]
        content = message.content
        message.mentions = []
        message.mention_roles = []
        message.mention_everyone = False
        if guild is None:
            return
        channel = guild.channels.get(message.channel_id)
        bot_perms = guild.permissions_in(fake.bot_user.id, channel) if channel else 0
        for raw in dict.fromkeys(_USER_MENTION.findall(content)):
            user_id = int(raw)
            member = guild.members.get(user_id)
            if member is not None and ("users" in parse or user_id in users):
                message.mentions.append(member.user)
        for raw in dict.fromkeys(_ROLE_MENTION.findall(content)):
            role = guild.roles.get(int(raw))
            if role is None or not ("roles" in parse or role.id in roles):
                continue
            if role.mentionable or bot_perms & Permissions.MENTION_EVERYONE:
                message.mention_roles.append(role.id)
        if ("@everyone" in content or "@here" in content) and "everyone" in parse:
            message.mention_everyone = bool(bot_perms & Permissions.MENTION_EVERYONE)

    def _check_not_empty(self, message: FakeMessage) -> None:
        if not (
            message.content.strip()
            or message.embeds
            or message.attachments
            or message.components
            or message.sticker_ids
            or message.poll
        ):
            raise empty_message()

    def build(
        self,
        payload: Any,
        uploads: list[FakeUpload],
        *,
        channel: FakeChannel,
        interaction: FakeInteraction | None = None,
        allowed_flags: int = MessageFlags.SETTABLE,
        message_type: int = 0,
        is_followup: bool = False,
    ) -> FakeMessage:
        """Validate a create payload and build (but not store) the message."""
        fake = self.fake
        if payload is None:
            payload = {}
        errors = validate_message_payload(payload)
        if not isinstance(payload, dict):
            raise errors.error()
        attachments = self._resolve_attachments(
            payload.get("attachments"),
            uploads,
            [],
            editing=False,
            channel_id=channel.id,
            errors=errors,
        )
        reference = payload.get("message_reference")
        if reference is not None:
            ref_id = reference.get("message_id") if isinstance(reference, dict) else None
            target = fake.messages.get(int(ref_id)) if is_snowflake(ref_id) else None
            if target is None or target.deleted:
                if not (
                    isinstance(reference, dict) and reference.get("fail_if_not_exists") is False
                ):
                    errors.add(
                        ("message_reference",),
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
                reference = None
            else:
                reference = {
                    "type": 0,
                    "channel_id": str(target.channel_id),
                    "message_id": str(target.id),
                    "guild_id": str(target.guild_id) if target.guild_id else None,
                }
                message_type = 19
        errors.raise_if_any()
        flags = int(payload.get("flags") or 0) & allowed_flags
        bot = fake.bot_user
        message = FakeMessage(
            id=fake.snowflakes.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=bot,
            content=payload.get("content") or "",
            embeds=copy.deepcopy(payload.get("embeds") or []),
            components=assign_component_ids(payload.get("components") or []),
            flags=flags,
            attachments=attachments or [],
            allowed_mentions=payload.get("allowed_mentions"),
            tts=bool(payload.get("tts")),
            nonce=payload.get("nonce"),
            type=message_type,
            interaction=interaction,
            is_followup=is_followup,
            message_reference=reference,
            poll=payload.get("poll"),
            sticker_ids=[str(s) for s in payload.get("sticker_ids") or []],
            created_payload=payload,
        )
        if interaction is not None:
            message.webhook_id = fake.application_id
            message.application_id = fake.application_id
        if message.ephemeral:
            for attachment in message.attachments:
                attachment.ephemeral = True
        self._check_not_empty(message)
        self.apply_mentions(
            message, default_parse=["users"] if interaction else ["users", "roles", "everyone"]
        )
        return message

    def edit(
        self,
        message: FakeMessage,
        payload: Any,
        uploads: list[FakeUpload],
        *,
        via: str,
    ) -> FakeMessage:
        """Validate an edit payload and apply it to ``message`` (recording the edit)."""
        if payload is None:
            payload = {}
        errors = validate_message_payload(payload)
        if not isinstance(payload, dict):
            raise errors.error()
        attachments = self._resolve_attachments(
            payload.get("attachments"),
            uploads,
            message.attachments,
            editing=True,
            channel_id=message.channel_id,
            errors=errors,
        )
        flags = message.flags
        if payload.get("flags") is not None:
            requested = int(payload["flags"])
            flags = (flags & ~MessageFlags.SUPPRESS_EMBEDS) | (
                requested & MessageFlags.SUPPRESS_EMBEDS
            )
            flags |= requested & MessageFlags.IS_COMPONENTS_V2
        flags &= ~MessageFlags.LOADING
        candidate = copy.copy(message)
        candidate.flags = flags
        if "content" in payload:
            candidate.content = payload["content"] or ""
        if "embeds" in payload:
            candidate.embeds = copy.deepcopy(payload["embeds"] or [])
        if "components" in payload:
            candidate.components = assign_component_ids(payload["components"] or [])
        if attachments is not None:
            candidate.attachments = attachments
        # discord-api-docs, Edit Message: an edit's mentions follow its own
        # allowed_mentions, or the defaults, never those of the message's creation.
        candidate.allowed_mentions = payload.get("allowed_mentions")
        if flags & MessageFlags.IS_COMPONENTS_V2 and (candidate.content or candidate.embeds):
            errors.add(
                ("flags",),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "Messages with IS_COMPONENTS_V2 cannot have content or embeds",
            )
        errors.raise_if_any()
        self._check_not_empty(candidate)
        before = message.to_dict()
        was_loading = message.loading
        message.flags = candidate.flags
        message.content = candidate.content
        message.embeds = candidate.embeds
        message.components = candidate.components
        message.attachments = candidate.attachments
        message.allowed_mentions = candidate.allowed_mentions
        if message.ephemeral:
            for attachment in message.attachments:
                attachment.ephemeral = True
        now = utcnow()
        if not was_loading:
            message.edited_at = now
        message.edits.append(
            MessageEdit(at=now, payload=payload, uploads=uploads, before=before, via=via)
        )
        if "content" in payload or "components" in payload:
            # Mentions are rebuilt only when the content (or, with Components V2,
            # the components) changed.
            self.apply_mentions(
                message,
                default_parse=(
                    ["users"] if message.interaction else ["users", "roles", "everyone"]
                ),
            )
        return message
