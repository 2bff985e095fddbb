"""Request validation for the fake Discord server, mirroring Discord's documented limits.

Validators append to a :class:`FormErrors`, which renders Discord's nested
``{"code": 50035, "errors": {...}, "message": "Invalid Form Body"}`` error body.
Other API failures are raised as :class:`ApiError` (status + JSON body).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from .emoji import check_emoji
from .models import MessageFlags, iter_components

# -- errors ------------------------------------------------------------------------


class ApiError(Exception):
    """An HTTP error response of the fake API."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


def api_error(status: int, code: int, message: str) -> ApiError:
    """Build an :class:`ApiError` with Discord's ``{"message", "code"}`` body."""
    return ApiError(status, {"message": message, "code": code})


def unauthorized() -> ApiError:
    """401 for a missing or wrong bot token."""
    return api_error(401, 0, "401: Unauthorized")


def unknown_interaction() -> ApiError:
    """404 Unknown interaction (10062)."""
    return api_error(404, 10062, "Unknown interaction")


def already_acknowledged() -> ApiError:
    """400 Interaction has already been acknowledged (40060)."""
    return api_error(400, 40060, "Interaction has already been acknowledged.")


def unknown_webhook() -> ApiError:
    """404 Unknown Webhook (10015)."""
    return api_error(404, 10015, "Unknown Webhook")


def invalid_webhook_token() -> ApiError:
    """401 Invalid Webhook Token (50027): an interaction token past its 15 minutes.

    The code is documented ("Opcodes and Status Codes"); that an expired interaction
    token answers it with 401, rather than 404/10015, is what developers report.
    """
    return api_error(401, 50027, "Invalid Webhook Token")


def thread_locked() -> ApiError:
    """403 Thread is locked (160005; the status is an assumption: a permission refusal)."""
    return api_error(403, 160005, "Thread is locked")


def thread_archived() -> ApiError:
    """400 Tried to perform an operation on an archived thread (50083)."""
    return api_error(400, 50083, "Tried to perform an operation on an archived thread")


def unknown_message() -> ApiError:
    """404 Unknown Message (10008)."""
    return api_error(404, 10008, "Unknown Message")


def unknown_channel() -> ApiError:
    """404 Unknown Channel (10003)."""
    return api_error(404, 10003, "Unknown Channel")


def missing_permissions() -> ApiError:
    """403 Missing Permissions (50013)."""
    return api_error(403, 50013, "Missing Permissions")


def missing_access() -> ApiError:
    """403 Missing Access (50001)."""
    return api_error(403, 50001, "Missing Access")


def empty_message() -> ApiError:
    """400 Cannot send an empty message (50006)."""
    return api_error(400, 50006, "Cannot send an empty message")


def entity_too_large() -> ApiError:
    """413 Request entity too large (40005)."""
    return api_error(413, 40005, "Request entity too large")


def invalid_json() -> ApiError:
    """400 The request body contains invalid JSON (50109)."""
    return api_error(400, 50109, "The request body contains invalid JSON.")


