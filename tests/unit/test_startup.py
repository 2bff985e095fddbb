"""Start-up policy: which failures are fatal, which are waited out, and the backoff."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import aiohttp
import discord
import pytest

from bot.startup import (
    Backoff,
    FatalStartError,
    fatal_cause,
    is_network_failure,
    start_with_retries,
)


def http_error(status: int) -> discord.HTTPException:
    response = SimpleNamespace(
        status=status, reason="Reason", method="GET", url="http://discord.test/api/users/@me"
    )
    if status >= 500:
        return discord.DiscordServerError(response, "down")
    return discord.HTTPException(response, "refused")


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        aiohttp.ServerDisconnectedError(),
        TimeoutError(),
        discord.GatewayNotFound(),
        http_error(502),
        http_error(429),
    ],
)
def test_network_failures_are_waited_out(exc):
    assert is_network_failure(exc)
    assert fatal_cause(exc) is None


@pytest.mark.parametrize(
    ("exc", "start"),
    [
        (discord.LoginFailure(), "DISCORD_TOKEN: Discord rejected the token"),
        (http_error(404), "DISCORD_API_URL: Discord answered HTTP 404 to GET http://discord.test"),
        (FatalStartError("DATABASE_PATH: nope"), "DATABASE_PATH: nope"),
    ],
)
def test_what_a_restart_cannot_fix_is_fatal(exc, start):
    line = fatal_cause(exc)
    assert line is not None and line.startswith(start)
    assert "\n" not in line


def test_a_bug_is_neither():
    assert not is_network_failure(KeyError("x"))
    assert fatal_cause(KeyError("x")) is None


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap():
    backoff = Backoff(first=1.0, factor=2.0, cap=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delays = {backoff.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, delays)
        assert len(delays) > 1, "jittered"


QUICK = Backoff(first=0.01, factor=2.0, cap=0.02)


async def test_network_failures_are_retried_with_one_line_each(caplog):
    outcomes: list[BaseException | int] = [
        ConnectionRefusedError(111, "Connection refused"),
        http_error(503),
        0,
    ]

    async def attempt() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    caplog.set_level(logging.INFO, "bot.startup")
    code = await start_with_retries(
        attempt, stop=asyncio.Event(), target="http://discord.test", backoff=QUICK
    )
    assert code == 0 and outcomes == []
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("Cannot reach Discord at http://discord.test (attempt 1):")
    assert "ConnectionRefusedError" in lines[0]
    assert lines[1].startswith("Cannot reach Discord at http://discord.test (attempt 2):")
    assert "DiscordServerError" in lines[1]
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


async def test_a_stop_during_the_wait_ends_it_with_exit_0():
    stop = asyncio.Event()
    calls = 0

    async def attempt() -> int:
        nonlocal calls
        calls += 1
        asyncio.get_running_loop().call_soon(stop.set)
        raise ConnectionRefusedError(111, "Connection refused")

    slow = Backoff(first=600.0, cap=600.0)
    code = await asyncio.wait_for(
        start_with_retries(attempt, stop=stop, target="x", backoff=slow), 5
    )
    assert (code, calls) == (0, 1)


async def test_fatal_causes_raise_and_bugs_propagate():
    async def rejected() -> int:
        raise discord.LoginFailure("Improper token has been passed.")

    with pytest.raises(FatalStartError) as info:
        await start_with_retries(rejected, stop=asyncio.Event(), target="x", backoff=QUICK)
    assert info.value.line.startswith("DISCORD_TOKEN:")

    async def buggy() -> int:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await start_with_retries(buggy, stop=asyncio.Event(), target="x", backoff=QUICK)
