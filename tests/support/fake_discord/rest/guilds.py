"""Guilds and their members, as the bot (and ``doctor``) looks them up."""

from __future__ import annotations

from aiohttp import web

from ..validate import (
    api_error,
)
from .common import API_PREFIX, Routes, json_response


class GuildRoutes(Routes):
    """``/guilds/{guild_id}`` and ``/guilds/{guild_id}/members/{user_id}``."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        router.add_get(f"{API_PREFIX}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member)
        router.add_get(f"{API_PREFIX}/guilds/{{guild_id}}", self.get_guild)

    async def get_guild(self, request: web.Request) -> web.Response:
        """GET /guilds/{guild_id}: the guild with its roles (``doctor`` computes permissions)."""
        self.require_bot(request)
        raw = request.match_info["guild_id"]
        guild = self.fake.guilds.get(int(raw)) if raw.isdigit() else None
        if guild is None:
            raise api_error(404, 10004, "Unknown Guild")
        if self.fake.bot_user.id not in guild.members:
            raise api_error(403, 50001, "Missing Access")
        return json_response(guild.to_dict())

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /guilds/{guild_id}/members/{user_id}."""
        self.require_bot(request)
        raw = request.match_info["guild_id"]
        guild = self.fake.guilds.get(int(raw)) if raw.isdigit() else None
        if guild is None:
            raise api_error(404, 10004, "Unknown Guild")
        raw = request.match_info["user_id"]
        member = guild.members.get(int(raw)) if raw.isdigit() else None
        if member is None:
            raise api_error(404, 10007, "Unknown Member")
        return json_response(member.to_dict())
