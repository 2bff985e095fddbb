"""Makespan benchmark: N jobs through the real bot, against the ideal ceil(N/C) x L.

The real bot runs against the local Discord and 1min.ai fakes, all on 127.0.0.1.
Every API call takes ``--latency`` seconds (L); the bot has ``--workers`` API slots
(C, ``MAX_CONCURRENT_JOBS``). The N requests come from N members spread over up to
40 servers, with limits high enough that none is refused, dispatched at once. The
makespan runs from the first /imagine dispatched to the last image delivered; the
ideal is what C perfectly busy API slots need for N calls of L seconds each.

By default the bot runs in this process (``bot.app.ImagineBot``, started the way the
end-to-end tests start it, with the production queue-position interval of 2 s
rather than the tests' 0.05 s), so the fakes share its event loop. ``--child`` runs
it as ``python -m bot`` in a child process instead, the fakes alone in this one.

The fake API serves one pre-encoded 1024x1024 WebP (about 120 kB) for every call,
so the fake does not spend CPU drawing images.

    .venv/bin/python -m bench.makespan [--jobs 200] [--workers 4] [--latency 0.5] [--child]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    NO_LIMITS_ENV,
    BotProcess,
    LogCounter,
    Requester,
    fakes,
    fire,
    imagine_env,
    populate,
    wait_acked,
    wait_delivered,
    write_json,
)
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_onemin import SIZES, FakeOneMin, Scripted, make_image
from tests.support.harness import BotHarness

TARGET_RATIO = 1.05


async def sample_in_flight(api: FakeOneMin, samples: list[int], stop: asyncio.Event) -> None:
    """Record how many API calls are in flight, every 5 ms, until ``stop`` is set."""
    while not stop.is_set():
        samples.append(api.in_flight)
        await asyncio.sleep(0.005)


def steady_overhead(starts: list[float], workers: int, latency: float) -> float | None:
    """Mean seconds an API slot stays unused between two calls.

    With C slots always busy, call k+C starts the moment call k ends, so
    ``start[k+C] - start[k] - L`` is the time the slot sat idle in between.
    """
    if len(starts) <= workers:
        return None
    ordered = sorted(starts)
    gaps = [ordered[k + workers] - ordered[k] - latency for k in range(len(ordered) - workers)]
    return statistics.mean(gaps)


async def drive(
    discord_fake: FakeDiscord,
    api: FakeOneMin,
    requesters: list[Requester],
    *,
    workers: int,
    latency: float,
) -> dict[str, Any]:
    """Fire the burst at a started bot, wait for every image, return the figures."""
    jobs = len(requesters)
    ideal = math.ceil(jobs / workers) * latency
    stop = asyncio.Event()
    in_flight: list[int] = []
    sampler = asyncio.create_task(sample_in_flight(api, in_flight, stop))
    wall = time.perf_counter()
    interactions = await fire(discord_fake, requesters)
    acks = await wait_acked(interactions, timeout=30)
    delivered = await wait_delivered(interactions, timeout=ideal * 4 + 60)
    wall = time.perf_counter() - wall
    stop.set()
    await sampler

    first = min(i.dispatched_at or math.inf for i in interactions)
    makespan = max(delivered) - first
    starts = [call.time for call in api.requests]
    overhead = steady_overhead(starts, workers, latency)
    return {
        "jobs": jobs,
        "workers": workers,
        "latency_s": latency,
        "guilds": len({r.guild.id for r in requesters}),
        "makespan_s": makespan,
        "ideal_s": ideal,
        "ratio": makespan / ideal,
        "target_ratio": TARGET_RATIO,
        "api_calls": len(api.requests),
        "max_in_flight": api.max_in_flight,
        "mean_in_flight": statistics.mean(in_flight) if in_flight else 0.0,
        "first_ack_s": min(acks),
        "max_ack_s": max(acks),
        "first_call_after_s": min(starts) - first,
        "slot_idle_per_call_ms": None if overhead is None else overhead * 1000,
        "last_delivery_after_last_call_s": max(delivered) - (max(starts) + latency),
        "wall_s": wall,
    }


async def run(jobs: int, workers: int, latency: float, *, child: bool) -> dict[str, Any]:
    """Run the benchmark once, the bot in this process or in a child; return its figures."""
    logs = LogCounter.install()
    async with fakes(latency) as (discord_fake, api):
        image = make_image(SIZES["1:1"], 1, fmt="WEBP")
        api.script(*(Scripted.with_image(image) for _ in range(jobs)))
        _, requesters = populate(discord_fake, guilds=min(40, jobs), members=jobs)
        with tempfile.TemporaryDirectory() as tmp:
            if child:
                env = imagine_env(discord_fake, api, Path(tmp), workers=workers)
                bot = BotProcess("bot", env, Path(tmp))
                await bot.start()
                try:
                    await bot.wait_ready(timeout=60)
                    results = await drive(
                        discord_fake, api, requesters, workers=workers, latency=latency
                    )
                finally:
                    await bot.stop()
                results["bot_log_lines"] = bot.log_lines
            else:
                with discord_fake.patch_discord_py():
                    harness = BotHarness(
                        discord_fake,
                        api,
                        Path(tmp) / "bot.sqlite3",
                        env={
                            **NO_LIMITS_ENV,
                            "MAX_CONCURRENT_JOBS": str(workers),
                            "ONEMIN_TIMEOUT_SECONDS": "60",
                        },
                        edit_interval=2.0,
                    )
                    await harness.start()
                    try:
                        results = await drive(
                            discord_fake, api, requesters, workers=workers, latency=latency
                        )
                    finally:
                        await harness.stop()
        results["protocol_errors"] = list(discord_fake.protocol_errors)
    results["mode"] = "child process" if child else "in process"
    results["log"] = logs.summary()
    return results


def report(r: dict[str, Any]) -> None:
    """Print the figures."""
    verdict = "ok" if r["ratio"] <= r["target_ratio"] else "ABOVE TARGET"
    print(
        f"makespan ({r['mode']}): {r['jobs']} jobs, {r['workers']} workers,"
        f" API latency {r['latency_s']:g} s, {r['guilds']} servers"
    )
    print(
        f"  makespan {r['makespan_s']:.2f} s, ideal ceil(N/C) x L = {r['ideal_s']:.2f} s,"
        f" ratio {r['ratio']:.3f} (target <= {r['target_ratio']}: {verdict})"
    )
    print(
        f"  API calls {r['api_calls']}, max in flight {r['max_in_flight']},"
        f" mean in flight {r['mean_in_flight']:.2f} (sampled every 5 ms over the run)"
    )
    print(
        f"  acknowledgements: first after {r['first_ack_s'] * 1000:.0f} ms,"
        f" last after {r['max_ack_s'] * 1000:.0f} ms;"
        f" first API call {r['first_call_after_s'] * 1000:.0f} ms after the first /imagine"
    )
    idle = r["slot_idle_per_call_ms"]
    print(
        f"  an API slot sits idle {idle:.1f} ms between calls (steady state);"
        f" last image {r['last_delivery_after_last_call_s'] * 1000:.0f} ms after the last"
        " API answer"
    )
    for line in r["log"]:
        print(f"  bot log: {line}")
    for line in r["protocol_errors"]:
        print(f"  fake Discord protocol error: {line}")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument(
        "--child", action="store_true", help="run the bot as `python -m bot` in a child process"
    )
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    results = asyncio.run(run(args.jobs, args.workers, args.latency, child=args.child))
    report(results)
    write_json(args.json, results)


if __name__ == "__main__":
    main()
