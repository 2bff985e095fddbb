"""Health and metrics: ``/healthz`` and ``/metrics`` on ``METRICS_ADDRESS``.

Spec, "Operating it": ``/healthz`` answers 200 while the gateway is connected
and the database answers, 503 otherwise; ``/metrics`` is Prometheus' text
format, made by the official client library. Each bot has a registry of its
own (not the library's global one), so several bots can live in one process,
as they do in the tests.

The server is the bot's own aiohttp on the bot's own event loop: no thread,
no second HTTP stack. It has no authentication; bind it to loopback (or a
private network) only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import aiohttp
import discord
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.aiohttp import make_aiohttp_handler

from bot.onemin import OneMinErrorKind
from bot.startup import FatalStartError

log = logging.getLogger(__name__)

# Kinds of job and their outcomes, shown at 0 before the first one happens.
JOB_KINDS = ("generate", "edit")
JOB_OUTCOMES = ("succeeded", "failed")
# A generation takes 5-30 s; the 1min.ai timeout is 120 s by default.
API_BUCKETS = (1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0)
# Discord allows 3 s for the first answer to an interaction.
ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
# How long the database may take to answer a health check.
DATABASE_PING_TIMEOUT = 2.0

# discord.py answers an interaction with POST .../interactions/{id}/{token}/callback
# (discord-api-docs, "Create Interaction Response"); the id is a snowflake, so
# it carries the interaction's creation time.
_CALLBACK_PATH = re.compile(r"/interactions/(\d+)/[^/]+/callback$")


class Metrics:
    """The bot's counters, gauges and histograms, with a small API to feed them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._jobs = Counter(
            "imagine_jobs",
            "Jobs finished, by kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )
        self._api_errors = Counter(
            "imagine_onemin_errors",
            "1min.ai calls that failed, by error kind (see the README's error table).",
            ["kind"],
            registry=registry,
        )
        self._api_seconds = Histogram(
            "imagine_onemin_call_seconds",
            "Duration of 1min.ai image calls, retries included.",
            buckets=API_BUCKETS,
            registry=registry,
        )
        self._ack_seconds = Histogram(
            "imagine_ack_seconds",
            "From an interaction's creation (its snowflake time) to Discord accepting"
            " the bot's first answer.",
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self._queue_depth = Gauge(
            "imagine_queue_depth", "Jobs waiting, all servers together.", registry=registry
        )
        self._gateway_latency = Gauge(
            "imagine_gateway_latency_seconds",
            "Discord gateway heartbeat latency (NaN until connected).",
            registry=registry,
        )
        for kind in JOB_KINDS:
            for outcome in JOB_OUTCOMES:
                self._jobs.labels(kind, outcome)
        for error_kind in get_args(OneMinErrorKind):
            self._api_errors.labels(error_kind)
        self._queue_depth.set_function(lambda: 0.0)
        self._gateway_latency.set_function(lambda: float("nan"))

    def job_finished(self, kind: str, outcome: str) -> None:
        """Count a job that ended: ``kind`` e.g. ``generate``, ``outcome`` succeeded/failed."""
        self._jobs.labels(kind, outcome).inc()

    def api_call(self, seconds: float) -> None:
        """Record how long one 1min.ai call took (successful or not)."""
        self._api_seconds.observe(seconds)

    def api_error(self, kind: str) -> None:
        """Count a failed 1min.ai call by its error kind (``timeout``, ``credits``, ...)."""
        self._api_errors.labels(kind).inc()

    def acknowledged(self, seconds: float) -> None:
        """Record how long a member waited for the first answer to an interaction."""
        # Clocks of Discord and this host differ a little; never below zero.
        self._ack_seconds.observe(max(0.0, seconds))

    def watch(
        self, *, queue_depth: Callable[[], float], gateway_latency: Callable[[], float]
    ) -> None:
        """Read the queue depth and gateway latency from these callbacks at each scrape."""
        self._queue_depth.set_function(queue_depth)
        self._gateway_latency.set_function(gateway_latency)

    def interaction_trace(self) -> aiohttp.TraceConfig:
        """A trace for discord.py's HTTP session that times every interaction's first answer.

        Every first answer, whichever command sends it, is the one callback POST
        of that interaction; timing it there needs no hook in any command.
        """
        trace = aiohttp.TraceConfig()

        async def on_request_end(
            session: aiohttp.ClientSession,
            context: Any,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            match = _CALLBACK_PATH.search(params.url.path)
            if match and params.method == "POST" and 200 <= params.response.status < 300:
                created = discord.utils.snowflake_time(int(match.group(1))).timestamp()
                self.acknowledged(time.time() - created)

        trace.on_request_end.append(on_request_end)
        return trace


def gateway_connected(client: discord.AutoShardedClient) -> bool:
    """True once the bot is ready and while every shard's gateway connection is open."""
    if not client.is_ready() or client.is_closed():
        return False
    return all(not shard.is_closed() for shard in client.shards.values())


class MetricsServer:
    """``/healthz`` and ``/metrics`` on one address, served by aiohttp on this loop."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        gateway_up: Callable[[], bool],
        database_ping: Callable[[], Awaitable[object]],
    ) -> None:
        self._gateway_up = gateway_up
        self._database_ping = database_ping
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
        self._runner = web.AppRunner(app, access_log=None)
        self.address: tuple[str, int] | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free one, see :attr:`address`).

        A port that cannot be bound is a configuration error.
        """
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise FatalStartError(
                f"METRICS_ADDRESS: cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        bound = self._runner.addresses[0]
        self.address = (str(bound[0]), int(bound[1]))
        log.info("Serving /healthz and /metrics on %s:%d", *self.address)

    async def stop(self) -> None:
        """Stop listening."""
        await self._runner.cleanup()

    async def health(self) -> tuple[bool, str]:
        """Whether the bot is healthy, and one line per check."""
        gateway = self._gateway_up()
        try:
            await asyncio.wait_for(self._database_ping(), DATABASE_PING_TIMEOUT)
            database = "ok"
        except Exception as exc:
            database = f"failing ({type(exc).__name__})"
        healthy = gateway and database == "ok"
        text = f"gateway: {'connected' if gateway else 'not connected'}\ndatabase: {database}\n"
        return healthy, text

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, text = await self.health()
        return web.Response(status=200 if healthy else 503, text=text)


async def start_metrics_server(
    metrics: Metrics,
    address: tuple[str, int] | None,
    *,
    gateway_up: Callable[[], bool],
    database_ping: Callable[[], Awaitable[object]],
) -> MetricsServer | None:
    """Serve ``/healthz`` and ``/metrics`` on ``address``; None (and nothing served) when off."""
    if address is None:
        return None
    server = MetricsServer(metrics, gateway_up=gateway_up, database_ping=database_ping)
    await server.start(*address)
    return server
