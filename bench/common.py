"""Helpers shared by the benchmarks: populating the fakes, firing bursts, reading memory.

Nothing here is measured itself; it only sets the stage and reads the clocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import io
import json
import logging
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from aiohttp import web
from PIL import Image

from tests.support.fake_discord import (
    FakeDiscord,
    FakeDiscordTimeout,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUser,
)
from tests.support.fake_onemin import FakeOneMin

# Limits high enough that no admission check refuses a benchmark job.
NO_LIMITS_ENV: dict[str, str] = {
    "DEFAULT_USER_DAILY_LIMIT": "100000",
    "DEFAULT_GUILD_DAILY_LIMIT": "100000",
    "DEFAULT_MAX_QUEUE": "100000",
    "DEFAULT_COOLDOWN_SECONDS": "0",
}


LISTEN_BACKLOG = 1024


class BenchDiscord(FakeDiscord):
    """The test suite's fake Discord, listening with a backlog of 1,024 connections.

    aiohttp listens with a backlog of 128. A bot that answers a burst of 200
    interactions at once opens about 200 connections to the fake at once (discord.py
    does not cap them); when the fake shares its event loop with the bot it cannot
    accept them fast enough, the kernel drops the SYNs over the backlog, and the
    client retries them after TCP's 1 s initial timeout: a second of latency that
    belongs to neither bot. Discord's own servers do not do that, so neither should
    the benchmark's fake.
    """

    async def start(self) -> None:
        """Start the fake as usual, with the larger listen backlog."""
        roomy = functools.partial(web.TCPSite, backlog=LISTEN_BACKLOG)
        with mock.patch.object(web, "TCPSite", roomy):
            await super().start()


@contextlib.asynccontextmanager
async def fakes(latency: float = 0.0) -> AsyncIterator[tuple[BenchDiscord, FakeOneMin]]:
    """A fresh local Discord and 1min.ai (API latency ``latency`` s), closed afterwards."""
    discord_fake = BenchDiscord()
    api = FakeOneMin(latency=latency)
    await discord_fake.start()
    await api.start()
    try:
        yield discord_fake, api
    finally:
        await discord_fake.close()
        await api.close()


def imagine_env(
    discord_fake: FakeDiscord, api: FakeOneMin, workdir: Path, *, workers: int = 4
) -> dict[str, str]:
    """Environment for ``python -m bot`` pointed at the fakes, with no limits in the way."""
    return {
        "DISCORD_TOKEN": discord_fake.token,
        "DISCORD_API_URL": discord_fake.api_url,
        "ONEMIN_API_KEY": api.api_key,
        "ONEMIN_API_URL": api.base_url,
        "DATABASE_PATH": str(workdir / "data" / "bot.sqlite3"),
        "MAX_CONCURRENT_JOBS": str(workers),
        "ONEMIN_TIMEOUT_SECONDS": "60",
        "LOG_LEVEL": "INFO",
        **NO_LIMITS_ENV,
    }


@dataclass(frozen=True)
class Requester:
    """A member of a server who will run /imagine once."""

    guild: FakeGuild
    user: FakeUser


def populate(
    fake: FakeDiscord, *, guilds: int, members: int, busy: int = 40, name: str = "bench"
) -> tuple[list[FakeGuild], list[Requester]]:
    """Create ``guilds`` servers and spread ``members`` members over the first ``busy``.

    Returns every guild and one requester per member, round-robin over the servers that
    have members, so consecutive requests come from different servers.
    """
    created = [fake.add_guild(name=f"{name} {n}") for n in range(guilds)]
    with_members = created[: max(1, min(len(created), busy))]
    requesters = []
    for n in range(members):
        guild = with_members[n % len(with_members)]
        requesters.append(Requester(guild, fake.add_member(guild, f"{name}-member-{n}")))
    return created, requesters


async def fire(
    fake: FakeDiscord, requesters: Sequence[Requester], prompt: str = "a red fox in the snow"
) -> list[FakeInteraction]:
    """Dispatch one /imagine per requester, all at once (a burst)."""
    return list(
        await asyncio.gather(
            *(
                fake.invoke_command(
                    r.guild, r.guild.text_channel, r.user, "imagine", {"prompt": f"{prompt} {n}"}
                )
                for n, r in enumerate(requesters)
            )
        )
    )


def has_image(message: FakeMessage) -> bool:
    """Whether a message carries the generated image."""
    return bool(message.attachments)


async def wait_for_each(
    interactions: Sequence[FakeInteraction],
    done: Callable[[FakeInteraction], bool],
    *,
    timeout: float,
    description: str,
) -> list[float]:
    """Wait until ``done`` holds for every interaction; return when each was seen to.

    One waiter for the whole burst, checking only the interactions still pending.
    A waiter per interaction would wake hundreds of times at every change of the
    fake (and 50 times a second besides), taking the event loop from the bot being
    measured when it runs in this process. The times are ``loop.time()`` when the
    waiter saw the change, at most one event-loop pass after the fake made it.
    Raises FakeDiscordTimeout if some are still pending after ``timeout`` s.
    """
    loop = asyncio.get_running_loop()
    seen = [math.inf] * len(interactions)
    pending = list(range(len(interactions)))

    def all_done() -> bool | None:
        nonlocal pending
        now = loop.time()
        still = []
        for n in pending:
            if done(interactions[n]):
                seen[n] = now
            else:
                still.append(n)
        pending = still
        return not pending or None

    if interactions:
        await interactions[0].fake.wait_until(all_done, timeout, description)
    return seen


def delivered(interaction: FakeInteraction) -> bool:
    """Whether an interaction's response (or a followup) carries the generated image."""
    messages = [interaction.original_message, *interaction.followups]
    return any(m is not None and not m.deleted and has_image(m) for m in messages)


