"""Admission-check benchmark: a year of usage log, then time the checks.

Fills a database with 1,000,000 request rows over 365 days for 100 servers
and 10,000 members, then times the admission check (the member's and the
server's rolling 24 h counts, inside the write transaction that would insert
the request), the SQL statement that checks and inserts at once, and what the
bot does now: load a server's use once (its first request), then decide and
charge in memory (bot.jobs.admission); prints medians and p99s in microseconds.

    .venv/bin/python -m bench.admission [--rows N] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bot.jobs.admission import UsageBook
from bot.limits import DAY, Limits, RefusedError, check
from bot.storage.database import Database
from bot.storage.jobs import NewRequest
from bot.storage.limits import admit, load_guild_usage, usage

STATUSES = ["succeeded"] * 90 + ["failed"] * 6 + ["refused"] * 4


def fill(path: Path, rows: int, guilds: int, members: int, now: float) -> None:
    """Bulk-insert synthetic history with plain sqlite3 (setup, not measured)."""
    rng = random.Random(42)
    conn = sqlite3.connect(path)
    batch = []
    for _ in range(rows):
        guild = rng.randrange(guilds)
        member = rng.randrange(members)
        created = now - rng.random() * 365 * DAY
        batch.append(
            (
                1000 + guild,
                5,
                10_000 + member,
                "a prompt of usual length for an image",
                None,
                rng.choice(STATUSES),
                created,
            )
        )
        if len(batch) == 50_000:
            conn.executemany(
                "INSERT INTO requests (guild_id, channel_id, user_id, prompt, aspect_ratio,"
                " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            batch.clear()
    if batch:
        conn.executemany(
            "INSERT INTO requests (guild_id, channel_id, user_id, prompt, aspect_ratio,"
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(rows: int, samples: int) -> None:
    guilds, members = 100, 10_000
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        db = await Database.open(path)
        await db.close()
        started = time.perf_counter()
        fill(path, rows, guilds, members, now)
        print(f"filled {rows:,} rows in {time.perf_counter() - started:.1f} s")
        db = await Database.open(path)
        limits = Limits(user_daily=20, guild_daily=500, cooldown_seconds=0, max_queue=25)
        rng = random.Random(7)

        check_times = []
        for _ in range(samples):
            guild, member = 1000 + rng.randrange(guilds), 10_000 + rng.randrange(members)
            t0 = time.perf_counter()
            async with db.transaction():
                used = await usage(db, guild, member, now=now)
                check(limits, used, now=now)
            check_times.append((time.perf_counter() - t0) * 1e6)

        admit_times = []
        for _ in range(samples):
            guild, member = 1000 + rng.randrange(guilds), 10_000 + rng.randrange(members)
            request = NewRequest(
                guild_id=guild, channel_id=5, user_id=member, prompt="bench", aspect_ratio=None
            )
            t0 = time.perf_counter()
            with contextlib.suppress(RefusedError):
                await admit(db, request, limits, now=now)
            admit_times.append((time.perf_counter() - t0) * 1e6)

        # What the bot does: each server's use read once, then decisions in memory.
        book = UsageBook(lambda g, since: load_guild_usage(db, g, since=since), clock=lambda: now)
        load_times = []
        for guild in range(guilds):
            t0 = time.perf_counter()
            await book.guild(1000 + guild)
            load_times.append((time.perf_counter() - t0) * 1e6)
        memory_times = []
        for _ in range(samples):
            guild, member = 1000 + rng.randrange(guilds), 10_000 + rng.randrange(members)
            served = await book.guild(guild)  # loaded: no await inside
            t0 = time.perf_counter()
            with contextlib.suppress(RefusedError):
                served.admit(member, limits, now=now)
            memory_times.append((time.perf_counter() - t0) * 1e6)
        await db.close()

    for name, values in (
        ("check (in transaction)", check_times),
        ("admit (check + insert)", admit_times),
        ("load a server's use (its first request)", load_times),
        ("admit in memory (decide + charge)", memory_times),
    ):
        print(
            f"{name}: median {statistics.median(values):.0f} us,"
            f" p99 {percentile(values, 0.99):.0f} us over {len(values)} samples"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2_000)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.samples))


if __name__ == "__main__":
    main()
