"""Burst benchmark: acknowledgement latency and memory, the imagine bot against a bare bot.

1. Acknowledgement latency, in this process. A burst of 200 /imagine across 40
   servers is dispatched at once by the local Discord fake; ``ack_latency`` is the
   time from the fake dispatching an interaction to it receiving the initial
   response. The same burst goes to the real bot (started like the end-to-end
   tests start it, its workers busy with the jobs against a fake API of
   ``--latency`` s) and to a bare discord.py bot (``bench.barebot``: one /imagine
   that only defers), each against a fresh fake, for ``--rounds`` alternating
   rounds. Each bot first answers one warm-up command that is not counted.

2. Memory, one child process per bot. The fakes run here, in the parent; each bot
   runs as a child (``python -m bot`` / ``python -m bench.barebot``) with 1,000
   servers, and its VmRSS / VmHWM are read from ``/proc/<pid>/status``, so the
   figures are the bot's alone. (a) Idle: VmRSS once the bot has logged READY and
   settled for 2 s. (b) Peak: the same 200-request burst across 40 of the servers,
   the fake API serving a ~5 MB PNG for every call, until every image is
   delivered; VmHWM (the kernel's high-water mark) and VmRSS sampled every 20 ms.
   The acknowledgement latencies of these child runs are printed too; the fakes
   are busy receiving 5 MB uploads meanwhile, so they are a cross-check only.

    .venv/bin/python -m bench.burst [--jobs 200] [--servers 40] [--guilds 1000]
        [--rounds 3] [--latency 0.5] [--image-mb 5] [--child-env NAME=VALUE]
        [--skip-memory] [--skip-ack]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.barebot import BareBot
from bench.common import (
    NO_LIMITS_ENV,
    BotProcess,
    LogCounter,
    Requester,
    cpu_pressure,
    fakes,
    fire,
    has_image,
    imagine_env,
    mib,
    noise_image,
    populate,
    proc_status,
    summary_ms,
    wait_acked,
    wait_delivered,
    write_json,
)
from tests.support.fake_discord import FakeDiscord, FakeInteraction
from tests.support.fake_onemin import SIZES, FakeOneMin, Scripted, make_image
from tests.support.harness import BotHarness

ACK_TARGET = 1.2
IDLE_TARGET = 1.3
PEAK_TARGET_BYTES = 150 * 1000 * 1000  # 150 MB
SETTLE_SECONDS = 2.0
DISCORD_ACK_LIMIT = 3.0


async def warm_up(
    fake: FakeDiscord,
    requesters: list[Requester],
    *,
    api: FakeOneMin | None = None,
) -> None:
    """Uncounted /imagine first, so lazy imports and first-use costs are paid.

    ``requesters`` are one member per server of the burst (or just one member,
    for a cold start): a server's first command makes the imagine bot read that
    server's settings, blocked words and use once. With ``api`` (the imagine
    bot) it also waits for their images, with the API answering at once, so
    the first job's costs (the API client, Pillow, the upload) belong to no
    burst and the workers are idle when it starts, as the bare bot's are.
    """
    latency = api.latency if api is not None else 0.0
    if api is not None:
        api.latency = 0.0
    try:
        interactions = await fire(fake, requesters, prompt="warm-up")
        await wait_acked(interactions, timeout=30)
        if api is not None:
            await wait_delivered(interactions, timeout=60)
    finally:
        if api is not None:
            api.latency = latency


# -- 1. acknowledgement latency -----------------------------------------------------

IN_PROCESS = "in process"
CHILD = "child process"
MODES = (IN_PROCESS, CHILD)


@dataclass
class Burst:
    """One bot's acknowledgement latencies (s) for one burst, and what the imagine bot
    says of its group commit: each row's wait (in process) or its log line (child)."""

    latencies: list[float]
    commit_waits: list[float] = field(default_factory=list)
    writer_log: str | None = None


