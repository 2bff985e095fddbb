"""Discord's REST rate limits, as the fake enforces them.

Where the rules come from:

- discord-api-docs, "Rate Limits" (documented): per-route buckets counted per
  top-level resource (``channel_id``, ``guild_id``, ``webhook_id + webhook_token``),
  the ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`` headers on answers,
  a 429 with ``{"message", "retry_after", "global"}`` plus ``Retry-After`` and
  ``X-RateLimit-Scope`` (``user``, ``global`` or ``shared``; ``X-RateLimit-Global``
  on a global one), the global limit of **50 requests a second** that interaction
  endpoints are exempt from, and the invalid-request limit (**10,000 answers of
  401, 403 or 429 in 10 minutes** ban the IP; shared-scope 429s do not count).
- discord-api-docs, "Receiving and Responding": interaction webhooks "share the same
  rate limit properties as normal webhooks" and the interaction endpoints are not
  bound to the global limit.
- discord-api-spec (``specs/openapi.json``): every route may answer 429 with the
  ``ClientRatelimitedResponse``: the ``X-RateLimit-*`` headers and a
  ``RatelimitedResponse`` body, an ``Error`` (``code`` and ``message``, both
  required) with ``retry_after`` and ``global``.
- discord.py's source (``discord/http.py``, ``discord/webhook/async_.py``): a 429
  without a ``Via`` header (or with a non-JSON body) is taken for a Cloudflare ban
  and raised instead of retried. Discord's answers pass Google's load balancer,
  so every answer here carries ``Via: 1.1 google``.

The per-route *numbers* are not documented ("should not be hard coded"); the
defaults below are what developers report from the headers:

- channel message create: 5 per 5 s per channel (reported widely);
- channel message edit 5 per 5 s, delete 5 per 1 s per channel (reported);
- a webhook, so an interaction token: 5 per 2 s (discord-api-docs issue #367,
  a Discord engineer: "it should be reporting 5/2");
- a channel's webhook messages together: 30 per 60 s, a limit on the channel
  that only shows when hit (#367); off by default (``channel_webhook = None``)
  because it would make every busy test wait a minute. A test turns it on,
  usually scaled down, to put the bot under shared 429s it cannot foresee;
- any other route: 10 per 1 s (a stand-in, not a reported number).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .models import RecordedRequest

GLOBAL_LIMIT = 50
"""Requests a second a bot may make outside the interaction endpoints (documented)."""
INVALID_LIMIT = 10_000
INVALID_WINDOW = 600.0
"""401/403/429 answers in 10 minutes that get an IP banned (documented)."""

VIA = "1.1 google"
"""The ``Via`` header of Discord's answers; discord.py retries a 429 only with one."""


@dataclass
class Rule:
    """A per-route limit: ``limit`` requests per ``per`` seconds, per top-level resource."""

    limit: int
    per: float
    bucket: str
    """The ``X-RateLimit-Bucket`` value (opaque, like Discord's hashes)."""


def _bucket_hash(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:16]  # noqa: S324 - an id, not security


def rule(limit: int, per: float, name: str) -> Rule:
    """A rule whose bucket hash is derived from ``name``."""
    return Rule(limit=limit, per=per, bucket=_bucket_hash(name))


@dataclass
class Window:
    """One fixed window of a bucket: it opens with its first request."""

    reset_at: float
    count: int = 0


@dataclass
class Decision:
    """What the limiter says about one request: the headers to add, and a 429 if limited."""

    headers: dict[str, str] = field(default_factory=dict)
    limited: dict[str, Any] | None = None
    """The 429 body when the request is refused."""
    scope: str | None = None


