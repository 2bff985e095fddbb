"""Builders for INTERACTION_CREATE payloads, shaped like the ones Discord sends.

These raise (``LookupError`` / ``ValueError`` / ``TypeError`` / ``PermissionError``) when a
test asks for something a real Discord client could not do, e.g. invoking a command
that was never registered or clicking a disabled button.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .models import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeRole,
    FakeUser,
    Permissions,
)
from .validate import assign_component_ids

if TYPE_CHECKING:
    pass

# Option types (discord-api-docs, "Application Command Option Type"): the fake builds
# the ones the bot's commands use; any other is refused.
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, USER, CHANNEL, ROLE = 3, 4, 6, 7, 8
ATTACHMENT = 11
# Application command types (discord-api-docs, "Application Command Types").
CHAT_INPUT_COMMAND, MESSAGE_COMMAND = 1, 3

OptionValue = str | int | FakeUser | FakeRole | FakeChannel | FakeAttachment


def new_token(interaction_id: int) -> str:
    """An interaction token shaped like Discord's (base64 of ``interaction:<id>:<secret>``)."""
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(48)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Resolved:
    """Accumulates the ``resolved`` data of an interaction."""

    def __init__(self, guild: FakeGuild, channel: FakeChannel, invoker: FakeUser) -> None:
        self.guild = guild
        self.channel = channel
        self.invoker = invoker
        self.data: dict[str, dict[str, Any]] = {}

    def _put(self, kind: str, key: int, value: dict[str, Any]) -> None:
        self.data.setdefault(kind, {})[str(key)] = value

    def user(self, user: FakeUser) -> str:
        """Add a user (and their partial member if in the guild)."""
        self._put("users", user.id, user.to_dict())
        member = self.guild.members.get(user.id)
        if member is not None:
            perms = self.guild.permissions_in(user.id, self.channel)
            self._put("members", user.id, member.to_dict(permissions=perms, with_user=False))
        return str(user.id)

    def role(self, role: FakeRole) -> str:
        """Add a role."""
        if role.guild_id != self.guild.id:
            raise ValueError(f"role {role.name!r} is not in guild {self.guild.name!r}")
        self._put("roles", role.id, role.to_dict())
        return str(role.id)

    def channel_ref(self, channel: FakeChannel) -> str:
        """Add a partial channel with the invoking user's permissions in it."""
        if channel.guild_id != self.guild.id:
            raise ValueError(f"channel {channel.name!r} is not in guild {self.guild.name!r}")
        full = channel.to_dict()
        partial: dict[str, Any] = {
            k: full[k]
            for k in (
                "id",
                "name",
                "type",
                "guild_id",
                "parent_id",
                "position",
                "flags",
                "nsfw",
                "topic",
                "rate_limit_per_user",
                "last_message_id",
                "last_pin_timestamp",
            )
            if k in full
        }
        partial["permissions"] = str(self.guild.permissions_in(self.invoker.id, channel))
        self._put("channels", channel.id, partial)
        return str(channel.id)

    def attachment(self, attachment: FakeAttachment) -> str:
        """Add an uploaded file; the option's value is its id (discord-api-docs,
        "Application Command Interaction Data Option": ATTACHMENT values are snowflakes,
        the attachment object is in ``resolved.attachments``)."""
        self._put("attachments", attachment.id, attachment.to_dict())
        return str(attachment.id)