def scene(
    fake: FakeDiscord, jobs: int, servers: int, *, cold: bool
) -> tuple[list[Requester], list[Requester]]:
    """The members of a burst of ``jobs`` over ``servers``, and who warms up first:
    one member of each server, or a single one for a cold start."""
    _, requesters = populate(fake, guilds=servers, members=jobs + servers, busy=servers)
    # Requesters go round-robin over the servers: the last ``servers`` are one per server.
    warm = requesters[jobs:] if not cold else requesters[-1:]
    return requesters[:jobs], warm


async def ack_ours(jobs: int, servers: int, latency: float, *, cold: bool) -> Burst:
    """Acknowledgement latencies of the real bot, in this process, for one burst, and how
    long each of the burst's rows waited for its commit."""
    async with fakes(latency) as (discord_fake, api):
        image = make_image(SIZES["1:1"], 1, fmt="WEBP")
        api.script(*(Scripted.with_image(image) for _ in range(jobs + servers)))
        burst, warm = scene(discord_fake, jobs, servers, cold=cold)
        with tempfile.TemporaryDirectory() as tmp, discord_fake.patch_discord_py():
            harness = BotHarness(
                discord_fake,
                api,
                Path(tmp) / "bot.sqlite3",
                env={**NO_LIMITS_ENV, "MAX_CONCURRENT_JOBS": "4"},
                edit_interval=2.0,
            )
            await harness.start()
            try:
                await warm_up(discord_fake, warm, api=api)
                assert harness.bot is not None
                writer = harness.bot.jobs.writer
                writer.commit_waits.clear()
                interactions = await fire(discord_fake, burst)
                latencies = await wait_acked(interactions, timeout=15)
                waits = list(writer.commit_waits)
            finally:
                await harness.stop()
    return Burst(latencies, commit_waits=waits)


async def ack_bare(jobs: int, servers: int, *, cold: bool) -> Burst:
    """Acknowledgement latencies of the bare discord.py bot, in this process, for one burst."""
    async with fakes() as (discord_fake, _):
        burst, warm = scene(discord_fake, jobs, servers, cold=cold)
        with discord_fake.patch_discord_py():
            bot = BareBot(guild_ready_timeout=0.05)
            task = asyncio.create_task(bot.start(discord_fake.token))
            try:
                await asyncio.wait_for(bot.wait_until_ready(), 15)
                await warm_up(discord_fake, warm)
                interactions = await fire(discord_fake, burst)
                latencies = await wait_acked(interactions, timeout=15)
            finally:
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return Burst(latencies)


async def ack_child(kind: str, jobs: int, servers: int, latency: float, *, cold: bool) -> Burst:
    """Acknowledgement latencies of one bot alone in a child process, for one burst.

    The fakes stay in this process; the child is started for the burst (after the
    uncounted warm-up) and stopped after it, so no round inherits another's
    memory or database.
    """
    async with fakes(latency) as (discord_fake, api):
        burst, warm = scene(discord_fake, jobs, servers, cold=cold)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if kind == "ours":
                image = make_image(SIZES["1:1"], 1, fmt="WEBP")
                api.script(*(Scripted.with_image(image) for _ in range(jobs + servers)))
                # Only the acknowledgements are measured: stop without waiting long.
                env = {**imagine_env(discord_fake, api, workdir), "SHUTDOWN_GRACE_SECONDS": "1"}
                module = "bot"
            else:
                env = {"DISCORD_TOKEN": discord_fake.token, "DISCORD_API_URL": discord_fake.api_url}
                module = "bench.barebot"
            child = BotProcess(module, env, workdir)
            await child.start()
            try:
                await child.wait_ready(timeout=120)
                await warm_up(discord_fake, warm, api=api if kind == "ours" else None)
                interactions = await fire(discord_fake, burst)
                latencies = await wait_acked(interactions, timeout=15)
            finally:
                await child.stop()
    # The bot logs its group commit figures when it stops (warm-up rows included).
    writer_line = next((line for line in child.log_tail if "Request rows:" in line), None)
    return Burst(
        latencies, writer_log=writer_line.split("Request rows: ", 1)[1] if writer_line else None
    )


