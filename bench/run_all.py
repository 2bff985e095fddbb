"""Run every benchmark and write ``docs/benchmarks.md``.

    .venv/bin/python -m bench            # the same as python -m bench.run_all
    .venv/bin/python -m bench --quick    # smaller runs, for a smoke test (still writes the doc)

Each benchmark runs in its own process (``python -m bench.<name>``), one after the
other, so none inherits another's memory or event loop. Their output is echoed as it
comes and copied into the document with a summary table, the machine, and how to
reproduce the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, machine, mib

DOC = REPO_ROOT / "docs" / "benchmarks.md"


@dataclass
class Run:
    """One benchmark process: its command line, output, figures and duration."""

    name: str
    args: list[str]
    output: str = ""
    seconds: float = 0.0
    code: int = 0
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The command line to reproduce it."""
        return " ".join([".venv/bin/python", "-m", *self.args])


def execute(run: Run, json_path: Path | None) -> None:
    """Run one benchmark, echoing its output; keep output, figures and duration."""
    args = [*run.args, "--json", str(json_path)] if json_path else run.args
    print(f"\n$ {run.command}", flush=True)
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    run.seconds = time.perf_counter() - started
    run.code = proc.returncode
    run.output = "".join(lines).rstrip()
    if json_path is not None and json_path.exists():
        run.results = json.loads(json_path.read_text())
    print(f"({run.name}: {run.seconds:.0f} s, exit code {run.code})", flush=True)


def admission_figures(output: str) -> dict[str, dict[str, float]]:
    """Median and p99 (microseconds) of each admission line in bench.admission's output."""
    figures = {}
    for match in re.finditer(r"^(.+?): median (\d+) us, p99 (\d+) us", output, re.MULTILINE):
        figures[match.group(1)] = {
            "median_us": float(match.group(2)),
            "p99_us": float(match.group(3)),
        }
    return figures


def verdict(ok: bool) -> str:
    """The table's verdict column."""
    return "meets target" if ok else "**misses target**"


def summary_rows(runs: dict[str, Run]) -> list[tuple[str, str, str, str]]:
    """(benchmark, figure, target, verdict) rows for the summary table."""
    rows: list[tuple[str, str, str, str]] = []
    admission = admission_figures(runs["admission"].output) if "admission" in runs else {}
    for label, fig in admission.items():
        rows.append(
            (
                "admission",
                f"{label}: median {fig['median_us']:.0f} µs, p99 {fig['p99_us']:.0f} µs",
                "none set",
                "",
            )
        )
    for key in ("makespan", "makespan-child"):
        r = runs[key].results if key in runs else {}
        if r:
            rows.append(
                (
                    f"makespan ({r['mode']})",
                    f"{r['makespan_s']:.2f} s for {r['jobs']} jobs vs ideal {r['ideal_s']:.2f} s:"
                    f" ratio **{r['ratio']:.3f}**",
                    f"≤ {r['target_ratio']}",
                    verdict(r["ratio"] <= r["target_ratio"]),
                )
            )
    rows += edit_rows(runs)
    for ack in runs["burst"].results.get("ack", []) if "burst" in runs else []:
        where = ack["mode"] + (", cold start" if ack["cold"] else "")
        late = f"; over 3 s: {ack['late_ours']} / {ack['late_bare']}"
        for which, key in (("median", "median_ratio"), ("p99", "p99_ratio")):
            o, b = ack["ours"][f"{which}_ms"], ack["bare"][f"{which}_ms"]
            # The targets: p99 within 1.2x for 200 in a child process, and no
            # interaction past Discord's 3 s for 800; the other rows are for reading.
            if ack["mode"] == "child process" and not ack["cold"] and which == "p99":
                if ack["jobs"] <= 200:
                    target, ok = f"≤ {ack['target_ratio']}", ack[key] <= ack["target_ratio"]
                else:
                    target, ok = "none over 3 s", ack["late_ours"] == 0
            else:
                target, ok = "", None
            rows.append(
                (
                    f"acknowledgement {which}, burst of {ack['jobs']} ({where})",
                    f"imagine bot {o:.0f} ms vs bare bot {b:.0f} ms: ratio **{ack[key]:.2f}**"
                    + (late if which == "p99" else ""),
                    target,
                    verdict(ok) if ok is not None else "",
                )
            )
    mem = runs["burst"].results.get("memory") if "burst" in runs else None
    if mem:
        o, b = mem["ours"], mem["bare"]
        rows.append(
            (
                f"idle RSS, {mem['guilds']} servers",
                f"imagine bot {mib(o['idle']['VmRSS']):.1f} MiB vs bare bot"
                f" {mib(b['idle']['VmRSS']):.1f} MiB: ratio **{mem['idle_ratio']:.2f}**",
                f"≤ {mem['idle_target_ratio']}",
                verdict(mem["idle_ratio"] <= mem["idle_target_ratio"]),
            )
        )
        rows.append(
            (
                f"peak RSS, burst of {mem['jobs']} with {mem['image_bytes'] / 1e6:.0f} MB images",
                f"VmHWM **{o['peak_hwm'] / 1e6:.0f} MB** ({mib(o['peak_hwm']):.0f} MiB)",
                f"< {mem['peak_target_bytes'] / 1e6:.0f} MB",
                verdict(o["peak_hwm"] < mem["peak_target_bytes"]),
            )
        )
    return rows