def _option_value(
    definition: dict[str, Any], value: OptionValue, resolved: Resolved, where: str
) -> Any:
    kind = definition["type"]
    name = f"{where}{definition['name']}"
    if kind == STRING:
        if not isinstance(value, str):
            raise TypeError(f"option {name!r} is a STRING option, got {value!r}")
        low, high = definition.get("min_length"), definition.get("max_length")
        if low is not None and len(value) < low:
            raise ValueError(f"option {name!r} needs at least {low} characters")
        if high is not None and len(value) > high:
            raise ValueError(f"option {name!r} allows at most {high} characters")
        if len(value) > 6000:
            raise ValueError(f"option {name!r}: Discord clients cap input at 6000 characters")
    elif kind == INTEGER:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"option {name!r} is an INTEGER option, got {value!r}")
    elif kind == USER:
        if not isinstance(value, FakeUser):
            raise TypeError(f"option {name!r} is a USER option, got {value!r}")
        return resolved.user(value)
    elif kind == ROLE:
        if not isinstance(value, FakeRole):
            raise TypeError(f"option {name!r} is a ROLE option, got {value!r}")
        return resolved.role(value)
    elif kind == ATTACHMENT:
        if not isinstance(value, FakeAttachment):
            raise TypeError(f"option {name!r} is an ATTACHMENT option, got {value!r}")
        return resolved.attachment(value)
    elif kind == CHANNEL:
        if not isinstance(value, FakeChannel):
            raise TypeError(f"option {name!r} is a CHANNEL option, got {value!r}")
        types = definition.get("channel_types")
        if types and value.type not in types:
            raise ValueError(f"option {name!r} only accepts channel types {types}")
        return resolved.channel_ref(value)
    else:
        raise TypeError(f"option {name!r} has unsupported type {kind}")
    if kind == INTEGER:
        low, high = definition.get("min_value"), definition.get("max_value")
        if low is not None and value < low:
            raise ValueError(f"option {name!r} must be >= {low}")
        if high is not None and value > high:
            raise ValueError(f"option {name!r} must be <= {high}")
    choices = definition.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        allowed = [c["value"] for c in choices]
        raise ValueError(f"option {name!r} must be one of the choices {allowed}, got {value!r}")
    return value


