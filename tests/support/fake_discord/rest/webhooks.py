"""Interaction responses: the initial callback, followups and the original message.

``/interactions/{id}/{token}/callback`` and ``/webhooks/{application_id}/{token}...``,
the webhook of an interaction token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..models import (
    CallbackType,
    FakeInteraction,
    FakeMessage,
    FakeUpload,
    InteractionCallback,
    InteractionType,
    MessageFlags,
    RecordedRequest,
)
from ..permissions import check_edit
from ..validate import (
    ApiError,
    FormErrors,
    already_acknowledged,
    invalid_webhook_token,
    unknown_interaction,
    unknown_message,
    unknown_webhook,
    validate_modal,
)
from .body import read_body
from .common import API_PREFIX, RECORD_KEY, Routes, json_response, truthy
from .messages import MessageBuilder

if TYPE_CHECKING:
    from ..server import FakeDiscord


class WebhookRoutes(Routes):
    """The interaction callback and the interaction webhook's message routes."""

    def __init__(self, fake: FakeDiscord, messages: MessageBuilder) -> None:
        super().__init__(fake)
        self.messages = messages
        self.dead_tokens: dict[str, int] = {}
        """Tokens whose webhook answered 401 or 404 (Unknown Webhook), with that status."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        p = API_PREFIX
        router.add_post(
            f"{p}/interactions/{{interaction_id}}/{{token}}/callback", self.interaction_callback
        )
        router.add_post(f"{p}/webhooks/{{application_id}}/{{token}}", self.webhook_execute)
        hook_message = f"{p}/webhooks/{{application_id}}/{{token}}/messages/{{message_id}}"
        router.add_get(hook_message, self.webhook_get_message)
        router.add_patch(hook_message, self.webhook_edit_message)
        router.add_delete(hook_message, self.webhook_delete_message)

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
        message = self.messages.build(
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
            fake.late_acknowledgements.append(interaction)
            raise unknown_interaction()
        body, uploads = await read_body(request, size_limit=interaction.attachment_size_limit)
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
                    self.messages.edit(target, data, uploads, via="callback")
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
        if not truthy(request.query.get("with_response")):
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
        token = request.match_info["token"]
        if token in self.dead_tokens:
            # discord-api-docs, "Rate Limits": a webhook that answered 404 must not be
            # used again; the same holds for a token that answered 401.
            fake.protocol_errors.append(
                f"http: {rec.method} {rec.path.split('/' + token)[0]}/<token>... reuses an "
                f"interaction token that already answered {self.dead_tokens[token]}"
            )
        if request.match_info["application_id"] != str(fake.application_id):
            raise unknown_webhook()
        interaction = fake._interactions_by_token.get(token)
        if interaction is None:
            self.dead_tokens[token] = 404
            raise unknown_webhook()
        interaction.responses.append(rec)
        if interaction.dispatched_at is None:
            raise unknown_webhook()
        age = rec.time - interaction.dispatched_at
        if interaction.expired or age > fake.interaction_token_lifetime:
            self.dead_tokens[token] = 401
            raise invalid_webhook_token()
        if interaction.callback is None and age > fake.initial_response_timeout:
            # Not answered within 3 s: the token was invalidated and its webhook never made.
            self.dead_tokens[token] = 404
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
        body, uploads = await read_body(request, size_limit=interaction.attachment_size_limit)
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
            self.messages.edit(original, payload, uploads, via="followup")
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
        channel = interaction.channel
        check_edit(channel, interaction.guild.permissions_in(self.fake.bot_user.id, channel))
        body, uploads = await read_body(request, size_limit=interaction.attachment_size_limit)
        if message.deleted:
            raise unknown_message()
        self.messages.edit(message, body, uploads, via="webhook")
        self.fake._dispatch_message_event("MESSAGE_UPDATE", message)
        self.fake._notify()
        return json_response(message.to_dict())

    async def webhook_delete_message(self, request: web.Request) -> web.Response:
        """DELETE /webhooks/{application_id}/{token}/messages/{id|@original}."""
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        self.fake._delete_message(message)
        return web.Response(status=204)


@contextlib.contextmanager
def _errors_under(key: str) -> Iterator[None]:
    """Re-nest 50035 field errors under ``key`` (callback bodies wrap the message in data)."""
    try:
        yield
    except ApiError as exc:
        if exc.body.get("code") == 50035 and isinstance(exc.body.get("errors"), dict):
            exc.body["errors"] = {key: exc.body["errors"]}
        raise