def edit_rows(runs: dict[str, Run]) -> list[tuple[str, str, str, str]]:
    """Summary rows of ``bench.edits``: the edit makespan(s) and the edit memory peak."""
    rows: list[tuple[str, str, str, str]] = []
    for key in ("edits", "edits-child"):
        r = runs[key].results.get("makespan") if key in runs else None
        if r:
            rows.append(
                (
                    f"edit makespan ({r['mode']})",
                    f"{r['makespan_s']:.2f} s for {r['jobs']} edits vs ideal {r['ideal_s']:.2f} s"
                    f" (ceil(N/C) × (L + U), U = {r['mean_upload_s'] * 1000:.0f} ms measured"
                    f" upload): ratio **{r['ratio']:.3f}**",
                    f"≤ {r['target_ratio']}",
                    verdict(r["ratio"] <= r["target_ratio"]),
                )
            )
    mem = runs["edits"].results.get("memory") if "edits" in runs else None
    if mem:
        rows.append(
            (
                f"peak RSS, {mem['jobs']} edits of {mem['image_bytes'] / 1e6:.0f} MB images",
                f"VmHWM **{mem['peak_hwm'] / 1e6:.0f} MB** ({mib(mem['peak_hwm']):.0f} MiB)",
                f"< {mem['peak_target_bytes'] / 1e6:.0f} MB",
                verdict(mem["peak_hwm"] < mem["peak_target_bytes"]),
            )
        )
    return rows


def edit_observations(runs: dict[str, Run]) -> list[str]:
    """What explains the edit figures."""
    notes = []
    for key in ("edits", "edits-child"):
        r = runs[key].results.get("makespan") if key in runs else None
        if r:
            notes.append(
                f"Edit makespan ({r['mode']}): {r['makespan_s'] - r['ideal_s']:.2f} s over"
                f" ceil(N/C) × (L + U). Each edit's upload time U (its image's CDN request to"
                f" its IMAGE_EDITOR call, from the fakes' clocks) was"
                f" {r['mean_upload_s'] * 1000:.0f} ms on average (download median"
                f" {r['median_download_ms']:.0f} ms, upload median"
                f" {r['median_upload_ms']:.0f} ms, longest {r['max_upload_s'] * 1000:.0f} ms);"
                f" the API calls alone would take {r['ideal_calls_only_s']:.2f} s."
            )
    mem = runs["edits"].results.get("memory") if "edits" in runs else None
    if mem:
        notes.append(
            f"Memory while editing: VmRSS {mib(mem['idle_rss']):.0f} MiB idle, highest sampled"
            f" {mib(mem['peak_sampled_rss']):.0f} MiB, {mib(mem['rss_after']):.0f} MiB after the"
            f" last result; all {mem['uploads']} sources were uploaded byte for byte:"
            f" {mem['uploaded_byte_for_byte']}."
        )
    return notes