async def wait_delivered(interactions: Sequence[FakeInteraction], *, timeout: float) -> list[float]:
    """Wait until every interaction's response carries an image; return when each did."""
    return await wait_for_each(
        interactions, delivered, timeout=timeout, description="every image delivered"
    )


async def wait_acked(interactions: Sequence[FakeInteraction], *, timeout: float) -> list[float]:
    """Wait for every initial response; return the acknowledgement latencies in seconds.

    An interaction without an accepted initial response counts as ``inf``.
    """
    with contextlib.suppress(FakeDiscordTimeout):
        await wait_for_each(
            interactions,
            lambda i: i.callback is not None,
            timeout=timeout,
            description="every acknowledgement",
        )
    return [i.ack_latency if i.ack_latency is not None else float("inf") for i in interactions]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1)."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """Median, p99 and max of latencies given in seconds, in milliseconds."""
    return {
        "median_ms": statistics.median(values) * 1000,
        "p99_ms": percentile(values, 0.99) * 1000,
        "max_ms": max(values) * 1000,
    }


def noise_image(target_bytes: int, *, seed: int = 1) -> bytes:
    """A PNG of random pixels of about ``target_bytes`` (noise does not compress)."""
    side = int((target_bytes / 3) ** 0.5)
    rng = random.Random(seed)
    pixels = rng.randbytes(side * side * 3)
    image = Image.frombytes("RGB", (side, side), pixels)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """``VmRSS``, ``VmHWM`` and friends of a process from /proc, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if key.startswith(("Vm", "Rss")) and len(parts) == 2 and parts[1] == "kB":
            values[key] = int(parts[0]) * 1024
    return values


