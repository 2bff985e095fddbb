"""What discord.py asks while logging in: the bot user, the application, the gateway."""

from __future__ import annotations

from aiohttp import web

from .common import API_PREFIX, Routes, json_response


class LoginRoutes(Routes):
    """``/users/@me``, ``/oauth2/applications/@me`` and ``/gateway/bot``."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        router.add_get(f"{API_PREFIX}/users/@me", self.get_me)
        router.add_get(f"{API_PREFIX}/oauth2/applications/@me", self.get_application)
        router.add_get(f"{API_PREFIX}/gateway/bot", self.get_gateway_bot)

    async def get_me(self, request: web.Request) -> web.Response:
        """GET /users/@me."""
        self.require_bot(request)
        return json_response(self.fake._bot_user_payload())

    async def get_application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me."""
        self.require_bot(request)
        return json_response(self.fake._application_payload())

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot."""
        self.require_bot(request)
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
