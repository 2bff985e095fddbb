"""The fake CDN: the bytes of stored attachments."""

from __future__ import annotations

from aiohttp import web

from ..validate import (
    api_error,
)
from .common import Routes


class CdnRoutes(Routes):
    """``/attachments/{channel_id}/{attachment_id}/{filename}`` (no token: like Discord's CDN)."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the route."""
        router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment)

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