class FormErrors:
    """Collects field errors and renders Discord's 50035 Invalid Form Body."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        """Record an error at ``path`` (keys and list indices)."""
        node = self.errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def error(self) -> ApiError:
        """The 400 error for the collected errors."""
        return ApiError(400, {"code": 50035, "errors": self.errors, "message": "Invalid Form Body"})

    def raise_if_any(self) -> None:
        """Raise the 400 if any error was collected."""
        if self.errors:
            raise self.error()


Path = tuple[str | int, ...]


def _is_str(errors: FormErrors, path: Path, value: Any) -> bool:
    if isinstance(value, str):
        return True
    errors.add(path, "BASE_TYPE_STRING", f"Could not interpret {value!r} as string.")
    return False


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_bool(errors: FormErrors, path: Path, value: Any) -> None:
    if not isinstance(value, bool):
        errors.add(path, "BASE_TYPE_BOOLEAN", "Must be either true or false.")


def _check_length(
    errors: FormErrors, path: Path, value: Any, low: int, high: int, *, required: bool = True
) -> None:
    if value is None:
        if required:
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if not _is_str(errors, path, value):
        return
    length = len(value)
    if low <= 0 and length > high:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
    elif not low <= length <= high:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def is_snowflake(value: Any) -> TypeGuard[int | str]:
    """Whether ``value`` is a snowflake (int or string of digits)."""
    if _is_int(value):
        return 0 <= value < 1 << 64
    return isinstance(value, str) and value.isdigit() and int(value) < 1 << 64


def _check_list(errors: FormErrors, path: Path, value: Any, high: int) -> bool:
    if not isinstance(value, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return False
    if len(value) > high:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
        return False
    return True


def _check_url(errors: FormErrors, path: Path, value: Any, *, attachments: bool = False) -> None:
    if not _is_str(errors, path, value):
        return
    if attachments and value.startswith("attachment://") and len(value) > len("attachment://"):
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


# -- application commands ----------------------------------------------------------

_NAME_EXTRA = frozenset("-_'")


def valid_chat_input_name(name: str) -> bool:
    """Discord's ``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`` plus the lowercase rule."""
    if not 1 <= len(name) <= 32:
        return False
    for char in name:
        category = unicodedata.category(char)
        allowed = (
            char in _NAME_EXTRA
            or category[0] in "LN"
            or 0x0900 <= ord(char) <= 0x097F  # Devanagari
            or 0x0E00 <= ord(char) <= 0x0E7F  # Thai
        )
        if not allowed:
            return False
        if char.lower() != char:
            return False
    return True


OPTION_TYPES = range(1, 12)
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
MAX_SAFE_INTEGER = 2**53 - 1


def _check_localizations(errors: FormErrors, path: Path, value: Any, *, name: bool) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    for locale, text in value.items():
        if not isinstance(text, str):
            errors.add((*path, locale), "BASE_TYPE_STRING", "Must be a string.")
        elif name and not valid_chat_input_name(text):
            errors.add(
                (*path, locale),
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid: {text!r}",
            )
        elif not name:
            _check_length(errors, (*path, locale), text, 1, 100)


def _option_size(option: dict[str, Any]) -> int:
    size = len(str(option.get("name", ""))) + len(str(option.get("description", "")))
    for choice in option.get("choices") or []:
        if isinstance(choice, dict):
            size += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    for child in option.get("options") or []:
        if isinstance(child, dict):
            size += _option_size(child)
    return size