async def one_burst(
    mode: str, who: str, jobs: int, servers: int, latency: float, *, cold: bool
) -> Burst:
    """One burst of ``jobs`` to one bot (``ours`` / ``bare``) in one mode."""
    if mode == CHILD:
        return await ack_child(who, jobs, servers, latency, cold=cold)
    if who == "ours":
        return await ack_ours(jobs, servers, latency, cold=cold)
    return await ack_bare(jobs, servers, cold=cold)


def compare(ours: list[float], bare: list[float]) -> dict[str, Any]:
    """Both bots' figures for pooled latencies, and their ratios."""
    o, b = summary_ms(ours), summary_ms(bare)
    return {
        "ours": o,
        "bare": b,
        "ours_first_ms": min(ours) * 1000,
        "bare_first_ms": min(bare) * 1000,
        "median_ratio": o["median_ms"] / b["median_ms"],
        "p99_ratio": o["p99_ms"] / b["p99_ms"],
        "late_ours": sum(1 for v in ours if v > DISCORD_ACK_LIMIT),
        "late_bare": sum(1 for v in bare if v > DISCORD_ACK_LIMIT),
    }


Config = tuple[str, int, bool]  # (mode, burst size, cold start)


async def run_ack(
    configs: list[Config], servers: int, latency: float, rounds: int
) -> list[dict[str, Any]]:
    """For each (mode, burst size, cold), alternate rounds of both bots; pool every round.

    The machine's CPU pressure (``/proc/pressure/cpu``, the share of the last 10 s
    in which some runnable task waited for a CPU) is noted before each burst: on a
    shared machine it says which rounds other work disturbed.
    """
    logs = LogCounter.install()
    results = []
    for mode, jobs, cold in configs:
        ours: list[float] = []
        bare: list[float] = []
        waits: list[float] = []
        per_round: list[dict[str, Any]] = []
        for n in range(rounds):
            # Alternate who goes first, so neither always runs on a warmer machine.
            order = ("ours", "bare") if n % 2 == 0 else ("bare", "ours")
            got: dict[str, Burst] = {}
            pressure: dict[str, float | None] = {}
            for who in order:
                pressure[who] = cpu_pressure()
                got[who] = await one_burst(mode, who, jobs, servers, latency, cold=cold)
            ours += got["ours"].latencies
            bare += got["bare"].latencies
            waits += got["ours"].commit_waits
            o, b = summary_ms(got["ours"].latencies), summary_ms(got["bare"].latencies)
            per_round.append(
                {
                    "ours": o,
                    "bare": b,
                    "p99_ratio": o["p99_ms"] / b["p99_ms"],
                    "pressure": pressure,
                    "writer_log": got["ours"].writer_log,
                }
            )
        results.append(
            {
                "mode": mode,
                "jobs": jobs,
                "cold": cold,
                "servers": servers,
                "rounds": rounds,
                "api_latency_s": latency,
                "target_ratio": ACK_TARGET,
                **compare(ours, bare),
                "round_p99_ratios": sorted(r["p99_ratio"] for r in per_round),
                "commit_wait": summary_ms(waits) if waits else None,
                "per_round": per_round,
            }
        )
    if results:
        results[-1]["log"] = logs.summary()
    return results


# -- 2. memory, one child process per bot -----------------------------------------------


async def sample_memory(
    pid: int,
    api: FakeOneMin,
    interactions: list[FakeInteraction],
    samples: list[tuple[float, int, int, int]],
    stop: asyncio.Event,
    every: float = 0.02,
) -> None:
    """Every ``every`` s until ``stop`` is set, append (seconds, VmRSS, images delivered,
    images the API has answered with but the bot has not yet delivered)."""
    began = time.perf_counter()
    while not stop.is_set():
        try:
            rss = proc_status(pid)["VmRSS"]
        except (OSError, KeyError):
            return
        done = sum(1 for i in interactions if i.original_message and has_image(i.original_message))
        pending = max(0, len(api.served_images) - done)
        samples.append((time.perf_counter() - began, rss, done, pending))
        await asyncio.sleep(every)


