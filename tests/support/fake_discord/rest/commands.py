"""Application commands: the global command list and its bulk overwrite."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..validate import (
    missing_access,
    validate_command_list,
)
from .body import read_body
from .common import API_PREFIX, RECORD_KEY, Routes, json_response


class CommandRoutes(Routes):
    """``GET``/``PUT /applications/{application_id}/commands``."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        commands = f"{API_PREFIX}/applications/{{application_id}}/commands"
        router.add_get(commands, self.get_commands)
        router.add_put(commands, self.put_commands)

    def _commands(self, request: web.Request) -> list[dict[str, Any]]:
        """The application's global commands (the fake serves no guild commands)."""
        self.require_bot(request)
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
        body, _ = await read_body(request, size_limit=None)
        validate_command_list(body)
        by_key = {(c["name"], c["type"]): c for c in commands}
        new = [self._store_command(c, by_key.get((c["name"], c.get("type") or 1))) for c in body]
        commands[:] = new
        self.fake.command_syncs.append(request[RECORD_KEY])
        return json_response(new)


def _clean_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean_nulls(v) for v in value]
    return value


def _without_version(command: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k != "version"}
