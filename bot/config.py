"""Settings from the environment, validated once at start.

Every variable of the spec's configuration table lives here. A missing or
malformed value raises :class:`ConfigError` naming the variable, so the entry
point can print one line and exit non-zero. Secrets are wrapped in
:class:`Secret`, whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot import models

T = TypeVar("T")

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class Secret:
    """A string that never shows itself in a repr, a log line or an error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """Return the secret value; only to hand it to the service that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """The bot's whole configuration; see ``.env.example`` for each variable."""

    discord_token: Secret
    onemin_api_key: Secret
    onemin_api_url: str = "https://api.1min.ai"
    onemin_model: str = models.DEFAULT_MODEL
    onemin_edit_model: str = models.DEFAULT_EDIT_MODEL
    onemin_image_size: str = models.DEFAULT_IMAGE_SIZE
    # None: the model table's field; "": send no ratio at all.
    onemin_aspect_ratio_field: str | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    database_path: Path = Path("data/bot.sqlite3")
    max_concurrent_jobs: int = 4
    default_user_daily_limit: int = 20
    default_guild_daily_limit: int = 500
    default_cooldown_seconds: int = 10
    default_max_queue: int = 25
    onemin_timeout_seconds: float = 120.0
    max_image_bytes: int = 52_428_800
    # The largest image a member may give to edit (by the attachment's size).
    max_source_image_bytes: int = 20_971_520
    shutdown_grace_seconds: float = 25.0
    retention_days: int = 90
    log_level: str = "INFO"
    # (host, port) serving /healthz and /metrics; None: off.
    metrics_address: tuple[str, int] | None = None

    @property
    def discord_api_is_default(self) -> bool:
        """True when REST goes to Discord itself rather than a proxy or a test server."""
        return self.discord_api_url == DEFAULT_DISCORD_API_URL


DEFAULT_DISCORD_API_URL = "https://discord.com/api/v10"


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(name, "is required but not set")
    return value


def _optional(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T]) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(name, f"{exc} (got {raw!r})") from None


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < minimum:
            raise ValueError(f"must be {minimum} or more")
        return value

    return parse


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return raw.rstrip("/")


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


def _host_port(raw: str) -> tuple[str, int]:
    host, colon, port_text = raw.rpartition(":")
    if not colon or not host:
        raise ValueError("must be host:port, e.g. 127.0.0.1:9108")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("an IPv6 address goes in brackets, e.g. [::1]:9108")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError("the port must be a number from 0 to 65535")
    return host, int(port_text)