def observations(runs: dict[str, Run]) -> list[str]:
    """Facts from this run that explain the figures (computed, not written by hand)."""
    notes = []
    for key in ("makespan", "makespan-child"):
        r = runs[key].results if key in runs else {}
        if not r:
            continue
        idle = r["slot_idle_per_call_ms"] or 0.0
        rounds = -(-r["jobs"] // r["workers"])
        notes.append(
            f"Makespan ({r['mode']}): {r['makespan_s'] - r['ideal_s']:.2f} s over the ideal."
            f" The first API call started {r['first_call_after_s'] * 1000:.0f} ms after the"
            f" first /imagine (the last of the {r['jobs']} acknowledgements went out after"
            f" {r['max_ack_s'] * 1000:.0f} ms); after that an API slot sat idle"
            f" {idle:.1f} ms between two calls, about {idle * rounds / 1000:.2f} s over"
            f" {rounds} rounds; the last image was posted"
            f" {r['last_delivery_after_last_call_s'] * 1000:.0f} ms after the last API answer."
            f" API calls in flight: mean {r['mean_in_flight']:.2f}, max {r['max_in_flight']}"
            f" of {r['workers']}."
        )
    notes += edit_observations(runs)
    for ack in runs["burst"].results.get("ack", []) if "burst" in runs else []:
        where = ack["mode"] + (", cold start" if ack["cold"] else "")
        spread = ", ".join(f"{x:.2f}" for x in ack["round_p99_ratios"])
        note = (
            f"Acknowledgements, burst of {ack['jobs']} ({where}): the imagine bot's first"
            f" took {ack['ours_first_ms']:.0f} ms and its last {ack['ours']['max_ms']:.0f} ms;"
            f" the bare bot's {ack['bare_first_ms']:.0f} ms and {ack['bare']['max_ms']:.0f} ms."
            f" p99 ratio of each round (paired, sorted): {spread}."
        )
        wait = ack.get("commit_wait")
        if wait:
            note += (
                f" A request of the burst waited for its row's commit median"
                f" {wait['median_ms']:.1f} ms, p99 {wait['p99_ms']:.1f} ms."
            )
        notes.append(note)
    mem = runs["burst"].results.get("memory") if "burst" in runs else None
    if mem:
        o, b = mem["ours"], mem["bare"]
        steps = ", ".join(f"{t['delivered_upto']}: {mib(t['max_rss']):.0f}" for t in o["timeline"])
        notes.append(
            f"Memory under the burst: at most {o['images_in_bot_max']} images were between"
            f" the API's answer and their delivery at any sampled moment (mean"
            f" {o['images_in_bot_mean']:.1f}), yet the imagine bot's VmRSS rose from"
            f" {mib(o['idle']['VmRSS']):.0f} MiB idle to {mib(o['peak_hwm']):.0f} MiB and was"
            f" still {mib(o['rss_after_burst']):.0f} MiB after the last image (highest VmRSS in"
            f" MiB by images delivered so far: {steps}). The bare bot, which only defers,"
            f" peaked at {mib(b['peak_hwm']):.0f} MiB. Acknowledgements in these child runs"
            f" (fakes busy with 5 MB uploads): imagine bot median"
            f" {o['acks']['median_ms']:.0f} / p99 {o['acks']['p99_ms']:.0f} ms, bare bot"
            f" median {b['acks']['median_ms']:.0f} / p99 {b['acks']['p99_ms']:.0f} ms."
        )
    return notes


METHOD = """\
- Everything runs on 127.0.0.1 against the project's own fakes: `tests.support.fake_discord`
  (Discord REST + gateway) and `tests.support.fake_onemin` (the 1min.ai API, with a fixed
  `latency` per call and real images). The benchmarks' only change to the fakes: the
  fake Discord listens with a backlog of 1,024 connections instead of aiohttp's 128
  (`bench.common.BenchDiscord`). With 128, a bot that answers 200 interactions at once
  in the same process as the fake overflows the listen queue and the kernel's SYN
  retry adds exactly 1 s to a quarter of the answers; that second belongs to neither
  bot.
- **Admission** (`bench.admission`): a database with 1,000,000 request rows over 365
  days, 100 servers and 10,000 members; the time of the SQL admission check and of
  check + insert, and of what the bot does now: read a server's use once (its first
  request), then decide and charge in memory.
- **Makespan** (`bench.makespan`): N /imagine from N members over 40 servers, all
  dispatched at once, limits out of the way (`DEFAULT_USER_DAILY_LIMIT`,
  `DEFAULT_GUILD_DAILY_LIMIT`, `DEFAULT_MAX_QUEUE` = 100000, `DEFAULT_COOLDOWN_SECONDS`
  = 0). Makespan = first /imagine dispatched to last image delivered; ideal =
  ceil(N/C) × L. "In process" starts `bot.app.ImagineBot` like the end-to-end tests
  do (but with the production queue-position interval of 2 s), so the bot shares its
  event loop and CPU with the fakes; "child process" runs `python -m bot` with the
  fakes alone in the parent. The fake API serves one pre-encoded 1024×1024 WebP
  (~120 kB) so it spends no CPU drawing.
- **Edits** (`bench.edits`): the makespan of N /edit (same N, C and L as the
  makespan above), each member editing a 1024×1024 JPEG (~150 kB) of their own:
  in its API slot each job downloads the image from the fake Discord's CDN,
  uploads it to the fake Asset API and makes one IMAGE_EDITOR call of L
  seconds (the fake answers with one pre-encoded ~120 kB WebP). U, each job's
  upload time, runs from its image's CDN request to its IMAGE_EDITOR call
  (both fakes' clocks); ideal = ceil(N/C) × (L + mean U). "In process" and
  "child process" as for the makespan. Then the peak memory (VmHWM) of
  `python -m bot` in a child process while 50 edits of ~5 MB PNG sources
  (1290×1290, uploaded byte for byte) run at once, the fake answering each
  with a ~5 MB PNG.
- **Acknowledgement latency** (`bench.burst`, part 1): bursts of 200 and 800 /imagine
  across 40 servers dispatched at once; `ack_latency` = fake dispatching
  INTERACTION_CREATE → fake receiving the initial response (for the imagine bot under a
  burst, often a deferral that its answer replaces once the row is stored, as
  `bot/jobs/acks.py` explains). The imagine bot (its workers
  busy with the burst's jobs, API latency 0.5 s) against a bare discord.py
  `AutoShardedBot` whose /imagine only defers (`bench.barebot`), each against a fresh
  fake, four alternating rounds pooled; "in process" runs the bot in the benchmark's
  process and event loop (with the fakes), "child process" runs it alone as
  `python -m bot` / `python -m bench.barebot` (the fakes in the parent). Before each
  burst, each bot answers one uncounted /imagine per server (the imagine bot also
  delivers their images, the API answering at once), so first-use costs are paid and
  the workers are idle when the burst starts; the imagine bot's group commit figures
  come from the bot itself. "Cold start" bursts warm up only one server: every other
  server's first request reads its settings, blocked words and use from the database
  during the burst, as after a restart. The CPU pressure (Linux PSI, `/proc/pressure/cpu`
  avg10) before each burst shows how much other work on the machine disturbed it.
- **Memory** (`bench.burst`, part 2): each bot alone in a child process
  (`python -m bot`, `python -m bench.barebot`), the fakes in the parent, so the figures
  are the bot's alone, read from `/proc/<pid>/status`. Idle = VmRSS 2 s after the bot
  logged READY with 1,000 servers (median of five readings). Peak = VmHWM (the
  kernel's high-water mark of VmRSS) after the same 200-request burst, each image a
  ~5 MB PNG of noise (1290×1290; below Discord's 10 MiB limit, so nothing is
  re-encoded), until every image was delivered; VmRSS is also sampled every 20 ms.
  `--child-env NAME=VALUE` passes e.g. glibc malloc tunables to both children.
- The benchmarks wait for a whole burst with one waiter (`bench.common.wait_for_each`):
  until this run a waiter per interaction, each re-checking every 20 ms and at every
  change of the fake, took about a quarter of the event loop from a bot run in process.
- Limits: one machine, one run; the fakes answer in microseconds where Discord takes
  tens of milliseconds, so these figures isolate the bot's own costs and are not a
  prediction of production latency. On a machine shared with other work the rounds of
  one configuration can differ by 2x; the paired per-round ratios (each bot's round run
  back to back) and the CPU pressure say how much of a figure is noise.
"""


def render(runs: dict[str, Run], info: dict[str, str], quick: bool, total: float) -> str:
    """The Markdown document."""
    out = ["# Benchmarks", ""]
    out.append(
        "Generated by `python -m bench` (`bench/run_all.py`); do not edit by hand, run it"
        " again. Each benchmark also runs on its own, see *Reproducing*."
    )
    if quick:
        out += ["", "**This is a `--quick` run with smaller sizes: not the reference figures.**"]
    out += ["", "## Summary", "", "| benchmark | figure | target | verdict |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in summary_rows(runs)]
    notes = observations(runs)
    if notes:
        out += ["", "## Observations from this run", ""]
        out += [f"- {note}" for note in notes]
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "## What is measured", "", METHOD.rstrip()]
    out += ["", "## Reproducing", ""]
    out += [
        "From the repository root, in the project's virtualenv (`pip install -e '.[dev]'`),"
        " no network needed:",
        "",
        "```sh",
        ".venv/bin/python -m bench          # everything, rewrites docs/benchmarks.md",
    ]
    out += [f"{run.command:<44} # {run.seconds:.0f} s here" for run in runs.values()]
    out += [
        "```",
        "",
        "Options: `python -m bench.makespan --jobs N --workers C --latency L [--child]`;"
        " `python -m bench.edits --jobs N --workers C --latency L [--child] --memory-jobs M"
        " --image-mb S [--skip-makespan] [--skip-memory]`;"
        " `python -m bench.burst --bursts 200,800 --modes in-process,child --cold 200"
        " --jobs N --servers S --guilds G --rounds R --latency L --image-mb M"
        " [--child-env NAME=VALUE] [--skip-ack] [--skip-memory]`;"
        " `python -m bench.admission --rows N --samples N`.",
        "",
        f"The whole run took {total:.0f} s.",
    ]
    out += ["", "## Raw output", ""]
    for run in runs.values():
        out += [f"### `{run.command}` ({run.seconds:.0f} s, exit code {run.code})", ""]
        out += ["```", run.output, "```", ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--output", type=Path, default=DOC, help="where to write the document")
    args = parser.parse_args()
    if args.quick:
        plan = {
            "admission": ["bench.admission", "--rows", "100000", "--samples", "500"],
            "makespan": ["bench.makespan", "--jobs", "40"],
            "makespan-child": ["bench.makespan", "--jobs", "40", "--child"],
            "edits": ["bench.edits", "--jobs", "40", "--memory-jobs", "20"],
            "edits-child": ["bench.edits", "--jobs", "40", "--child", "--skip-memory"],
            "burst": [
                "bench.burst",
                *("--jobs", "40", "--bursts", "40,80", "--cold", "40"),
                *("--guilds", "100", "--rounds", "1"),
            ],
        }
    else:
        plan = {
            "admission": ["bench.admission"],
            "makespan": ["bench.makespan"],
            "makespan-child": ["bench.makespan", "--child"],
            "edits": ["bench.edits"],
            "edits-child": ["bench.edits", "--child", "--skip-memory"],
            # Four paired rounds per configuration: on a shared machine one round
            # alone says little.
            "burst": ["bench.burst", "--rounds", "4"],
        }
    info = machine()
    started = time.perf_counter()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args_ in plan.items():
            run = Run(name, args_)
            # bench.admission predates --json; its figures are read from its output.
            json_path = None if name == "admission" else Path(tmp) / f"{name}.json"
            execute(run, json_path)
            runs[name] = run
    total = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(runs, info, args.quick, total))
    print(f"\nwrote {args.output} ({total:.0f} s in all)")
    if any(run.code != 0 for run in runs.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
