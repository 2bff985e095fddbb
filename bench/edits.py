"""Edit benchmark: the makespan of N edits, and peak memory while editing 5 MB images.

1. Makespan, in this process (``--child``: the bot as ``python -m bot``, the fakes
   alone here). N members over up to 40 servers each run /edit on
   an image of their own (a 1024x1024 JPEG, about 0.3 MB), all dispatched at
   once, against the same C (``--workers``) and L (``--latency``) as
   ``bench.makespan``. Each edit, inside its API slot, downloads its image from
   the local Discord's CDN, uploads it to the local 1min.ai's Asset API and then
   makes one IMAGE_EDITOR call of L seconds; the fake answers every edit with
   one pre-encoded 1024x1024 WebP (about 120 kB), so it spends no CPU on
   transforms. The upload time U of each job is measured from the fakes' own
   clocks: from its image's CDN request to its IMAGE_EDITOR call. The ideal is
   ceil(N/C) x (L + mean U): C slots that are never idle, each job holding its
   slot for its upload and its call.

2. Peak memory, the bot alone in a child process (``python -m bot``), the fakes
   here: ``--memory-jobs`` edits (50) at once, each of a ~5 MB PNG of noise
   (1290x1290, so uploaded byte for byte), the fake answering each with a ~5 MB
   PNG too, until every result is delivered; VmHWM from /proc.

    .venv/bin/python -m bench.edits [--jobs 200] [--workers 4] [--latency 0.5] [--child]
        [--memory-jobs 50] [--image-mb 5] [--skip-makespan] [--skip-memory] [--json F]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    NO_LIMITS_ENV,
    BotProcess,
    LogCounter,
    Requester,
    fakes,
    imagine_env,
    mib,
    noise_image,
    populate,
    proc_status,
    wait_acked,
    wait_delivered,
    write_json,
)
from tests.support.fake_discord import FakeAttachment, FakeDiscord, FakeInteraction
from tests.support.fake_onemin import SIZES, FakeOneMin, Scripted, make_image
from tests.support.harness import BotHarness

TARGET_RATIO = 1.05
PEAK_TARGET_BYTES = 150 * 1000 * 1000  # 150 MB


def attach_sources(
    fake: FakeDiscord, requesters: Sequence[Requester], data: bytes, extension: str
) -> list[FakeAttachment]:
    """One uploaded file per member, all with the same bytes, each with its own name."""
    return [fake.add_attachment(f"source-{n}.{extension}", data) for n in range(len(requesters))]


async def fire_edits(
    fake: FakeDiscord, requesters: Sequence[Requester], sources: Sequence[FakeAttachment]
) -> list[FakeInteraction]:
    """Dispatch one /edit per member on their own image, all at once."""
    return list(
        await asyncio.gather(
            *(
                fake.invoke_command(
                    r.guild,
                    r.guild.text_channel,
                    r.user,
                    "edit",
                    {"image": source, "prompt": f"make it night {n}"},
                )
                for n, (r, source) in enumerate(zip(requesters, sources, strict=True))
            )
        )
    )


def upload_times(discord_fake: FakeDiscord, api: FakeOneMin) -> dict[str, list[float]]:
    """Per job, from the fakes' clocks (both time.monotonic()): the image's download
    (CDN request to upload arrival), its upload (upload arrival to the edit call) and
    the two together."""
    fetched = {
        r.path.rsplit("/", 1)[-1]: r.time
        for r in discord_fake.requests
        if r.path.startswith("/attachments/")
    }
    calls = {
        call.json["promptObject"]["imageUrl"]: call.time
        for call in api.requests
        if isinstance(call.json, dict) and call.json.get("type") == "IMAGE_EDITOR"
    }
    download, upload, total = [], [], []
    for item in api.uploads:
        start, called = fetched.get(item.filename), calls.get(item.path)
        if start is None or called is None:
            continue
        download.append(item.time - start)
        upload.append(called - item.time)
        total.append(called - start)
    return {"download": download, "upload": upload, "total": total}


# -- 1. makespan, in process --------------------------------------------------------------


async def run_makespan(jobs: int, workers: int, latency: float, *, child: bool) -> dict[str, Any]:
    """N edits through the real bot (in this process, or ``python -m bot`` as a child)."""
    logs = LogCounter.install()
    async with fakes(latency) as (discord_fake, api):
        answer = make_image(SIZES["1:1"], 1, fmt="WEBP")
        api.script(*(Scripted.with_image(answer) for _ in range(jobs)))
        source = make_image((1024, 1024), 2, fmt="JPEG")
        _, requesters = populate(discord_fake, guilds=min(40, jobs), members=jobs)
        sources = attach_sources(discord_fake, requesters, source, "jpg")
        with tempfile.TemporaryDirectory() as tmp:
            if child:
                env = imagine_env(discord_fake, api, Path(tmp), workers=workers)
                bot = BotProcess("bot", env, Path(tmp))
                await bot.start()
                try:
                    await bot.wait_ready(timeout=60)
                    interactions, acks, delivered, wall = await _burst(
                        discord_fake, requesters, sources, workers, latency
                    )
                finally:
                    await bot.stop()
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
                        interactions, acks, delivered, wall = await _burst(
                            discord_fake, requesters, sources, workers, latency
                        )
                    finally:
                        await harness.stop()
        first = min(i.dispatched_at or math.inf for i in interactions)
        makespan = max(delivered) - first
        times = upload_times(discord_fake, api)
        protocol_errors = list(discord_fake.protocol_errors)
        api_calls = len(api.requests)
        uploads = len(api.uploads)
        max_in_flight = api.max_in_flight
    mean_upload = statistics.mean(times["total"]) if times["total"] else 0.0
    rounds = math.ceil(jobs / workers)
    ideal_calls = rounds * latency
    ideal = rounds * (latency + mean_upload)
    return {
        "mode": "child process" if child else "in process",
        "jobs": jobs,
        "workers": workers,
        "latency_s": latency,
        "source_bytes": len(source),
        "makespan_s": makespan,
        "ideal_calls_only_s": ideal_calls,
        "mean_upload_s": mean_upload,
        "median_download_ms": statistics.median(times["download"]) * 1000,
        "median_upload_ms": statistics.median(times["upload"]) * 1000,
        "max_upload_s": max(times["total"]),
        "ideal_s": ideal,
        "ratio": makespan / ideal,
        "target_ratio": TARGET_RATIO,
        "api_calls": api_calls,
        "uploads": uploads,
        "max_in_flight": max_in_flight,
        "max_ack_s": max(acks),
        "wall_s": wall,
        "protocol_errors": protocol_errors,
        "log": logs.summary(),
    }


async def _burst(
    discord_fake: FakeDiscord,
    requesters: Sequence[Requester],
    sources: Sequence[FakeAttachment],
    workers: int,
    latency: float,
) -> tuple[list[FakeInteraction], list[float], list[float], float]:
    """Fire the edits at a started bot; wait for every result."""
    wall = time.perf_counter()
    interactions = await fire_edits(discord_fake, requesters, sources)
    acks = await wait_acked(interactions, timeout=30)
    timeout = math.ceil(len(requesters) / workers) * latency * 4 + 60
    delivered = await wait_delivered(interactions, timeout=timeout)
    return interactions, acks, delivered, time.perf_counter() - wall


# -- 2. peak memory, child process --------------------------------------------------------


async def run_memory(jobs: int, image_mb: float, workers: int, latency: float) -> dict[str, Any]:
    """``jobs`` edits of ~``image_mb`` MB images by ``python -m bot``; its memory."""
    LogCounter.install()
    image = noise_image(int(image_mb * 1_000_000))
    async with fakes(latency) as (discord_fake, api):
        api.script(*(Scripted.with_image(image) for _ in range(jobs)))
        _, requesters = populate(discord_fake, guilds=min(40, jobs), members=jobs)
        sources = attach_sources(discord_fake, requesters, image, "png")
        with tempfile.TemporaryDirectory() as tmp:
            env = imagine_env(discord_fake, api, Path(tmp), workers=workers)
            child = BotProcess("bot", env, Path(tmp))
            await child.start()
            try:
                await child.wait_ready(timeout=60)
                await asyncio.sleep(2.0)
                idle = child.memory()["VmRSS"]
                peak_sampled = 0
                stop = asyncio.Event()

                async def sample() -> None:
                    nonlocal peak_sampled
                    while not stop.is_set():
                        try:
                            peak_sampled = max(peak_sampled, proc_status(child.pid)["VmRSS"])
                        except (OSError, KeyError):
                            return
                        await asyncio.sleep(0.02)

                sampler = asyncio.create_task(sample())
                started = time.perf_counter()
                interactions = await fire_edits(discord_fake, requesters, sources)
                await wait_acked(interactions, timeout=30)
                await wait_delivered(interactions, timeout=jobs * latency + 120)
                seconds = time.perf_counter() - started
                stop.set()
                await sampler
                after = child.memory()
            finally:
                code = await child.stop()
        uploads_match = all(u.data == image for u in api.uploads)
        uploads = len(api.uploads)
    return {
        "jobs": jobs,
        "workers": workers,
        "latency_s": latency,
        "image_bytes": len(image),
        "idle_rss": idle,
        "peak_hwm": after["VmHWM"],
        "peak_sampled_rss": peak_sampled,
        "rss_after": after["VmRSS"],
        "seconds": seconds,
        "uploads": uploads,
        "uploaded_byte_for_byte": uploads_match,
        "peak_target_bytes": PEAK_TARGET_BYTES,
        "exit_code": code,
    }


# -- report ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """``ok`` or a loud marker."""
    return "ok" if ok else "ABOVE TARGET"


def report_makespan(r: dict[str, Any]) -> None:
    """Print the makespan figures."""
    print(
        f"edit makespan ({r['mode']}): {r['jobs']} edits, {r['workers']} workers, API latency"
        f" {r['latency_s']:g} s, sources {r['source_bytes'] / 1000:.0f} kB JPEG"
    )
    print(
        f"  makespan {r['makespan_s']:.2f} s, ideal ceil(N/C) x (L + U) = {r['ideal_s']:.2f} s"
        f" with U = {r['mean_upload_s'] * 1000:.0f} ms measured: ratio {r['ratio']:.3f}"
        f" (target <= {r['target_ratio']}: {verdict(r['ratio'] <= r['target_ratio'])})"
    )
    print(
        f"  U per job: download median {r['median_download_ms']:.0f} ms, upload median"
        f" {r['median_upload_ms']:.0f} ms, longest total {r['max_upload_s'] * 1000:.0f} ms;"
        f" API calls only would be {r['ideal_calls_only_s']:.2f} s"
    )
    print(
        f"  uploads {r['uploads']}, edit calls {r['api_calls']}, max in flight"
        f" {r['max_in_flight']}, last acknowledgement after {r['max_ack_s'] * 1000:.0f} ms"
    )
    for line in r["log"]:
        print(f"  bot log: {line}")
    for line in r["protocol_errors"]:
        print(f"  fake Discord protocol error: {line}")


def report_memory(r: dict[str, Any]) -> None:
    """Print the memory figures."""
    ok = r["peak_hwm"] < r["peak_target_bytes"]
    print(
        f"edit memory (python -m bot, child process): {r['jobs']} edits at once of"
        f" {r['image_bytes'] / 1e6:.1f} MB PNG sources, {r['workers']} workers"
    )
    print(
        f"  VmHWM {r['peak_hwm'] / 1e6:.0f} MB ({mib(r['peak_hwm']):.0f} MiB;"
        f" target < {r['peak_target_bytes'] / 1e6:.0f} MB: {verdict(ok)}); idle VmRSS"
        f" {mib(r['idle_rss']):.0f} MiB, highest sampled {mib(r['peak_sampled_rss']):.0f} MiB,"
        f" after {mib(r['rss_after']):.0f} MiB; {r['seconds']:.1f} s;"
        f" {r['uploads']} uploads, byte for byte: {r['uploaded_byte_for_byte']}"
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--memory-jobs", type=int, default=50)
    parser.add_argument("--image-mb", type=float, default=5.0)
    parser.add_argument(
        "--child", action="store_true", help="the makespan's bot runs as `python -m bot`"
    )
    parser.add_argument("--skip-makespan", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.skip_makespan:
        results["makespan"] = asyncio.run(
            run_makespan(args.jobs, args.workers, args.latency, child=args.child)
        )
        report_makespan(results["makespan"])
    if not args.skip_memory:
        results["memory"] = asyncio.run(
            run_memory(args.memory_jobs, args.image_mb, args.workers, args.latency)
        )
        report_memory(results["memory"])
    write_json(args.json, results)


if __name__ == "__main__":
    main()