def _validate_option(
    errors: FormErrors, path: Path, option: Any, *, parent: str, depth: int
) -> None:
    if not isinstance(option, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    kind = option.get("type")
    if not _is_int(kind) or kind not in OPTION_TYPES:
        errors.add(
            (*path, "type"), "BASE_TYPE_CHOICES", f"Value must be one of {set(OPTION_TYPES)}."
        )
        return
    name = option.get("name")
    if not isinstance(name, str) or not valid_chat_input_name(name):
        errors.add(
            (*path, "name"),
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r}",
        )
    _check_length(errors, (*path, "description"), option.get("description"), 1, 100)
    _check_localizations(
        errors, (*path, "name_localizations"), option.get("name_localizations"), name=True
    )
    _check_localizations(
        errors,
        (*path, "description_localizations"),
        option.get("description_localizations"),
        name=False,
    )
    if "required" in option and option["required"] is not None:
        _check_bool(errors, (*path, "required"), option["required"])

    if kind == SUB_COMMAND_GROUP and parent != "command":
        errors.add(
            (*path, "type"),
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Sub-command groups can only be nested in a command.",
        )
    if kind == SUB_COMMAND and parent not in ("command", "group"):
        errors.add(
            (*path, "type"),
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Sub-commands can only be nested in a command or a sub-command group.",
        )
    if parent == "group" and kind != SUB_COMMAND:
        errors.add(
            (*path, "type"),
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Sub-command groups can only contain sub-commands.",
        )

    children = option.get("options")
    if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
        if children is not None:
            _validate_option_list(
                errors,
                (*path, "options"),
                children,
                parent="group" if kind == SUB_COMMAND_GROUP else "subcommand",
                depth=depth + 1,
            )
        if kind == SUB_COMMAND_GROUP and not children:
            errors.add(
                (*path, "options"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 25 in length.",
            )
        return
    if children:
        errors.add(
            (*path, "options"),
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Only sub-commands and sub-command groups may have options.",
        )

    choices = option.get("choices")
    if choices is not None:
        if kind not in (STRING, INTEGER, NUMBER):
            errors.add(
                (*path, "choices"),
                "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                "Choices are only allowed for string, integer and number options.",
            )
        elif _check_list(errors, (*path, "choices"), choices, 25):
            for j, choice in enumerate(choices):
                cpath = (*path, "choices", j)
                if not isinstance(choice, dict):
                    errors.add(cpath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used")
                    continue
                _check_length(errors, (*cpath, "name"), choice.get("name"), 1, 100)
                _check_localizations(
                    errors,
                    (*cpath, "name_localizations"),
                    choice.get("name_localizations"),
                    name=False,
                )
                value = choice.get("value")
                if kind == STRING:
                    _check_length(errors, (*cpath, "value"), value, 1, 100)
                elif kind == INTEGER and not (_is_int(value) and abs(value) <= MAX_SAFE_INTEGER):
                    errors.add(
                        (*cpath, "value"), "NUMBER_TYPE_COERCE", f"Value {value!r} is not int."
                    )
                elif kind == NUMBER and not _is_number(value):
                    errors.add(
                        (*cpath, "value"), "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number."
                    )
        if choices and option.get("autocomplete"):
            errors.add(
                (*path, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Autocomplete cannot be enabled for options with choices.",
            )
    if option.get("autocomplete") and kind not in (STRING, INTEGER, NUMBER):
        errors.add(
            (*path, "autocomplete"),
            "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
            "Autocomplete is only allowed for string, integer and number options.",
        )

    for key in ("min_length", "max_length"):
        value = option.get(key)
        if value is None:
            continue
        if kind != STRING:
            errors.add((*path, key), "BASE_TYPE_INVALID", f"{key} is only valid for strings.")
        elif not _is_int(value):
            errors.add((*path, key), "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif key == "min_length" and not 0 <= value <= 6000:
            errors.add((*path, key), "NUMBER_TYPE_MAX", "int value should be between 0 and 6000.")
        elif key == "max_length" and not 1 <= value <= 6000:
            errors.add((*path, key), "NUMBER_TYPE_MAX", "int value should be between 1 and 6000.")
    low, high = option.get("min_length"), option.get("max_length")
    if _is_int(low) and _is_int(high) and low > high:
        errors.add(
            (*path, "min_length"),
            "APPLICATION_COMMAND_OPTION_LENGTH_INVALID",
            "min_length must be less than or equal to max_length.",
        )

    for key in ("min_value", "max_value"):
        value = option.get(key)
        if value is None:
            continue
        if kind not in (INTEGER, NUMBER):
            errors.add((*path, key), "BASE_TYPE_INVALID", f"{key} is only valid for numbers.")
        elif kind == INTEGER and not _is_int(value):
            errors.add((*path, key), "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif not _is_number(value) or abs(value) > 2**53:
            errors.add((*path, key), "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number.")
    low, high = option.get("min_value"), option.get("max_value")
    if _is_number(low) and _is_number(high) and low > high:
        errors.add(
            (*path, "min_value"),
            "APPLICATION_COMMAND_OPTION_VALUE_INVALID",
            "min_value must be less than or equal to max_value.",
        )

    channel_types = option.get("channel_types")
    if channel_types is not None:
        if kind != CHANNEL:
            errors.add(
                (*path, "channel_types"), "BASE_TYPE_INVALID", "Only valid for channel options."
            )
        elif _check_list(errors, (*path, "channel_types"), channel_types, 20):
            for j, value in enumerate(channel_types):
                if not _is_int(value):
                    errors.add((*path, "channel_types", j), "NUMBER_TYPE_COERCE", "Not an int.")


def _validate_option_list(
    errors: FormErrors, path: Path, options: Any, *, parent: str, depth: int
) -> None:
    if not _check_list(errors, path, options, 25):
        return
    names: set[str] = set()
    kinds = []
    seen_optional = False
    for i, option in enumerate(options):
        _validate_option(errors, (*path, i), option, parent=parent, depth=depth)
        if not isinstance(option, dict):
            continue
        name = option.get("name")
        if isinstance(name, str):
            if name in names:
                errors.add(
                    (*path, i, "name"),
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            names.add(name)
        kind = option.get("type")
        kinds.append(kind)
        if kind not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if option.get("required"):
                if seen_optional:
                    errors.add(
                        (*path, i, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
    subs = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if any(subs) and not all(subs):
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other "
            "types",
        )


def validate_command(errors: FormErrors, path: Path, command: Any) -> None:
    """Validate one application command create/overwrite payload."""
    if not isinstance(command, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    kind = command.get("type", 1)
    if kind is None:
        kind = 1
    if not _is_int(kind) or kind not in (1, 2, 3, 4):
        errors.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
        return
    name = command.get("name")
    if kind == 1:
        if not isinstance(name, str) or not valid_chat_input_name(name):
            errors.add(
                (*path, "name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid: {name!r}",
            )
        _check_length(errors, (*path, "description"), command.get("description"), 1, 100)
        _check_localizations(
            errors, (*path, "name_localizations"), command.get("name_localizations"), name=True
        )
        _check_localizations(
            errors,
            (*path, "description_localizations"),
            command.get("description_localizations"),
            name=False,
        )
        if command.get("options") is not None:
            _validate_option_list(
                errors, (*path, "options"), command["options"], parent="command", depth=0
            )
    else:
        _check_length(errors, (*path, "name"), name, 1, 32)
        if command.get("description"):
            errors.add(
                (*path, "description"),
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have description",
            )
        if command.get("options"):
            errors.add(
                (*path, "options"),
                "APPLICATION_COMMAND_OPTIONS_INVALID",
                "Context menu commands cannot have options",
            )

    perms = command.get("default_member_permissions")
    # Documented as a string; Discord also accepts a non-negative integer (what
    # discord.py sends) and returns it as a string.
    if perms is not None and not (
        (isinstance(perms, str) and perms.isdigit()) or (_is_int(perms) and perms >= 0)
    ):
        errors.add(
            (*path, "default_member_permissions"),
            "BASE_TYPE_STRING",
            "Must be a string of digits (a permission bit set) or null.",
        )
    for key in ("dm_permission", "nsfw", "default_permission"):
        if command.get(key) is not None:
            _check_bool(errors, (*path, key), command[key])
    for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
        value = command.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            errors.add((*path, key), "BASE_TYPE_ARRAY", "Must be an array.")
            continue
        for j, item in enumerate(value):
            if not _is_int(item) or item not in allowed:
                errors.add((*path, key, j), "BASE_TYPE_CHOICES", f"Value must be one of {allowed}.")
        if key == "integration_types" and not value:
            errors.add((*path, key), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 2 in length.")
    if kind == 1:
        size = _option_size(command)
        if size > 8000:
            errors.add(path, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")


def validate_command_list(commands: Any) -> None:
    """Validate a bulk-overwrite body; raises :class:`ApiError` (50035) on violations."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        errors.raise_if_any()
    seen: dict[tuple[Any, Any], int] = {}
    counts = {1: 0, 2: 0, 3: 0, 4: 0}
    for i, command in enumerate(commands):
        validate_command(errors, (i,), command)
        if isinstance(command, dict):
            key = (command.get("name"), command.get("type", 1) or 1)
            if key in seen:
                errors.add(
                    (i, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {key[0]!r}",
                )
            seen[key] = i
            if key[1] in counts:
                counts[key[1]] += 1
    for kind, limit in ((1, 100), (2, 15), (3, 15)):
        if counts[kind] > limit:
            errors.add(
                (),
                "APPLICATION_COMMANDS_TOO_MANY",
                f"Maximum number of application commands of type {kind} reached ({limit})",
            )
    errors.raise_if_any()


# -- messages ----------------------------------------------------------------------

BUTTON_STYLES = {1, 2, 3, 4, 5, 6}
SELECT_TYPES = {3, 5, 6, 7, 8}
V2_TOP_LEVEL = {1, 9, 10, 12, 13, 14, 17}


def validate_embeds(errors: FormErrors, embeds: Any) -> None:
    """Check embed structure and the documented embed limits."""
    if embeds is None:
        return
    if not _check_list(errors, ("embeds",), embeds, 10):
        return
    total = 0
    for i, embed in enumerate(embeds):
        path: Path = ("embeds", i)
        if not isinstance(embed, dict):
            errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue

        def text(key: str, limit: int, value: Any, where: Path) -> int:
            if value is None:
                return 0
            if not _is_str(errors, where, value):
                return 0
            stripped = value.strip()
            if len(stripped) > limit:
                errors.add(where, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            return len(stripped)

        total += text("title", 256, embed.get("title"), (*path, "title"))
        total += text("description", 4096, embed.get("description"), (*path, "description"))
        if embed.get("url") is not None:
            _check_url(errors, (*path, "url"), embed["url"])
        color = embed.get("color")
        if color is not None and not (_is_int(color) and 0 <= color <= 0xFFFFFF):
            errors.add((*path, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
        footer = embed.get("footer")
        if footer is not None:
            if not isinstance(footer, dict):
                errors.add((*path, "footer"), "MODEL_TYPE_CONVERT", "Only dictionaries may be used")
            else:
                if footer.get("text") is None:
                    errors.add(
                        (*path, "footer", "text"), "BASE_TYPE_REQUIRED", "This field is required"
                    )
                total += text("text", 2048, footer.get("text"), (*path, "footer", "text"))
                if footer.get("icon_url") is not None:
                    _check_url(
                        errors, (*path, "footer", "icon_url"), footer["icon_url"], attachments=True
                    )
        author = embed.get("author")
        if author is not None:
            if not isinstance(author, dict):
                errors.add((*path, "author"), "MODEL_TYPE_CONVERT", "Only dictionaries may be used")
            else:
                if author.get("name") is None:
                    errors.add(
                        (*path, "author", "name"), "BASE_TYPE_REQUIRED", "This field is required"
                    )
                total += text("name", 256, author.get("name"), (*path, "author", "name"))
                for key in ("url", "icon_url"):
                    if author.get(key) is not None:
                        _check_url(
                            errors,
                            (*path, "author", key),
                            author[key],
                            attachments=key == "icon_url",
                        )
        for key in ("image", "thumbnail"):
            media = embed.get(key)
            if media is None:
                continue
            if not isinstance(media, dict) or media.get("url") is None:
                errors.add((*path, key, "url"), "BASE_TYPE_REQUIRED", "This field is required")
            else:
                _check_url(errors, (*path, key, "url"), media["url"], attachments=True)
        fields = embed.get("fields")
        if fields is not None and _check_list(errors, (*path, "fields"), fields, 25):
            for j, embed_field in enumerate(fields):
                fpath = (*path, "fields", j)
                if not isinstance(embed_field, dict):
                    errors.add(fpath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used")
                    continue
                for key, limit in (("name", 256), ("value", 1024)):
                    value = embed_field.get(key)
                    if value is None or (isinstance(value, str) and not value.strip()):
                        errors.add((*fpath, key), "BASE_TYPE_REQUIRED", "This field is required")
                    else:
                        total += text(key, limit, value, (*fpath, key))
                if embed_field.get("inline") is not None:
                    _check_bool(errors, (*fpath, "inline"), embed_field["inline"])
    if total > 6000:
        errors.add(
            ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )


def _validate_button(errors: FormErrors, path: Path, button: dict[str, Any]) -> None:
    style = button.get("style")
    if not _is_int(style) or style not in BUTTON_STYLES:
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", f"Value must be one of {BUTTON_STYLES}.")
        return
    label = button.get("label")
    if label is not None:
        _check_length(errors, (*path, "label"), label, 0, 80)
    if style == 5:
        if button.get("url") is None:
            errors.add((*path, "url"), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
        else:
            _check_length(errors, (*path, "url"), button["url"], 1, 512)
            _check_url(errors, (*path, "url"), button["url"])
        if button.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A custom id cannot be set for link buttons",
            )
    elif style == 6:
        if button.get("sku_id") is None:
            errors.add((*path, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
    else:
        _check_length(errors, (*path, "custom_id"), button.get("custom_id"), 1, 100)
        if button.get("url") is not None:
            errors.add(
                (*path, "url"),
                "BUTTON_COMPONENT_URL_NOT_ALLOWED",
                "A url can only be set for link buttons",
            )
        if label is None and button.get("emoji") is None:
            errors.add(
                (*path, "label"),
                "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                "Buttons need a label or an emoji",
            )
    check_emoji(errors, (*path, "emoji"), button.get("emoji"))
    if button.get("disabled") is not None:
        _check_bool(errors, (*path, "disabled"), button["disabled"])


def _validate_select(errors: FormErrors, path: Path, select: dict[str, Any]) -> None:
    _check_length(errors, (*path, "custom_id"), select.get("custom_id"), 1, 100)
    if select.get("placeholder") is not None:
        _check_length(errors, (*path, "placeholder"), select["placeholder"], 0, 150)
    low = select.get("min_values", 1)
    high = select.get("max_values", 1)
    if low is not None and not (_is_int(low) and 0 <= low <= 25):
        errors.add(
            (*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be between 0 and 25."
        )
    if high is not None and not (_is_int(high) and 1 <= high <= 25):
        errors.add(
            (*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be between 1 and 25."
        )
    if select.get("type") == 3:
        options = select.get("options")
        if not isinstance(options, list) or not 1 <= len(options) <= 25:
            errors.add(
                (*path, "options"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
            )
            return
        values: set[str] = set()
        for j, option in enumerate(options):
            opath = (*path, "options", j)
            if not isinstance(option, dict):
                errors.add(opath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used")
                continue
            _check_length(errors, (*opath, "label"), option.get("label"), 1, 100)
            _check_length(errors, (*opath, "value"), option.get("value"), 1, 100)
            check_emoji(errors, (*opath, "emoji"), option.get("emoji"))
            if option.get("description") is not None:
                _check_length(errors, (*opath, "description"), option["description"], 0, 100)
            value = option.get("value")
            if isinstance(value, str):
                if value in values:
                    errors.add(
                        (*opath, "value"),
                        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                        "Select component option values must be unique",
                    )
                values.add(value)
        if _is_int(high) and high > len(options):
            errors.add(
                (*path, "max_values"),
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {len(options)}.",
            )


def _validate_component(
    errors: FormErrors, path: Path, component: Any, *, in_row: bool, v2: bool
) -> None:
    if not isinstance(component, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    kind = component.get("type")
    if not _is_int(kind):
        errors.add((*path, "type"), "BASE_TYPE_REQUIRED", "This field is required")
        return
    if kind == 1:
        if in_row:
            errors.add((*path, "type"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Rows cannot nest")
            return
        children = component.get("components")
        if not isinstance(children, list) or not 1 <= len(children) <= 5:
            errors.add(
                (*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
            return
        selects = [c for c in children if isinstance(c, dict) and c.get("type") in SELECT_TYPES]
        if selects and len(children) > 1:
            errors.add(
                (*path, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, child in enumerate(children):
            if isinstance(child, dict) and child.get("type") not in ({2} | SELECT_TYPES):
                errors.add(
                    (*path, "components", j, "type"),
                    "COMPONENT_TYPE_INVALID",
                    "Action rows may only contain buttons or a select menu",
                )
                continue
            _validate_component(errors, (*path, "components", j), child, in_row=True, v2=v2)
    elif kind == 2:
        _validate_button(errors, path, component)
    elif kind in SELECT_TYPES:
        _validate_select(errors, path, component)
    elif not v2:
        errors.add(
            (*path, "type"),
            "COMPONENT_TYPE_INVALID",
            f"Component type {kind} requires the IS_COMPONENTS_V2 flag",
        )
    elif kind == 10:
        _check_length(errors, (*path, "content"), component.get("content"), 1, 4000)
    elif kind in (9, 17):
        children = component.get("components")
        if not isinstance(children, list) or not children:
            errors.add((*path, "components"), "BASE_TYPE_REQUIRED", "This field is required")
        else:
            for j, child in enumerate(children):
                _validate_component(errors, (*path, "components", j), child, in_row=False, v2=v2)
        if kind == 9:
            accessory = component.get("accessory")
            if not isinstance(accessory, dict):
                errors.add((*path, "accessory"), "BASE_TYPE_REQUIRED", "This field is required")
            elif accessory.get("type") == 2:
                _validate_button(errors, (*path, "accessory"), accessory)
    elif kind not in (11, 12, 13, 14):
        errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", f"Invalid component type {kind}")


def validate_components(errors: FormErrors, components: Any, *, flags: int) -> None:
    """Check message components (legacy action rows, or Components V2 with the flag)."""
    if components is None:
        return
    v2 = bool(flags & MessageFlags.IS_COMPONENTS_V2)
    if not _check_list(errors, ("components",), components, 40 if v2 else 5):
        return
    for i, component in enumerate(components):
        path: Path = ("components", i)
        if isinstance(component, dict):
            kind = component.get("type")
            if not v2 and kind != 1:
                errors.add(
                    (*path, "type"),
                    "COMPONENT_TYPE_INVALID",
                    "Top-level components must be action rows",
                )
                continue
            if v2 and kind not in V2_TOP_LEVEL:
                errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Invalid top-level component")
                continue
        _validate_component(errors, path, component, in_row=False, v2=v2)
    custom_ids: set[str] = set()
    total = 0
    for component in iter_components(components):
        total += 1
        custom_id = component.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in custom_ids:
                errors.add(
                    ("components",),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    f"Component custom id cannot be duplicated: {custom_id!r}",
                )
            custom_ids.add(custom_id)
    if v2 and total > 40:
        errors.add(("components",), "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED", "Max 40 components")


def assign_component_ids(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deep copy of components with a unique numeric ``id`` filled in, as Discord does."""
    import copy

    copied: list[dict[str, Any]] = copy.deepcopy(components)
    used = {c["id"] for c in iter_components(copied) if _is_int(c.get("id"))}
    next_id = 1
    for component in iter_components(copied):
        if not _is_int(component.get("id")):
            while next_id in used:
                next_id += 1
            component["id"] = next_id
            used.add(next_id)
    return copied


ALLOWED_MENTION_KEYS = {"parse", "users", "roles", "replied_user"}
ALLOWED_MENTION_PARSE = {"users", "roles", "everyone"}


def validate_allowed_mentions(errors: FormErrors, value: Any) -> None:
    """Check an allowed_mentions object (keys, parse values, mutual exclusivity, limits)."""
    if value is None:
        return
    path: Path = ("allowed_mentions",)
    if not isinstance(value, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    for key in value:
        if key not in ALLOWED_MENTION_KEYS:
            errors.add((*path, key), "MODEL_TYPE_UNKNOWN_FIELD", f"Unknown field {key!r}")
    parse = value.get("parse")
    if parse is not None and _check_list(errors, (*path, "parse"), parse, 3):
        for i, item in enumerate(parse):
            if item not in ALLOWED_MENTION_PARSE:
                errors.add(
                    (*path, "parse", i),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of ('users', 'roles', 'everyone').",
                )
    for key in ("users", "roles"):
        ids = value.get(key)
        if ids is None:
            continue
        if _check_list(errors, (*path, key), ids, 100):
            for i, item in enumerate(ids):
                if not is_snowflake(item):
                    errors.add(
                        (*path, key, i), "NUMBER_TYPE_COERCE", f"Value {item!r} is not snowflake."
                    )
            if ids and isinstance(parse, list) and key in parse:
                errors.add(
                    (*path, key),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{key}"] and {key}: [ids...] are mutually exclusive.',
                )
    if value.get("replied_user") is not None:
        _check_bool(errors, (*path, "replied_user"), value["replied_user"])


def validate_message_payload(payload: Any, *, errors: FormErrors | None = None) -> FormErrors:
    """Validate the message fields of a create/edit payload (not emptiness; see callers)."""
    errors = errors if errors is not None else FormErrors()
    if not isinstance(payload, dict):
        errors.add((), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return errors
    content = payload.get("content")
    if content is not None:
        # discord-api-docs: "up to 2000 characters" (discord-api-spec's create and
        # edit schemas allow 4000, what Nitro members may send; a bot has 2000).
        _check_length(errors, ("content",), content, 0, 2000)
    validate_embeds(errors, payload.get("embeds"))
    flags = payload.get("flags")
    if flags is not None and not _is_int(flags):
        errors.add(("flags",), "NUMBER_TYPE_COERCE", f"Value {flags!r} is not int.")
        flags = 0
    validate_components(errors, payload.get("components"), flags=flags or 0)
    validate_allowed_mentions(errors, payload.get("allowed_mentions"))
    if payload.get("tts") is not None:
        _check_bool(errors, ("tts",), payload["tts"])
    nonce = payload.get("nonce")
    if nonce is not None and not (_is_int(nonce) or (isinstance(nonce, str) and len(nonce) <= 25)):
        errors.add(("nonce",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    attachments = payload.get("attachments")
    if attachments is not None and _check_list(errors, ("attachments",), attachments, 10):
        for i, item in enumerate(attachments):
            if not isinstance(item, dict) or "id" not in item:
                errors.add(("attachments", i, "id"), "BASE_TYPE_REQUIRED", "This field is required")
            elif item.get("description") is not None:
                _check_length(
                    errors, ("attachments", i, "description"), item["description"], 0, 1024
                )
    if (flags or 0) & MessageFlags.IS_COMPONENTS_V2:
        if payload.get("content"):
            errors.add(
                ("content",),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
            )
        if payload.get("embeds"):
            errors.add(
                ("embeds",),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
            )
    return errors


# -- modals ------------------------------------------------------------------------

MODAL_FIELD_TYPES = {3, 4, 5, 6, 7, 8, 19, 21, 22, 23}


def _validate_text_input(errors: FormErrors, path: Path, text_input: dict[str, Any]) -> None:
    _check_length(errors, (*path, "custom_id"), text_input.get("custom_id"), 1, 100)
    style = text_input.get("style")
    if style not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    for key, low, high in (("min_length", 0, 4000), ("max_length", 1, 4000)):
        value = text_input.get(key)
        if value is not None and not (_is_int(value) and low <= value <= high):
            errors.add(
                (*path, key), "NUMBER_TYPE_MAX", f"int value should be between {low} and {high}."
            )
    if text_input.get("value") is not None:
        _check_length(errors, (*path, "value"), text_input["value"], 0, 4000)
    if text_input.get("placeholder") is not None:
        _check_length(errors, (*path, "placeholder"), text_input["placeholder"], 0, 100)
    if text_input.get("label") is not None:
        _check_length(errors, (*path, "label"), text_input["label"], 1, 45)
    if text_input.get("required") is not None:
        _check_bool(errors, (*path, "required"), text_input["required"])


def validate_modal(data: Any) -> None:
    """Validate a MODAL (type 9) callback's data; raises 50035 on violations."""
    errors = FormErrors()
    if not isinstance(data, dict):
        errors.add(("data",), "BASE_TYPE_REQUIRED", "This field is required")
        errors.raise_if_any()
        return
    _check_length(errors, ("data", "custom_id"), data.get("custom_id"), 1, 100)
    _check_length(errors, ("data", "title"), data.get("title"), 1, 45)
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= 5:
        errors.add(
            ("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
        errors.raise_if_any()
        return
    custom_ids: set[str] = set()
    for i, component in enumerate(components):
        path: Path = ("data", "components", i)
        if not isinstance(component, dict):
            errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used")
            continue
        kind = component.get("type")
        inner: dict[str, Any] | None = None
        inner_path: Path = path
        if kind == 1:
            children = component.get("components")
            if not isinstance(children, list) or len(children) != 1:
                errors.add(
                    (*path, "components"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1 in length.",
                )
                continue
            inner, inner_path = children[0], (*path, "components", 0)
            if isinstance(inner, dict) and inner.get("type") == 4 and not inner.get("label"):
                errors.add((*inner_path, "label"), "BASE_TYPE_REQUIRED", "This field is required")
        elif kind == 18:
            _check_length(errors, (*path, "label"), component.get("label"), 1, 45)
            if component.get("description") is not None:
                _check_length(errors, (*path, "description"), component["description"], 0, 100)
            inner, inner_path = component.get("component"), (*path, "component")
        elif kind == 10:
            _check_length(errors, (*path, "content"), component.get("content"), 1, 4000)
            continue
        else:
            errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", f"Invalid modal component {kind}")
            continue
        if not isinstance(inner, dict) or inner.get("type") not in MODAL_FIELD_TYPES:
            errors.add(inner_path, "COMPONENT_TYPE_INVALID", "Invalid component in modal")
            continue
        if inner.get("type") == 4:
            _validate_text_input(errors, inner_path, inner)
        elif inner.get("type") in SELECT_TYPES:
            _validate_select(errors, inner_path, inner)
        else:
            _check_length(errors, (*inner_path, "custom_id"), inner.get("custom_id"), 1, 100)
        custom_id = inner.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in custom_ids:
                errors.add(
                    (*inner_path, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            custom_ids.add(custom_id)
    errors.raise_if_any()