def timeline(samples: list[tuple[float, int, int, int]], jobs: int) -> list[dict[str, int]]:
    """The highest VmRSS seen in each quarter of the burst (by images delivered)."""
    out = []
    for quarter in range(1, 5):
        upto = jobs * quarter // 4
        lower = jobs * (quarter - 1) // 4
        window = [rss for _, rss, done, _ in samples if lower <= done <= upto]
        if window:
            out.append({"delivered_upto": upto, "max_rss": max(window)})
    return out


async def run_child(
    kind: str,
    *,
    guilds: int,
    jobs: int,
    servers: int,
    latency: float,
    image: bytes | None,
    extra_env: dict[str, str],
) -> dict[str, Any]:
    """Start one bot as a child with ``guilds`` servers; measure idle, then under a burst."""
    async with fakes(latency) as (discord_fake, api):
        _, requesters = populate(discord_fake, guilds=guilds, members=jobs, busy=servers)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if kind == "ours":
                env = imagine_env(discord_fake, api, workdir)
                module = "bot"
            else:
                env = {"DISCORD_TOKEN": discord_fake.token, "DISCORD_API_URL": discord_fake.api_url}
                module = "bench.barebot"
            child = BotProcess(module, {**env, **extra_env}, workdir)
            started = time.perf_counter()
            await child.start()
            try:
                await child.wait_ready(timeout=120)
                ready_s = time.perf_counter() - started
                ready_line = next(line for line in child.log_tail if "Ready as" in line)
                found = re.search(r"in (\d+) server", ready_line)
                await asyncio.sleep(SETTLE_SECONDS)
                readings = []
                for _ in range(5):
                    readings.append(child.memory()["VmRSS"])
                    await asyncio.sleep(0.2)
                idle = {
                    "VmRSS": int(statistics.median(readings)),
                    "VmHWM": child.memory()["VmHWM"],
                }

                if image is not None:
                    api.script(*(Scripted.with_image(image) for _ in range(jobs)))
                stop = asyncio.Event()
                samples: list[tuple[float, int, int, int]] = []
                interactions: list[FakeInteraction] = []
                sampler = asyncio.create_task(
                    sample_memory(child.pid, api, interactions, samples, stop)
                )
                burst_started = time.perf_counter()
                interactions += await fire(discord_fake, requesters)
                acks = await wait_acked(interactions, timeout=30)
                if kind == "ours":
                    await wait_delivered(interactions, timeout=jobs * latency + 120)
                burst_s = time.perf_counter() - burst_started
                stop.set()
                await sampler
                after = child.memory()
                errors = [line for line in child.log_tail if " ERROR " in line]
            finally:
                code = await child.stop()
    return {
        "kind": kind,
        "burst_servers": len({r.guild.id for r in requesters}),
        "guilds_ready": int(found.group(1)) if found else None,
        "ready_s": ready_s,
        "idle": idle,
        "burst_s": burst_s,
        "peak_hwm": after["VmHWM"],
        "peak_sampled_rss": max((s[1] for s in samples), default=0),
        "images_in_bot_max": max((s[3] for s in samples), default=0),
        "images_in_bot_mean": statistics.mean(s[3] for s in samples) if samples else 0.0,
        "rss_after_burst": after["VmRSS"],
        "timeline": timeline(samples, jobs) if kind == "ours" else [],
        "acks": summary_ms(acks),
        "late_acks": sum(1 for v in acks if v > DISCORD_ACK_LIMIT),
        "exit_code": code,
        "log_lines": child.log_lines,
        "log_errors_in_tail": errors,
    }


async def run_memory(
    guilds: int,
    jobs: int,
    servers: int,
    latency: float,
    image_mb: float,
    extra_env: dict[str, str],
) -> dict[str, Any]:
    """Both bots, one after the other, each in its own child process."""
    LogCounter.install()
    image = noise_image(int(image_mb * 1_000_000))
    figures: dict[str, dict[str, Any]] = {}
    for kind in ("ours", "bare"):
        figures[kind] = await run_child(
            kind,
            guilds=guilds,
            jobs=jobs,
            servers=servers,
            latency=latency,
            image=image if kind == "ours" else None,
            extra_env=extra_env,
        )
    ours, bare = figures["ours"], figures["bare"]
    return {
        "guilds": guilds,
        "jobs": jobs,
        "servers": ours["burst_servers"],
        "image_bytes": len(image),
        "api_latency_s": latency,
        "child_env": extra_env,
        "ours": ours,
        "bare": bare,
        "idle_ratio": ours["idle"]["VmRSS"] / bare["idle"]["VmRSS"],
        "idle_target_ratio": IDLE_TARGET,
        "peak_target_bytes": PEAK_TARGET_BYTES,
    }