def build_command_data(
    command: dict[str, Any],
    path: Sequence[str],
    options: Mapping[str, OptionValue],
    resolved: Resolved,
) -> tuple[list[dict[str, Any]], str]:
    """Build ``data.options`` for a chat input command; returns (options, full name)."""
    definitions: list[dict[str, Any]] = command.get("options") or []
    names = [command["name"]]
    containers: list[tuple[int, str]] = []
    for step in path:
        match = next(
            (
                d
                for d in definitions
                if d["name"] == step and d["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)
            ),
            None,
        )
        if match is None:
            available = [d["name"] for d in definitions if d["type"] in (1, 2)]
            raise LookupError(
                f"/{' '.join(names)} has no subcommand (group) {step!r}; available: {available}"
            )
        names.append(step)
        containers.append((match["type"], step))
        definitions = match.get("options") or []
    if any(d["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for d in definitions):
        available = [d["name"] for d in definitions]
        raise ValueError(f"/{' '.join(names)} needs a subcommand; available: {available}")
    by_name = {d["name"]: d for d in definitions}
    unknown = set(options) - set(by_name)
    if unknown:
        raise LookupError(
            f"/{' '.join(names)} has no option(s) {sorted(unknown)}; available: {list(by_name)}"
        )
    where = " ".join(names) + ": "
    leaf: list[dict[str, Any]] = []
    for definition in definitions:
        name = definition["name"]
        if name not in options:
            if definition.get("required"):
                raise ValueError(f"/{' '.join(names)} requires option {name!r}")
            continue
        value = _option_value(definition, options[name], resolved, where)
        leaf.append({"name": name, "type": definition["type"], "value": value})
    result = leaf
    for kind, name in reversed(containers):
        result = [{"name": name, "type": kind, "options": result}]
    return result, " ".join(names)


def message_command_data(command: dict[str, Any], target: FakeMessage) -> dict[str, Any]:
    """``data`` of a MESSAGE command interaction on ``target``.

    Shaped like discord-api-docs' "Message Command Interaction" example: the command's
    id, name and type 3, ``target_id`` and the message in ``resolved.messages``. The
    message comes whole, content and attachments included: the Message Content
    intent does not apply to the message a message command is used on.
    """
    return {
        "id": command["id"],
        "name": command["name"],
        "type": MESSAGE_COMMAND,
        "target_id": str(target.id),
        "resolved": {"messages": {str(target.id): target.to_dict()}},
    }


def check_command_usable(
    command: dict[str, Any], guild: FakeGuild, channel: FakeChannel, user: FakeUser
) -> None:
    """Raise if a Discord client would not let ``user`` run ``command`` in ``channel``."""
    contexts = command.get("contexts")
    if contexts is not None and 0 not in contexts:
        raise PermissionError(
            f"/{command['name']} is not available in guilds (contexts={contexts})"
        )
    perms = guild.permissions_in(user.id, channel)
    if not perms & Permissions.USE_APPLICATION_COMMANDS:
        raise PermissionError(f"{user.username} lacks USE_APPLICATION_COMMANDS in #{channel.name}")
    required = command.get("default_member_permissions")
    if required is not None:
        needed = int(required)
        has_admin = guild.base_permissions(user.id) & Permissions.ADMINISTRATOR
        if not has_admin and (needed == 0 or perms & needed != needed):
            raise PermissionError(
                f"{user.username} lacks default_member_permissions={required} for "
                f"/{command['name']}"
            )


def find_button(message: FakeMessage, custom_id: str) -> dict[str, Any]:
    """The clickable button ``custom_id`` on ``message`` (raises if not clickable)."""
    component = message.find_component(custom_id)
    if component is None:
        ids = [c.get("custom_id") for c in message.iter_components() if c.get("custom_id")]
        raise LookupError(f"message {message.id} has no component {custom_id!r}; has {ids}")
    if component.get("type") != 2:
        raise TypeError(f"component {custom_id!r} is not a button (type {component.get('type')})")
    if component.get("disabled"):
        raise PermissionError(f"button {custom_id!r} is disabled")
    return component


def select_values(component: dict[str, Any], values: Sequence[str]) -> list[str]:
    """Validate the values chosen in a string select menu."""
    custom_id = component.get("custom_id")
    low = component.get("min_values", 1)
    high = component.get("max_values", 1)
    low = 1 if low is None else low
    high = 1 if high is None else high
    if not low <= len(values) <= high:
        raise ValueError(f"select {custom_id!r} takes between {low} and {high} values")
    allowed = [o["value"] for o in component.get("options") or []]
    for value in values:
        if value not in allowed:
            raise ValueError(f"select {custom_id!r} has no option {value!r}; has {allowed}")
    return [str(v) for v in values]


def modal_submit_components(
    modal: dict[str, Any], values: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``data.components`` of a MODAL_SUBMIT mirroring the modal the bot sent.

    Text inputs (type 4) in action rows or labels are what the fake fills in; a modal
    with any other input raises NotImplementedError.
    """
    components = assign_component_ids(modal.get("components") or [])
    seen: set[str] = set()

    def field_value(component: dict[str, Any]) -> dict[str, Any]:
        kind = component.get("type")
        custom_id = component.get("custom_id")
        out: dict[str, Any] = {"type": kind, "id": component["id"], "custom_id": custom_id}
        assert isinstance(custom_id, str)
        seen.add(custom_id)
        if kind == 4:
            value = values.get(custom_id, component.get("value") or "")
            if not isinstance(value, str):
                raise TypeError(f"text input {custom_id!r} takes a str, got {value!r}")
            required = component.get("required", True) is not False
            if required and not value:
                raise ValueError(f"text input {custom_id!r} is required")
            low, high = component.get("min_length"), component.get("max_length") or 4000
            if value and low is not None and len(value) < low:
                raise ValueError(f"text input {custom_id!r} needs at least {low} characters")
            if len(value) > high:
                raise ValueError(f"text input {custom_id!r} allows at most {high} characters")
            out["value"] = value
        else:
            raise NotImplementedError(f"modal component type {kind} is not supported by the fake")
        return out

    result: list[dict[str, Any]] = []
    for component in components:
        kind = component.get("type")
        if kind == 1:
            result.append(
                {
                    "type": 1,
                    "id": component["id"],
                    "components": [field_value(c) for c in component.get("components") or []],
                }
            )
        elif kind == 18:
            result.append(
                {
                    "type": 18,
                    "id": component["id"],
                    "component": field_value(component["component"]),
                }
            )
        else:
            raise NotImplementedError(f"modal component type {kind} is not supported by the fake")
    unknown = set(values) - seen
    if unknown:
        raise LookupError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}")
    return result