class RateLimits:
    """Counts requests per bucket and per second, and decides 429s.

    Attributes a test may change before acting: ``enabled``, ``global_limit``,
    ``rules`` (by name), ``default`` and ``channel_webhook`` (None = off).
    """

    def __init__(self) -> None:
        self.enabled = True
        self.via: str | None = VIA
        """The ``Via`` header of every answer; None leaves it out (a Cloudflare answer)."""
        self.global_limit = GLOBAL_LIMIT
        self.rules: dict[str, Rule] = {
            "POST /channels/{channel_id}/messages": rule(5, 5.0, "channel-message-create"),
            "PATCH /channels/{channel_id}/messages/{message_id}": rule(
                5, 5.0, "channel-message-edit"
            ),
            "DELETE /channels/{channel_id}/messages/{message_id}": rule(
                5, 1.0, "channel-message-delete"
            ),
            "interaction-webhook": rule(5, 2.0, "interaction-webhook"),
            # One callback per interaction counts; a stand-in so its answers carry headers.
            "interaction-callback": rule(50, 1.0, "interaction-callback"),
        }
        self.default_limit = (10, 1.0)
        self.channel_webhook: tuple[int, float] | None = None
        """(limit, seconds) of the hidden per-channel limit on webhook messages, or None."""
        self._windows: dict[tuple[str, str], Window] = {}
        self._global: Window | None = None
        self._channel_windows: dict[int, Window] = {}
        self.limited: list[tuple[RecordedRequest, str | None]] = []
        """Every request answered 429, with its scope."""
        self.invalid_count = 0
        """Answers Discord counts against the invalid-request limit (401, 403, 429)."""
        self._recent_invalid: deque[float] = deque()

    def reset(self) -> None:
        """Forget every open window (as if a minute had passed); counts stay."""
        self._windows.clear()
        self._channel_windows.clear()
        self._global = None

    # -- reading -------------------------------------------------------------------

    def count_429(self, scope: str | None = None) -> int:
        """429 answers so far (of one scope when given)."""
        return sum(1 for _, s in self.limited if scope is None or s == scope)

    # -- deciding -----------------------------------------------------------------

    def rule_for(self, route: str) -> tuple[str, Rule]:
        """(rule name, rule) of a route such as ``"POST /channels/{channel_id}/messages"``."""
        template = route.partition(" ")[2]
        if template.startswith("/webhooks/{application_id}/{token}"):
            name = "interaction-webhook"
        elif template.startswith("/interactions/"):
            name = "interaction-callback"
        else:
            name = route
        found = self.rules.get(name)
        if found is None:
            limit, per = self.default_limit
            found = self.rules[name] = rule(limit, per, name)
        return name, found

    def check(
        self,
        route: str,
        params: dict[str, str],
        now: float,
        *,
        channel_id: int | None = None,
    ) -> Decision:
        """Count one request at loop time ``now``; say whether it is refused.

        ``params`` are the route's match info; the top-level resources among them
        key the bucket. ``channel_id`` is where an interaction webhook writes (for
        the hidden per-channel limit).
        """
        if not self.enabled:
            return Decision(headers={"Via": VIA})
        name, found = self.rule_for(route)
        method = route.partition(" ")[0]
        interaction = name in ("interaction-webhook", "interaction-callback")
        if not interaction:
            refused = self._check_global(now)
            if refused is not None:
                return refused
        major = "+".join(
            params[k]
            for k in ("channel_id", "guild_id", "application_id", "interaction_id", "token")
            if k in params
        )
        key = (found.bucket, major)
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = self._windows[key] = Window(reset_at=now + found.per)
        headers = {"Via": VIA}
        if window.count >= found.limit:
            decision = self._refuse(found, window, now, scope="user", headers=headers)
            return decision
        window.count += 1
        headers.update(self._headers(found, window, now))
        if name == "interaction-webhook" and channel_id is not None and method != "GET":
            refused = self._check_channel(channel_id, now, headers)
            if refused is not None:
                return refused
        return Decision(headers=headers)

    def _check_global(self, now: float) -> Decision | None:
        window = self._global
        if window is None or now >= window.reset_at:
            window = self._global = Window(reset_at=now + 1.0)
        if window.count >= self.global_limit:
            retry = max(window.reset_at - now, 0.001)
            return Decision(
                headers={
                    "Via": VIA,
                    "Retry-After": str(math.ceil(retry)),
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                },
                limited={
                    "message": "You are being rate limited.",
                    "code": 0,
                    "retry_after": round(retry, 3),
                    "global": True,
                },
                scope="global",
            )
        window.count += 1
        return None

    def _check_channel(
        self, channel_id: int, now: float, headers: dict[str, str]
    ) -> Decision | None:
        if self.channel_webhook is None:
            return None
        limit, per = self.channel_webhook
        window = self._channel_windows.get(channel_id)
        if window is None or now >= window.reset_at:
            window = self._channel_windows[channel_id] = Window(reset_at=now + per)
        if window.count >= limit:
            # A resource limit: the route headers still show requests left.
            retry = max(window.reset_at - now, 0.001)
            headers = dict(headers, **{"Retry-After": str(math.ceil(retry))})
            headers["X-RateLimit-Scope"] = "shared"
            return Decision(
                headers=headers,
                limited={
                    "message": "The resource is being rate limited.",
                    "code": 0,
                    "retry_after": round(retry, 3),
                    "global": False,
                },
                scope="shared",
            )
        window.count += 1
        return None

    def _refuse(
        self, found: Rule, window: Window, now: float, *, scope: str, headers: dict[str, str]
    ) -> Decision:
        retry = max(window.reset_at - now, 0.001)
        headers.update(self._headers(found, window, now))
        headers["Retry-After"] = str(math.ceil(retry))
        headers["X-RateLimit-Scope"] = scope
        return Decision(
            headers=headers,
            limited={
                "message": "You are being rate limited.",
                "code": 0,
                "retry_after": round(retry, 3),
                "global": False,
            },
            scope=scope,
        )

    @staticmethod
    def _headers(found: Rule, window: Window, now: float) -> dict[str, str]:
        reset_after = max(window.reset_at - now, 0.0)
        return {
            "X-RateLimit-Limit": str(found.limit),
            "X-RateLimit-Remaining": str(max(found.limit - window.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": found.bucket,
        }

    # -- after the answer -----------------------------------------------------------

    def answered(self, rec: RecordedRequest, status: int, scope: str | None) -> None:
        """Count an answer Discord would count against the invalid-request limit."""
        if status == 429:
            self.limited.append((rec, scope))
        if status in (401, 403) or (status == 429 and scope != "shared"):
            self.invalid_count += 1
            now = time.time()
            self._recent_invalid.append(now)
            while self._recent_invalid[0] < now - INVALID_WINDOW:
                self._recent_invalid.popleft()

    @property
    def banned(self) -> bool:
        """Whether the invalid answers of the last 10 minutes reached Discord's ban."""
        return len(self._recent_invalid) >= INVALID_LIMIT


def apply_headers(response: web.StreamResponse, headers: dict[str, str], via: str | None) -> None:
    """Add the rate-limit headers to an answer (not yet sent)."""
    for key, value in headers.items():
        if key == "Via":
            if via is not None:
                response.headers[key] = via
        else:
            response.headers[key] = value
