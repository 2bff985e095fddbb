"""HTTP (REST) side of the fake Discord server: routes, body parsing, message storage."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import mimetypes
import re
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from ..models import (
    CallbackType,
    FakeAttachment,
    FakeChannel,
    FakeInteraction,
    FakeMessage,
    FakeUpload,
    InteractionCallback,
    InteractionType,
    MessageEdit,
    MessageFlags,
    Permissions,
    RecordedRequest,
    image_size,
    utcnow,
)
from ..validate import (
    ApiError,
    FormErrors,
    already_acknowledged,
    api_error,
    assign_component_ids,
    empty_message,
    entity_too_large,
    invalid_json,
    is_snowflake,
    missing_access,
    missing_permissions,
    unauthorized,
    unknown_channel,
    unknown_interaction,
    unknown_message,
    unknown_webhook,
    validate_command_list,
    validate_message_payload,
    validate_modal,
)

if TYPE_CHECKING:
    from ..server import FakeDiscord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v10"
RECORD_KEY = web.RequestKey("record", RecordedRequest)
_FILES_FIELD = re.compile(r"files\[(\d+)\]")
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON response with exactly ``Content-Type: application/json`` (what discord.py checks)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _truthy(value: str | None) -> bool:
    return value in ("True", "true", "1")


class RestApi:
    """The fake's HTTP API. Handlers raise :class:`ApiError`; the middleware renders it."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # -- app wiring ----------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Register every route on ``app``."""
        p = API_PREFIX
        r = app.router
        r.add_get(f"{p}/users/@me", self.get_me)
        r.add_get(f"{p}/oauth2/applications/@me", self.get_application)
        r.add_get(f"{p}/gateway/bot", self.get_gateway_bot)
        commands = f"{p}/applications/{{application_id}}/commands"
        r.add_get(commands, self.get_commands)
        r.add_put(commands, self.put_commands)
        r.add_post(
            f"{p}/interactions/{{interaction_id}}/{{token}}/callback", self.interaction_callback
        )
        r.add_post(f"{p}/webhooks/{{application_id}}/{{token}}", self.webhook_execute)
        hook_message = f"{p}/webhooks/{{application_id}}/{{token}}/messages/{{message_id}}"
        r.add_get(hook_message, self.webhook_get_message)
        r.add_patch(hook_message, self.webhook_edit_message)
        r.add_delete(hook_message, self.webhook_delete_message)
        r.add_post(f"{p}/channels/{{channel_id}}/messages", self.channel_create_message)
        channel_message = f"{p}/channels/{{channel_id}}/messages/{{message_id}}"
        r.add_patch(channel_message, self.channel_edit_message)
        r.add_delete(channel_message, self.channel_delete_message)
        r.add_get(f"{p}/channels/{{channel_id}}/messages", self.channel_list_messages)
        r.add_post(f"{p}/channels/{{channel_id}}/typing", self.channel_typing)
        r.add_get(f"{p}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member)
        r.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the request, convert :class:`ApiError` to Discord's JSON error bodies."""
        fake = self.fake
        loop = asyncio.get_running_loop()
        path = request.path
        if path.startswith("/gateway"):
            return await handler(request)
        rel = path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX + "/") else path
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else path
        route = f"{request.method} {template.removeprefix(API_PREFIX)}"
        rec = RecordedRequest(
            method=request.method,
            path=rel,
            route=route,
            query=dict(request.query),
            headers=dict(request.headers),
            json=None,
            files=[],
            time=loop.time(),
        )
        request[RECORD_KEY] = rec
        fake.requests.append(rec)
        response: web.StreamResponse
        try:
            if resource is None:
                fake.protocol_errors.append(f"http: unsupported route {request.method} {path}")
                raise api_error(404, 0, "404: Not Found")
            response = await handler(request)
        except ApiError as exc:
            await request.release()
            rec.response = exc.body
            response = json_response(exc.body, exc.status)
        except Exception as exc:
            # A bug in the fake. Answer 422 (not 5xx: discord.py retries those for ~25 s)
            # and make the test fail through protocol_errors.
            fake.protocol_errors.append(
                f"http: fake discord crashed on {request.method} {path}: "
                + "".join(traceback.format_exception(exc))
            )
            rec.response = {"message": f"fake discord internal error: {exc!r}", "code": 0}
            response = json_response(rec.response, 422)
        rec.status = response.status
        if rec.response is None and isinstance(response, web.Response) and response.body:
            try:
                rec.response = json.loads(response.body)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                rec.response = None
        rec.done = True
        fake._notify()
        return response

    def _require_bot(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.fake.token}":
            raise unauthorized()

    # -- body parsing --------------------------------------------------------------
    async def read_body(
        self, request: web.Request, *, size_limit: int | None
    ) -> tuple[Any, list[FakeUpload]]:
        """Parse a JSON or multipart (``payload_json`` + ``files[n]``) body, strictly."""
        rec: RecordedRequest = request[RECORD_KEY]
        if not request.body_exists:
            return None, []
        if request.content_type == "multipart/form-data":
            payload, uploads = await self._read_multipart(request, size_limit)
            rec.json, rec.files = payload, uploads
            return payload, uploads
        raw = await request.read()
        if request.content_type != "application/json":
            errors = FormErrors()
            errors.add(
                (),
                "CONTENT_TYPE_INVALID",
                f"Expected application/json or multipart/form-data, got {request.content_type}",
            )
            raise errors.error()
        if not raw:
            return None, []
        try:
            payload = json.loads(raw)
        except ValueError:
            raise invalid_json() from None
        rec.json = payload
        return payload, []

    async def _read_multipart(
        self, request: web.Request, size_limit: int | None
    ) -> tuple[Any, list[FakeUpload]]:
        errors = FormErrors()
        payload: Any = None
        uploads: list[FakeUpload] = []
        names: set[str] = set()
        too_large = False
        try:
            reader = await request.multipart()
        except (ValueError, AssertionError, KeyError):
            errors.add((), "MULTIPART_INVALID", "Malformed multipart body.")
            raise errors.error() from None
        try:
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    errors.add((), "MULTIPART_INVALID", "Nested multipart bodies are not allowed.")
                    break
                name = part.name
                if name is None:
                    errors.add((), "MULTIPART_INVALID", "Part without a name.")
                    await part.release()
                    continue
                if name in names:
                    errors.add((name,), "MULTIPART_DUPLICATE_FIELD", f"Duplicate field {name!r}.")
                names.add(name)
                match = _FILES_FIELD.fullmatch(name)
                if name == "payload_json":
                    raw = await part.read(decode=True)
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        errors.add(
                            ("payload_json",),
                            "BASE_TYPE_INVALID_JSON",
                            "Invalid JSON in payload_json.",
                        )
                elif match:
                    if not part.filename:
                        errors.add((name,), "BASE_TYPE_REQUIRED", "File parts need a filename.")
                    chunks = []
                    size = 0
                    while True:
                        chunk = await part.read_chunk()
                        if not chunk:
                            break
                        size += len(chunk)
                        if size_limit is not None and size > size_limit:
                            too_large = True
                        if not too_large:
                            chunks.append(chunk)
                    if not too_large:
                        uploads.append(
                            FakeUpload(
                                field=name,
                                index=int(match.group(1)),
                                filename=part.filename or "",
                                content_type=part.headers.get("Content-Type"),
                                data=b"".join(chunks),
                            )
                        )
                else:
                    errors.add(
                        (name,),
                        "MULTIPART_UNKNOWN_FIELD",
                        f"Unexpected form field {name!r} (expected payload_json or files[n]).",
                    )
                    await part.release()
        except ValueError as exc:
            errors.add((), "MULTIPART_INVALID", f"Malformed multipart body: {exc}")
        rec: RecordedRequest = request[RECORD_KEY]
        rec.json, rec.files = payload, uploads
        if too_large:
            raise entity_too_large()
        if payload is not None and not isinstance(payload, dict):
            errors.add(("payload_json",), "MODEL_TYPE_CONVERT", "payload_json must be an object.")
        errors.raise_if_any()
        return (payload if payload is not None else {}), uploads

    # -- misc routes ---------------------------------------------------------------
    async def get_me(self, request: web.Request) -> web.Response:
        """GET /users/@me."""
        self._require_bot(request)
        return json_response(self.fake._bot_user_payload())

    async def get_application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me."""
        self._require_bot(request)
        return json_response(self.fake._application_payload())

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot."""
        self._require_bot(request)
        return json_response(
            {
                "url": self.fake.gateway_url,
                "shards": self.fake.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def get_attachment(self, request: web.Request) -> web.Response:
        """GET /attachments/... (the fake CDN)."""
        raw = request.match_info["attachment_id"]
        attachment = self.fake.attachments.get(int(raw)) if raw.isdigit() else None
        if attachment is None:
            raise api_error(404, 0, "404: Not Found")
        return web.Response(
            body=attachment.data,
            content_type=(attachment.content_type or "application/octet-stream").split(";")[0],
        )

    # -- application commands ------------------------------------------------------
    def _commands(self, request: web.Request) -> list[dict[str, Any]]:
        """The application's global commands (the fake serves no guild commands)."""
        self._require_bot(request)
        if request.match_info["application_id"] != str(self.fake.application_id):
            raise missing_access()
        return self.fake.commands

    def _store_command(
        self, command: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        fake = self.fake
        kind = command.get("type") or 1
        stored: dict[str, Any] = {
            "id": existing["id"] if existing else str(fake.snowflakes.next()),
            "application_id": str(fake.application_id),
            "version": existing["version"] if existing else "",
            "default_member_permissions": (
                None
                if command.get("default_member_permissions") is None
                else str(command["default_member_permissions"])
            ),
            "type": kind,
            "name": command["name"],
            "name_localizations": command.get("name_localizations"),
            "description": command.get("description") or "",
            "description_localizations": command.get("description_localizations"),
            "nsfw": bool(command.get("nsfw", False)),
        }
        stored["dm_permission"] = command.get("dm_permission", True)
        stored["contexts"] = command.get("contexts")
        stored["integration_types"] = command.get("integration_types") or [0]
        if command.get("options"):
            stored["options"] = _clean_nulls(command["options"])
        if existing is None or _without_version(existing) != _without_version(stored):
            stored["version"] = str(fake.snowflakes.next())
        return stored

    async def get_commands(self, request: web.Request) -> web.Response:
        """GET /applications/{id}/commands."""
        return json_response(self._commands(request))

    async def put_commands(self, request: web.Request) -> web.Response:
        """PUT (bulk overwrite) /applications/{id}/commands."""
        commands = self._commands(request)
        body, _ = await self.read_body(request, size_limit=None)
        validate_command_list(body)
        by_key = {(c["name"], c["type"]): c for c in commands}
        new = [self._store_command(c, by_key.get((c["name"], c.get("type") or 1))) for c in body]
        commands[:] = new
        self.fake.command_syncs.append(request[RECORD_KEY])
        return json_response(new)

    # -- messages: building --------------------------------------------------------
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

    def _apply_mentions(self, message: FakeMessage, *, default_parse: list[str]) -> None:
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

    def build_message(
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
        self._apply_mentions(
            message, default_parse=["users"] if interaction else ["users", "roles", "everyone"]
        )
        return message

    def edit_message(
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
        if "allowed_mentions" in payload:
            candidate.allowed_mentions = payload["allowed_mentions"]
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
        self._apply_mentions(
            message,
            default_parse=(["users"] if message.interaction else ["users", "roles", "everyone"]),
        )
        return message

    # -- interactions --------------------------------------------------------------
    def _interaction_message_type(self, interaction: FakeInteraction) -> int:
        root = interaction.parent or interaction
        if interaction.message is not None:
            return 19
        if root.type == InteractionType.APPLICATION_COMMAND:
            return 20 if root.command_type == 1 else 23
        return 0

    def _component_reference(self, interaction: FakeInteraction) -> dict[str, Any] | None:
        target = interaction.message
        if target is None:
            return None
        return {
            "type": 0,
            "channel_id": str(target.channel_id),
            "message_id": str(target.id),
            "guild_id": str(target.guild_id) if target.guild_id else None,
        }

    def _create_interaction_message(
        self,
        interaction: FakeInteraction,
        payload: Any,
        uploads: list[FakeUpload],
        *,
        is_followup: bool,
    ) -> FakeMessage:
        message = self.build_message(
            payload,
            uploads,
            channel=interaction.channel,
            interaction=interaction,
            allowed_flags=MessageFlags.SETTABLE | MessageFlags.EPHEMERAL,
            message_type=self._interaction_message_type(interaction),
            is_followup=is_followup,
        )
        if interaction.message is not None:
            message.message_reference = self._component_reference(interaction)
        return message

    async def interaction_callback(self, request: web.Request) -> web.StreamResponse:
        """POST /interactions/{id}/{token}/callback."""
        fake = self.fake
        rec: RecordedRequest = request[RECORD_KEY]
        raw_id = request.match_info["interaction_id"]
        interaction = fake.interactions.get(int(raw_id)) if raw_id.isdigit() else None
        if interaction is None or interaction.token != request.match_info["token"]:
            raise unknown_interaction()
        interaction.responses.append(rec)
        if interaction.callback is not None:
            raise already_acknowledged()
        if interaction.expired or interaction.dispatched_at is None:
            raise unknown_interaction()
        if rec.time - interaction.dispatched_at > fake.initial_response_timeout:
            raise unknown_interaction()
        body, uploads = await self.read_body(request, size_limit=interaction.attachment_size_limit)
        if interaction.callback is not None:
            raise already_acknowledged()
        errors = FormErrors()
        if not isinstance(body, dict):
            errors.add(("type",), "BASE_TYPE_REQUIRED", "This field is required")
            raise errors.error()
        kind = body.get("type")
        data = body.get("data")
        allowed = {
            InteractionType.APPLICATION_COMMAND: {4, 5, 9},
            InteractionType.MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
            InteractionType.MODAL_SUBMIT: {4, 5, 6, 7} if interaction.message else {4, 5},
        }[interaction.type]
        if kind not in allowed:
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Interaction response type {kind!r} is not valid for interaction type "
                f"{interaction.type} (valid: {sorted(allowed)}).",
            )
            raise errors.error()
        if data is not None and not isinstance(data, dict):
            errors.add(("data",), "MODEL_TYPE_CONVERT", "Only dictionaries may be used")
            raise errors.error()
        message: FakeMessage | None = None
        created = False
        if kind == CallbackType.CHANNEL_MESSAGE:
            with _errors_under("data"):
                message = self._create_interaction_message(
                    interaction, data, uploads, is_followup=False
                )
            created = True
        elif kind == CallbackType.DEFERRED_CHANNEL_MESSAGE:
            flags = int((data or {}).get("flags") or 0)
            if flags & ~MessageFlags.EPHEMERAL:
                errors.add(
                    ("data", "flags"),
                    "INTERACTION_DEFERRED_FLAGS_INVALID",
                    "Only the EPHEMERAL flag can be set when deferring",
                )
                raise errors.error()
            message = FakeMessage(
                id=fake.snowflakes.next(),
                channel_id=interaction.channel.id,
                guild_id=interaction.guild.id,
                author=fake.bot_user,
                flags=MessageFlags.LOADING | (flags & MessageFlags.EPHEMERAL),
                type=self._interaction_message_type(interaction),
                webhook_id=fake.application_id,
                application_id=fake.application_id,
                interaction=interaction,
                message_reference=self._component_reference(interaction),
                created_payload=body,
            )
            created = True
        elif kind in (CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE):
            target = interaction.message
            if target is None or target.deleted:
                raise unknown_message()
            if kind == CallbackType.UPDATE_MESSAGE:
                with _errors_under("data"):
                    self.edit_message(target, data, uploads, via="callback")
            message = target
        elif kind == CallbackType.MODAL:
            validate_modal(data)
        interaction.callback = InteractionCallback(
            type=kind,
            data=data or {},
            files=uploads,
            received_at=rec.time,
            request=rec,
        )
        if message is not None:
            interaction.original_message = message
            if created:
                fake._store_message(message)
            elif kind == CallbackType.UPDATE_MESSAGE:
                fake._dispatch_message_event("MESSAGE_UPDATE", message)
        fake._notify()
        if not _truthy(request.query.get("with_response")):
            return web.Response(status=204)
        result: dict[str, Any] = {
            "interaction": {"id": str(interaction.id), "type": interaction.type}
        }
        if message is not None and kind in (4, 5, 7):
            result["interaction"].update(
                response_message_id=str(message.id),
                response_message_loading=kind == CallbackType.DEFERRED_CHANNEL_MESSAGE,
                response_message_ephemeral=message.ephemeral,
            )
        if message is not None and kind in (4, 7):
            result["resource"] = {"type": kind, "message": message.to_dict()}
        return json_response(result)

    def _webhook_interaction(self, request: web.Request) -> FakeInteraction:
        fake = self.fake
        rec: RecordedRequest = request[RECORD_KEY]
        if request.match_info["application_id"] != str(fake.application_id):
            raise unknown_webhook()
        interaction = fake._interactions_by_token.get(request.match_info["token"])
        if interaction is None:
            raise unknown_webhook()
        interaction.responses.append(rec)
        if not interaction._token_valid(rec.time):
            raise unknown_webhook()
        return interaction

    def _webhook_message(self, request: web.Request, interaction: FakeInteraction) -> FakeMessage:
        raw = request.match_info["message_id"]
        if raw == "@original":
            message = interaction.original_message
        else:
            message = next((m for m in interaction.messages if str(m.id) == raw), None)
        if message is None or message.deleted:
            raise unknown_message()
        return message

    async def webhook_execute(self, request: web.Request) -> web.Response:
        """POST /webhooks/{application_id}/{token} (interaction followup)."""
        interaction = self._webhook_interaction(request)
        if interaction.callback is None:
            raise unknown_webhook()
        body, uploads = await self.read_body(request, size_limit=interaction.attachment_size_limit)
        original = interaction.original_message
        if (
            interaction.callback.type == CallbackType.DEFERRED_CHANNEL_MESSAGE
            and original is not None
            and original.loading
            and not original.deleted
        ):
            # Deprecated compatibility behaviour: the first followup after a deferred
            # channel message edits the loading message instead of creating a new one.
            payload = dict(body or {})
            payload.pop("flags", None)
            self.edit_message(original, payload, uploads, via="followup")
            self.fake._dispatch_message_event("MESSAGE_UPDATE", original)
            self.fake._notify()
            return json_response(original.to_dict())
        message = self._create_interaction_message(interaction, body, uploads, is_followup=True)
        interaction.followups.append(message)
        self.fake._store_message(message)
        self.fake._notify()
        return json_response(message.to_dict())

    async def webhook_get_message(self, request: web.Request) -> web.Response:
        """GET /webhooks/{application_id}/{token}/messages/{id|@original}."""
        interaction = self._webhook_interaction(request)
        return json_response(self._webhook_message(request, interaction).to_dict())

    async def webhook_edit_message(self, request: web.Request) -> web.Response:
        """PATCH /webhooks/{application_id}/{token}/messages/{id|@original}."""
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        body, uploads = await self.read_body(request, size_limit=interaction.attachment_size_limit)
        if message.deleted:
            raise unknown_message()
        self.edit_message(message, body, uploads, via="webhook")
        self.fake._dispatch_message_event("MESSAGE_UPDATE", message)
        self.fake._notify()
        return json_response(message.to_dict())

    async def webhook_delete_message(self, request: web.Request) -> web.Response:
        """DELETE /webhooks/{application_id}/{token}/messages/{id|@original}."""
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        self.fake._delete_message(message)
        return web.Response(status=204)

    # -- channel messages ----------------------------------------------------------
    def _channel(self, request: web.Request) -> FakeChannel:
        self._require_bot(request)
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
        if channel.forbidden or not perms & Permissions.SEND_MESSAGES:
            await request.release()
            raise missing_permissions()
        body, uploads = await self.read_body(request, size_limit=fake.upload_limit)
        if uploads and not perms & Permissions.ATTACH_FILES:
            raise missing_permissions()
        message = self.build_message(body, uploads, channel=channel)
        fake._store_message(message)
        fake._notify()
        return json_response(message.to_dict())

    async def channel_edit_message(self, request: web.Request) -> web.Response:
        """PATCH /channels/{channel_id}/messages/{message_id}."""
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        body, uploads = await self.read_body(request, size_limit=self.fake.upload_limit)
        if message.author is not self.fake.bot_user:
            raise api_error(403, 50005, "Cannot edit a message authored by another user")
        self.edit_message(message, body, uploads, via="channel")
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

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /guilds/{guild_id}/members/{user_id}."""
        self._require_bot(request)
        raw = request.match_info["guild_id"]
        guild = self.fake.guilds.get(int(raw)) if raw.isdigit() else None
        if guild is None:
            raise api_error(404, 10004, "Unknown Guild")
        raw = request.match_info["user_id"]
        member = guild.members.get(int(raw)) if raw.isdigit() else None
        if member is None:
            raise api_error(404, 10007, "Unknown Member")
        return json_response(member.to_dict())


@contextlib.contextmanager
def _errors_under(key: str) -> Iterator[None]:
    """Re-nest 50035 field errors under ``key`` (callback bodies wrap the message in data)."""
    try:
        yield
    except ApiError as exc:
        if exc.body.get("code") == 50035 and isinstance(exc.body.get("errors"), dict):
            exc.body["errors"] = {key: exc.body["errors"]}
        raise


def _clean_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean_nulls(v) for v in value]
    return value


def _without_version(command: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k != "version"}