# -- report -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """``ok`` or a loud marker."""
    return "ok" if ok else "ABOVE TARGET"


def size(n: int) -> str:
    """Bytes as MiB and MB."""
    return f"{mib(n):.1f} MiB ({n / 1e6:.1f} MB)"


def report_ack(results: list[dict[str, Any]]) -> None:
    """Print the acknowledgement figures, one block per mode and burst size."""
    for r in results:
        o, b = r["ours"], r["bare"]
        start = "cold start: only one server warmed up" if r["cold"] else "every server warmed up"
        print(
            f"acknowledgement latency ({r['mode']}): burst of {r['jobs']} /imagine across"
            f" {r['servers']} servers, {r['rounds']} round(s), {start}"
            f" (API latency {r['api_latency_s']:g} s)"
        )
        print(
            f"  imagine bot: median {o['median_ms']:.0f} ms, p99 {o['p99_ms']:.0f} ms,"
            f" first {r['ours_first_ms']:.0f} ms, last {o['max_ms']:.0f} ms"
        )
        print(
            f"  bare bot:    median {b['median_ms']:.0f} ms, p99 {b['p99_ms']:.0f} ms,"
            f" first {r['bare_first_ms']:.0f} ms, last {b['max_ms']:.0f} ms"
        )
        target = r["target_ratio"]
        print(
            f"  ratio: median {r['median_ratio']:.2f} ({verdict(r['median_ratio'] <= target)}),"
            f" p99 {r['p99_ratio']:.2f} ({verdict(r['p99_ratio'] <= target)}); target <= {target}"
        )
        spread = ", ".join(f"{x:.2f}" for x in r["round_p99_ratios"])
        print(f"  p99 ratio of each round (paired, sorted): {spread}")
        if r["commit_wait"]:
            w = r["commit_wait"]
            print(
                f"  group commit: a request of the burst waited for its row's commit median"
                f" {w['median_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms, max {w['max_ms']:.1f} ms"
            )
        print(
            f"  not acknowledged within Discord's 3 s: imagine bot {r['late_ours']},"
            f" bare bot {r['late_bare']}"
        )
        for n, rnd in enumerate(r["per_round"], start=1):
            psi = rnd["pressure"]
            noise = (
                f"; CPU pressure before: {psi['ours']:.0f}% / {psi['bare']:.0f}%"
                if psi["ours"] is not None and psi["bare"] is not None
                else ""
            )
            print(
                f"    round {n}: imagine bot median {rnd['ours']['median_ms']:.0f} / p99"
                f" {rnd['ours']['p99_ms']:.0f} ms; bare bot median {rnd['bare']['median_ms']:.0f}"
                f" / p99 {rnd['bare']['p99_ms']:.0f} ms{noise}"
            )
            if rnd["writer_log"]:
                print(f"      imagine bot at exit: {rnd['writer_log']}")
        if r.get("log"):
            print("  warnings logged by the bots run in this process (every configuration above):")
        for line in r.get("log", []):
            print(f"    log: {line}")


