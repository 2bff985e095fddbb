"""/healthz and /metrics, scraped from the real bot while it serves /imagine."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.startup import FatalStartError
from tests.support.fake_onemin import Scripted

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def has_image(message) -> bool:
    return bool(message.attachments)


async def get(session, url: str) -> tuple[int, str, str]:
    async with session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(session, base: str) -> Samples:
    status, content_type, text = await get(session, f"{base}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    return parse(text)


async def start(harness, discord_server, **env: str):
    guild = discord_server.add_guild(name="Metrics")
    alice = discord_server.add_member(guild, "alice")
    bot = await harness.start(METRICS_ADDRESS="127.0.0.1:0", **env)
    assert bot.metrics_server is not None and bot.metrics_server.address is not None
    host, port = bot.metrics_server.address
    assert host == "127.0.0.1", "bound to the address given"
    return bot, guild, alice, f"http://{host}:{port}"


async def wait_for_samples(session, base, predicate, timeout: float = 10.0) -> Samples:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        samples = await scrape(session, base)
        if predicate(samples):
            return samples
        if loop.time() > deadline:
            raise AssertionError(f"metrics never matched: {samples}")
        await asyncio.sleep(0.05)


async def test_health_and_counters_during_and_after_jobs(discord_server, onemin, harness, session):
    _bot, guild, alice, base = await start(harness, discord_server, MAX_CONCURRENT_JOBS="1")
    status, _, text = await get(session, f"{base}/healthz")
    assert status == 200
    assert text.splitlines() == ["gateway: connected", "database: ok"]

    before = await scrape(session, base)
    assert value(before, "imagine_jobs_total", kind="generate", outcome="succeeded") == 0
    assert value(before, "imagine_onemin_errors_total", kind="timeout") == 0
    assert value(before, "imagine_queue_depth") == 0

    onemin.latency = 0.5
    interactions = []
    for prompt in ("one", "two"):
        interaction = await discord_server.invoke_command(
            guild, guild.text_channel, alice, "imagine", {"prompt": prompt}
        )
        await interaction.wait_for_response()
        interactions.append(interaction)
    await discord_server.wait_until(lambda: onemin.in_flight or None, 5, "the first API call")

    # During the first job: the second waits (one worker), both were acknowledged
    # (the bot counts an answer when Discord's reply reaches it: with latency,
    # a moment after the local Discord has it).
    during = await wait_for_samples(
        session, base, lambda s: value(s, "imagine_ack_seconds_count") == 2
    )
    assert value(during, "imagine_queue_depth") == 1
    assert value(during, "imagine_jobs_total", kind="generate", outcome="succeeded") == 0

    for interaction in interactions:
        await interaction.wait_for_original(has_image, timeout=15)
    after = await wait_for_samples(
        session,
        base,
        lambda s: value(s, "imagine_jobs_total", kind="generate", outcome="succeeded") == 2,
    )
    assert value(after, "imagine_jobs_total", kind="generate", outcome="failed") == 0
    assert value(after, "imagine_queue_depth") == 0
    assert value(after, "imagine_onemin_call_seconds_count") == 2
    # Each call slept 0.5 s in the fake: the histogram holds the calls' real duration.
    assert value(after, "imagine_onemin_call_seconds_sum") >= 1.0
    assert value(after, "imagine_ack_seconds_count") == 2
    assert value(after, "imagine_ack_seconds_bucket", le="+Inf") == 2
    latency = value(after, "imagine_gateway_latency_seconds")
    assert math.isfinite(latency) and latency >= 0


async def test_api_errors_are_counted_by_kind(discord_server, onemin, harness, session):
    _bot, guild, alice, base = await start(harness, discord_server)
    onemin.script(Scripted.unauthorized())
    interaction = await discord_server.invoke_command(
        guild, guild.text_channel, alice, "imagine", {"prompt": "refused key"}
    )
    await interaction.wait_for_original(lambda m: bool(m.embeds), timeout=10)
    samples = await wait_for_samples(
        session,
        base,
        lambda s: value(s, "imagine_jobs_total", kind="generate", outcome="failed") == 1,
    )
    assert value(samples, "imagine_onemin_errors_total", kind="auth") == 1
    assert value(samples, "imagine_onemin_errors_total", kind="unavailable") == 0
    assert value(samples, "imagine_jobs_total", kind="generate", outcome="succeeded") == 0


async def healthcheck(address: str, cwd: Path) -> tuple[int, str]:
    """Docker's HEALTHCHECK command, `python -m bot.healthcheck`, run as the image runs it."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(Path(__file__).parents[2])}
    if address:
        env["METRICS_ADDRESS"] = address
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.healthcheck",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_healthz_is_503_when_the_database_does_not_answer(
    discord_server, onemin, harness, session, tmp_path
):
    bot, _guild, _alice, base = await start(harness, discord_server)
    assert bot.metrics_server is not None and bot.metrics_server.address is not None
    address = "{}:{}".format(*bot.metrics_server.address)
    code, out = await healthcheck(address, tmp_path)
    assert (code, out.splitlines()) == (0, ["gateway: connected", "database: ok"])

    await bot.db.close()
    status, _, text = await get(session, f"{base}/healthz")
    assert status == 503
    assert "gateway: connected" in text
    assert "database: failing" in text
    code, out = await healthcheck(address, tmp_path)
    assert code == 1
    assert out.startswith("unhealthy (HTTP 503)")


async def test_the_healthcheck_fails_without_a_server(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out = await healthcheck(f"127.0.0.1:{port}", tmp_path)
    assert code == 1 and out.startswith("no answer from http://127.0.0.1:")
    code, out = await healthcheck("", tmp_path)
    assert code == 1 and "METRICS_ADDRESS is not set" in out
    # Like the bot, it reads .env in its folder.
    (tmp_path / ".env").write_text(f"METRICS_ADDRESS=127.0.0.1:{port}\n")
    code, out = await healthcheck("", tmp_path)
    assert code == 1 and out.startswith(f"no answer from http://127.0.0.1:{port}/healthz")


async def test_metrics_are_off_unless_configured(discord_server, onemin, harness):
    discord_server.add_guild(name="Quiet")
    bot = await harness.start()
    assert bot.metrics_server is None


async def test_an_address_in_use_stops_the_start_with_one_line(discord_server, onemin, harness):
    discord_server.add_guild(name="Busy")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(FatalStartError) as info:
            await harness.start(METRICS_ADDRESS=f"127.0.0.1:{port}")
    harness.task = None  # it ended with the error above; the bot itself is closed by stop()
    assert info.value.line.startswith(f"METRICS_ADDRESS: cannot listen on 127.0.0.1:{port}:")
