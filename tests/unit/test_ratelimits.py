"""The back-off of deferrable edits while Discord answers 429s."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.ratelimits import Backoff, RateLimitWatch


def test_each_new_429_doubles_the_factor_up_to_the_ceiling():
    watch = RateLimitWatch()
    backoff = Backoff(watch, ceiling=4.0)
    assert backoff.factor() == 1.0
    watch.saw_429()
    watch.saw_429()  # two since the last look count once
    assert backoff.factor() == 2.0
    assert backoff.factor() == 2.0  # nothing new
    for _ in range(3):
        watch.saw_429()
        backoff.factor()
    assert backoff.factor() == 4.0


def test_the_factor_halves_back_once_discord_is_quiet():
    now = [1000.0]
    watch = RateLimitWatch(clock=lambda: now[0])
    backoff = Backoff(watch, quiet=10.0, clock=lambda: now[0])
    watch.saw_429()
    watch.saw_429()
    assert backoff.factor() == 2.0
    watch.saw_429()
    assert backoff.factor() == 4.0
    now[0] += 5
    assert backoff.factor() == 4.0
    now[0] += 6
    assert backoff.factor() == 2.0
    now[0] += 11
    assert backoff.factor() == 1.0


def test_without_a_watch_there_is_no_back_off():
    assert Backoff(None).factor() == 1.0


@pytest.fixture
async def limited_server():
    async def handler(request: web.Request) -> web.Response:
        status = 429 if request.path == "/limited" else 200
        return web.json_response({}, status=status, headers={"X-RateLimit-Scope": "shared"})

    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_the_trace_counts_the_429s_of_a_session(limited_server):
    watch = RateLimitWatch()
    async with aiohttp.ClientSession(trace_configs=[watch.trace_config]) as session:
        for name in ("fine", "limited", "limited", "fine"):
            async with session.get(f"{limited_server}/{name}"):
                pass
    assert watch.count == 2
    assert watch.last_at is not None
