"""Guild members, as the bot looks them up."""

from __future__ import annotations

from aiohttp import web

from ..validate import (
    api_error,
)
from .common import API_PREFIX, Routes, json_response


class GuildRoutes(Routes):
    """``/guilds/{guild_id}/members/{user_id}``."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the route."""
        router.add_get(f"{API_PREFIX}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member)

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