def cpu_pressure() -> float | None:
    """Percent of the last 10 s in which some runnable task waited for a CPU (Linux PSI)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=", 1) for part in first.split()[1:])
    return float(fields["avg10"]) if "avg10" in fields else None


def mib(n: float) -> float:
    """Bytes as MiB."""
    return n / (1024 * 1024)


def machine() -> dict[str, str]:
    """The machine and software the figures come from."""
    import aiohttp
    import discord
    import PIL

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": source_state(),
        "cpus (nproc)": str(os.cpu_count()),
        "usable cpus": str(len(os.sched_getaffinity(0))),
        "cpu model": cpu,
        "ram": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "discord.py": discord.__version__,
        "aiohttp": aiohttp.__version__,
        "pillow": PIL.__version__,
    }


def source_state() -> str:
    """The git commit of the checkout, and whether the bot's code has local changes."""
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"
    try:
        commit = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            [git, "status", "--porcelain", "--", "bot", "cogs"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (git failed)"
    return f"{commit} (bot/ and cogs/ have uncommitted changes)" if changed else commit


def write_json(path: str | None, results: dict[str, Any]) -> None:
    """Write ``results`` to ``path`` when given (for ``python -m bench``)."""
    if path:
        Path(path).write_text(json.dumps(results, indent=2, default=str))


REPO_ROOT = Path(__file__).resolve().parent.parent


class BotProcess:
    """A bot running as a child process (``python -m bot`` or ``python -m bench.barebot``).

    Its output (stdout and stderr together: the log) is read continuously, so the pipe
    never fills; ``ready`` is
    set when the log says ``Ready as``. The child runs in ``workdir`` so that no
    ``.env`` file of the developer's is picked up.
    """

    def __init__(self, module: str, env: dict[str, str], workdir: Path) -> None:
        self.module = module
        self.env = env
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.ready = asyncio.Event()
        self.log_tail: list[str] = []
        self.log_lines = 0
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        """Start the child."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.workdir)),
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            cwd=self.workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read_log())

    async def _read_log(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.log_lines += 1
            self.log_tail = [*self.log_tail[-49:], line]
            if "Ready as" in line:
                self.ready.set()

    async def wait_ready(self, timeout: float) -> None:
        """Wait for ``Ready as`` in the log; fail with the log's tail if it does not come."""
        assert self.proc is not None
        waiter = asyncio.create_task(self.ready.wait())
        exited = asyncio.create_task(self.proc.wait())
        done, _ = await asyncio.wait(
            {waiter, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        exited.cancel()
        if waiter not in done:
            tail = "\n".join(self.log_tail[-20:])
            raise RuntimeError(f"{self.module} did not become ready in {timeout} s:\n{tail}")

    def memory(self) -> dict[str, int]:
        """The child's /proc status figures (bytes)."""
        return proc_status(self.pid)

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM the child, wait for it (SIGKILL after ``timeout``); return its exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader
        assert self.proc.returncode is not None
        return self.proc.returncode


class LogCounter(logging.Handler):
    """Counts WARNING+ records of in-process bots instead of printing them all.

    The benchmarks print their figures; a burst that goes wrong would otherwise bury
    them under hundreds of tracebacks. The first record of each kind is kept.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: dict[str, int] = {}
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Count the record under its logger, level and message template."""
        key = f"{record.levelname} {record.name}: {record.msg}"
        self.counts[key] = self.counts.get(key, 0) + 1
        if key not in self.first:
            exc = record.exc_info[1] if record.exc_info else None
            self.first[key] = record.getMessage() + (f" [{exc!r}]" if exc else "")

    @classmethod
    def install(cls) -> LogCounter:
        """Replace the root logger's handlers with a counter; return it."""
        counter = cls()
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(counter)
        root.setLevel(logging.WARNING)
        return counter

    def summary(self, ignore: Sequence[str] = ("PyNaCl", "davey")) -> list[str]:
        """One line per kind of record, most frequent first, minus known noise."""
        lines = []
        for key, count in sorted(self.counts.items(), key=lambda kv: -kv[1]):
            if any(word in key for word in ignore):
                continue
            lines.append(f"{count} x {self.first[key][:200]}")
        return lines