def _token(raw: str) -> str:
    # Tokens carry no whitespace; a stray quote or space from a copy-paste is a
    # common mistake that Discord would only report as an opaque 401.
    if any(c.isspace() for c in raw) or raw[0] in "\"'":
        raise ValueError("contains spaces or quotes")
    return raw


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from ``env``.

    Raises :class:`ConfigError` naming the first missing or malformed variable.
    """
    try:
        token = _token(_required(env, "DISCORD_TOKEN"))
    except ValueError as exc:
        raise ConfigError("DISCORD_TOKEN", str(exc)) from None
    api_key = _required(env, "ONEMIN_API_KEY")
    defaults = {f.name: f.default for f in fields(Settings)}
    values: dict[str, Any] = {
        "discord_token": Secret(token),
        "onemin_api_key": Secret(api_key),
        "onemin_api_url": _optional(env, "ONEMIN_API_URL", defaults["onemin_api_url"], _http_url),
        "discord_api_url": _optional(
            env, "DISCORD_API_URL", defaults["discord_api_url"], _http_url
        ),
        "database_path": _optional(env, "DATABASE_PATH", defaults["database_path"], Path),
        "max_concurrent_jobs": _optional(
            env, "MAX_CONCURRENT_JOBS", defaults["max_concurrent_jobs"], _int_at_least(1)
        ),
        "default_user_daily_limit": _optional(
            env, "DEFAULT_USER_DAILY_LIMIT", defaults["default_user_daily_limit"], _int_at_least(0)
        ),
        "default_guild_daily_limit": _optional(
            env,
            "DEFAULT_GUILD_DAILY_LIMIT",
            defaults["default_guild_daily_limit"],
            _int_at_least(0),
        ),
        "default_cooldown_seconds": _optional(
            env, "DEFAULT_COOLDOWN_SECONDS", defaults["default_cooldown_seconds"], _int_at_least(0)
        ),
        "default_max_queue": _optional(
            env, "DEFAULT_MAX_QUEUE", defaults["default_max_queue"], _int_at_least(1)
        ),
        "onemin_timeout_seconds": _optional(
            env, "ONEMIN_TIMEOUT_SECONDS", defaults["onemin_timeout_seconds"], _positive_float
        ),
        "max_image_bytes": _optional(
            env, "MAX_IMAGE_BYTES", defaults["max_image_bytes"], _int_at_least(1024)
        ),
        "max_source_image_bytes": _optional(
            env,
            "MAX_SOURCE_IMAGE_BYTES",
            defaults["max_source_image_bytes"],
            _int_at_least(1024),
        ),
        "shutdown_grace_seconds": _optional(
            env, "SHUTDOWN_GRACE_SECONDS", defaults["shutdown_grace_seconds"], _positive_float
        ),
        "retention_days": _optional(
            env, "RETENTION_DAYS", defaults["retention_days"], _int_at_least(1)
        ),
        "log_level": _optional(env, "LOG_LEVEL", defaults["log_level"], _log_level),
        **_model_values(env, defaults),
        "metrics_address": _optional(
            env, "METRICS_ADDRESS", defaults["metrics_address"], _host_port
        ),
    }
    return Settings(**values)


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _model_values(env: Mapping[str, str], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """ONEMIN_MODEL, ONEMIN_EDIT_MODEL, ONEMIN_IMAGE_SIZE, ONEMIN_ASPECT_RATIO_FIELD,
    checked against the model table (bot/models.py)."""
    generation = _optional(env, "ONEMIN_MODEL", defaults["onemin_model"], str)
    editing = _optional(env, "ONEMIN_EDIT_MODEL", defaults["onemin_edit_model"], str)
    for variable, model, feature in (
        ("ONEMIN_MODEL", generation, models.GENERATE),
        ("ONEMIN_EDIT_MODEL", editing, models.EDIT),
    ):
        problem = models.check_model(model, feature)
        if problem:
            raise ConfigError(variable, problem)
    size = _optional(
        env, "ONEMIN_IMAGE_SIZE", defaults["onemin_image_size"], models.normalize_image_size
    )
    problem = models.check_image_size(size, (generation, editing))
    if problem:
        raise ConfigError("ONEMIN_IMAGE_SIZE", problem)
    # Set but empty is meaningful here ("send no ratio"), unlike other variables.
    field = env.get("ONEMIN_ASPECT_RATIO_FIELD")
    if field is not None:
        field = field.strip()
        if field and (not _FIELD_NAME.fullmatch(field) or field in _RESERVED_FIELDS):
            raise ConfigError(
                "ONEMIN_ASPECT_RATIO_FIELD",
                f"must be a field name such as aspect_ratio or aspectRatio (got {field!r})",
            )
    return {
        "onemin_model": generation,
        "onemin_edit_model": editing,
        "onemin_image_size": size,
        "onemin_aspect_ratio_field": field,
    }


# promptObject fields the bot fills itself; a ratio under one of these names
# would overwrite them.
_RESERVED_FIELDS = frozenset(
    {"prompt", "imageSize", "imageUrl", "referenceImage1", "referenceImage2"}
)


_REQUIRED = ("DISCORD_TOKEN", "ONEMIN_API_KEY")


def load_settings_for(env: Mapping[str, str], uses: Callable[[str], bool]) -> Settings:
    """Settings for a command that reads only the variables ``uses`` accepts.

    The other variables are not read at all (missing or malformed, they cannot
    stop the command) and keep their defaults; a required one it does not use
    becomes an empty :class:`Secret`.
    """
    subset = {name: value for name, value in env.items() if uses(name)}
    unused = [name for name in _REQUIRED if not uses(name)]
    # Placeholders pass validation and are replaced by empty secrets below.
    subset.update(dict.fromkeys(unused, "unused"))
    settings = load_settings(subset)
    if "DISCORD_TOKEN" in unused:
        settings = replace(settings, discord_token=Secret(""))
    if "ONEMIN_API_KEY" in unused:
        settings = replace(settings, onemin_api_key=Secret(""))
    return settings


def log_level_number(settings: Settings) -> int:
    """The :mod:`logging` level for ``LOG_LEVEL``."""
    return logging.getLevelNamesMapping()[settings.log_level]