def report_memory(r: dict[str, Any]) -> None:
    """Print the memory figures."""
    o, b = r["ours"], r["bare"]
    extra = " ".join(f"{k}={v}" for k, v in r["child_env"].items())
    print(
        f"memory: each bot in its own child process, fakes in the parent; {r['guilds']} servers"
        + (f"; child environment {extra}" if extra else "")
    )
    print(
        f"  idle after READY ({o['guilds_ready']} / {b['guilds_ready']} servers):"
        f" imagine bot {size(o['idle']['VmRSS'])}, bare bot {size(b['idle']['VmRSS'])},"
        f" ratio {r['idle_ratio']:.2f}"
        f" (target <= {r['idle_target_ratio']}: {verdict(r['idle_ratio'] <= IDLE_TARGET)})"
    )
    print(
        f"  start to READY: imagine bot {o['ready_s']:.1f} s, bare bot {b['ready_s']:.1f} s"
        " (includes discord.py's 2 s guild_ready_timeout)"
    )
    print(
        f"  burst of {r['jobs']} across {r['servers']} servers, {r['image_bytes'] / 1e6:.1f} MB"
        f" PNG per image, API latency {r['api_latency_s']:g} s:"
        f" imagine bot delivered all in {o['burst_s']:.1f} s"
    )
    ok = o["peak_hwm"] < r["peak_target_bytes"]
    print(
        f"  imagine bot peak: VmHWM {size(o['peak_hwm'])}"
        f" (target < {r['peak_target_bytes'] / 1e6:.0f} MB: {verdict(ok)});"
        f" VmRSS after the burst {size(o['rss_after_burst'])}"
    )
    if o["timeline"]:
        steps = ", ".join(f"{t['delivered_upto']}: {mib(t['max_rss']):.0f}" for t in o["timeline"])
        print(f"  imagine bot highest VmRSS (MiB) by images delivered so far: {steps}")
        print(
            "  images fetched-or-being-fetched but not yet delivered (answered by the API,"
            f" not yet posted): max {o['images_in_bot_max']}, mean {o['images_in_bot_mean']:.1f}"
        )
    print(
        f"  bare bot under the same burst (defer only): VmHWM {size(b['peak_hwm'])},"
        f" VmRSS after {size(b['rss_after_burst'])}"
    )
    print(
        f"  acknowledgements in these child runs: imagine bot median {o['acks']['median_ms']:.0f}"
        f" / p99 {o['acks']['p99_ms']:.0f} ms, bare bot median {b['acks']['median_ms']:.0f}"
        f" / p99 {b['acks']['p99_ms']:.0f} ms; over 3 s: {o['late_acks']} / {b['late_acks']}"
    )
    print(f"  exit codes after SIGTERM: imagine bot {o['exit_code']}, bare bot {b['exit_code']}")
    for line in o["log_errors_in_tail"]:
        print(f"  imagine bot log: {line}")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bursts",
        default="200,800",
        help="comma-separated burst sizes of the acknowledgement part",
    )
    parser.add_argument(
        "--modes",
        default="in-process,child",
        help="where the bots run in the acknowledgement part: in-process, child, or both",
    )
    parser.add_argument(
        "--cold",
        default="200",
        help="burst sizes also measured in a child right after start, one server warmed up",
    )
    parser.add_argument("--jobs", type=int, default=200, help="requests in the memory burst")
    parser.add_argument("--servers", type=int, default=40, help="servers the burst comes from")
    parser.add_argument("--guilds", type=int, default=1000, help="servers of the memory runs")
    parser.add_argument("--rounds", type=int, default=3, help="acknowledgement rounds")
    parser.add_argument("--latency", type=float, default=0.5, help="fake API latency (s)")
    parser.add_argument("--image-mb", type=float, default=5.0, help="image size for the peak")
    parser.add_argument(
        "--child-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for both bot child processes (e.g. MALLOC_ARENA_MAX=2)",
    )
    parser.add_argument("--skip-ack", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.skip_ack:
        named = {"in-process": IN_PROCESS, "child": CHILD}
        configs: list[Config] = [
            (named[mode], int(size), False)
            for mode in args.modes.split(",")
            if mode
            for size in args.bursts.split(",")
            if size
        ]
        configs += [(CHILD, int(size), True) for size in args.cold.split(",") if size]
        results["ack"] = asyncio.run(run_ack(configs, args.servers, args.latency, args.rounds))
        report_ack(results["ack"])
    if not args.skip_memory:
        extra_env = dict(item.split("=", 1) for item in args.child_env)
        results["memory"] = asyncio.run(
            run_memory(args.guilds, args.jobs, args.servers, args.latency, args.image_mb, extra_env)
        )
        report_memory(results["memory"])
    write_json(args.json, results)


if __name__ == "__main__":
    main()
