"""What the route modules share: the URL prefix, JSON answers, the request record."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..models import RecordedRequest
from ..validate import unauthorized

if TYPE_CHECKING:
    from ..server import FakeDiscord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v10"
RECORD_KEY = web.RequestKey("record", RecordedRequest)


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON response with exactly ``Content-Type: application/json`` (what discord.py checks)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def truthy(value: str | None) -> bool:
    """A query flag as discord.py and Discord spell "true"."""
    return value in ("True", "true", "1")


class Routes:
    """The routes of one kind of resource, served from ``fake``'s state.

    Handlers raise :class:`~..validate.ApiError`; the middleware renders it.
    """

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register this group's routes."""
        raise NotImplementedError

    def require_bot(self, request: web.Request) -> None:
        """401 unless the request carries the bot's token."""
        if request.headers.get("Authorization") != f"Bot {self.fake.token}":
            raise unauthorized()
