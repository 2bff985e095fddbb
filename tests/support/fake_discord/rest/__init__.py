"""HTTP (REST) side of the fake Discord: one module of routes per kind of resource.

:class:`RestApi` assembles them and wraps every handler in :meth:`RestApi.middleware`,
which records the request and renders :class:`~..validate.ApiError` as Discord's JSON
error bodies. A route no module registers is a protocol error (the client used
something the fake, and so the tests, cannot vouch for).
"""

from __future__ import annotations

import asyncio
import json
import traceback
from typing import TYPE_CHECKING

from aiohttp import web

from ..models import RecordedRequest
from ..ratelimits import Decision, apply_headers
from ..validate import ApiError, api_error
from .cdn import CdnRoutes
from .channels import ChannelRoutes
from .commands import CommandRoutes
from .common import API_PREFIX, RECORD_KEY, Handler, Routes, json_response
from .guilds import GuildRoutes
from .login import LoginRoutes
from .messages import MessageBuilder
from .webhooks import WebhookRoutes

if TYPE_CHECKING:
    from ..server import FakeDiscord

__all__ = ["API_PREFIX", "MessageBuilder", "RestApi"]


class RestApi:
    """The fake's HTTP API."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.messages = MessageBuilder(fake)
        self._ban_reported = False
        self.groups: list[Routes] = [
            LoginRoutes(fake),
            CommandRoutes(fake),
            WebhookRoutes(fake, self.messages),
            ChannelRoutes(fake, self.messages),
            GuildRoutes(fake),
            CdnRoutes(fake),
        ]

    def add_routes(self, app: web.Application) -> None:
        """Register every route on ``app``."""
        for group in self.groups:
            group.add_routes(app.router)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the request, apply the rate limits, render :class:`ApiError` as Discord's
        JSON error bodies; with ``fake.latency``, delay the request and its answer."""
        fake = self.fake
        loop = asyncio.get_running_loop()
        path = request.path
        if path.startswith("/gateway"):
            return await handler(request)
        if fake.latency:
            await asyncio.sleep(fake.latency)  # the request's way to Discord
        rel = path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX + "/") else path
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else path
        route = f"{request.method} {template.removeprefix(API_PREFIX)}"
        rec = RecordedRequest(
            method=request.method,
            path=rel,
            route=route,
            query=dict(request.query),
            headers=dict(request.headers),
            json=None,
            files=[],
            time=loop.time(),
        )
        request[RECORD_KEY] = rec
        fake.requests.append(rec)
        for prefix, gate in fake.holds:
            if rel.startswith(prefix):
                await gate.wait()
        decision: Decision | None = None
        if resource is not None and path.startswith(API_PREFIX + "/"):
            decision = fake.ratelimits.check(
                route,
                dict(request.match_info),
                rec.time,
                channel_id=self._webhook_channel(request),
            )
        response: web.StreamResponse
        try:
            if resource is None:
                fake.protocol_errors.append(f"http: unsupported route {request.method} {path}")
                raise api_error(404, 0, "404: Not Found")
            if decision is not None and decision.limited is not None:
                raise ApiError(429, decision.limited)
            response = await handler(request)
        except ApiError as exc:
            await request.release()
            rec.response = exc.body
            response = json_response(exc.body, exc.status)
        except ConnectionResetError:
            # The client gave up on the request (discord.py cancelled it) while its
            # body was still on the way: nothing was done, nobody reads an answer.
            rec.response = {"message": "the client closed the connection", "code": 0}
            response = json_response(rec.response, 400)
        except Exception as exc:
            # A bug in the fake. Answer 422 (not 5xx: discord.py retries those for ~25 s)
            # and make the test fail through protocol_errors.
            fake.protocol_errors.append(
                f"http: fake discord crashed on {request.method} {path}: "
                + "".join(traceback.format_exception(exc))
            )
            rec.response = {"message": f"fake discord internal error: {exc!r}", "code": 0}
            response = json_response(rec.response, 422)
        rec.status = response.status
        if decision is not None:
            apply_headers(response, decision.headers, fake.ratelimits.via)
            fake.ratelimits.answered(rec, response.status, decision.scope)
            if fake.ratelimits.banned and not self._ban_reported:
                self._ban_reported = True
                fake.protocol_errors.append(
                    "http: 10,000 answers of 401/403/429 in 10 minutes: Discord would ban this IP"
                )
        if rec.response is None and isinstance(response, web.Response) and response.body:
            try:
                rec.response = json.loads(response.body)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                rec.response = None
        rec.done = True
        fake._notify()
        if fake.latency:
            await asyncio.sleep(fake.latency)  # the answer's way back
        return response

    def _webhook_channel(self, request: web.Request) -> int | None:
        """The channel an interaction webhook request writes to (for its channel limit)."""
        token = request.match_info.get("token")
        if token is None or "application_id" not in request.match_info:
            return None
        interaction = self.fake._interactions_by_token.get(token)
        return interaction.channel.id if interaction is not None else None
