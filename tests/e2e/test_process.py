"""The real `python -m bot` process: configuration errors, signals, the CLI commands."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.storage.database import Database

SECRET_TOKEN = "very-secret-token-value"
SECRET_KEY = "very-secret-api-key"


def has_image(message) -> bool:
    return bool(message.attachments)


async def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 30):
    """Run `python -m bot ARGS`; return (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


async def spawn_bot(env: dict[str, str], cwd: Path, log_path: Path):
    """Start `python -m bot` in the background, its output going to ``log_path``.

    A file, not a pipe: nobody reads a pipe while the bot runs, and a full one
    would block the bot's logging.
    """
    with log_path.open("wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, cwd=cwd, stdout=log, stderr=log
        )


def base_env(**extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.update(extra)
    return env


def bot_env(discord_server, onemin, tmp_path: Path, **extra: str) -> dict[str, str]:
    return base_env(
        DISCORD_TOKEN=discord_server.token,
        ONEMIN_API_KEY=onemin.api_key,
        DISCORD_API_URL=discord_server.api_url,
        ONEMIN_API_URL=onemin.base_url,
        DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3"),
        DEFAULT_COOLDOWN_SECONDS="0",
        LOG_LEVEL="DEBUG",
        **extra,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_no_configuration_exits_2_naming_discord_token(tmp_path):
    code, _out, err = await run_cli(env=base_env(), cwd=tmp_path)
    assert code == 2
    assert err.strip().splitlines() == [
        "Configuration error: DISCORD_TOKEN: is required but not set"
    ]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ONEMIN_API_KEY", ""), ("MAX_CONCURRENT_JOBS", "lots"), ("DISCORD_API_URL", "nowhere")],
)
async def test_bad_configuration_exits_2_naming_the_variable_and_no_secret(
    tmp_path, variable, value
):
    env = base_env(**{"DISCORD_TOKEN": SECRET_TOKEN, "ONEMIN_API_KEY": SECRET_KEY, variable: value})
    code, out, err = await run_cli(env=env, cwd=tmp_path)
    assert code == 2
    [line] = err.strip().splitlines()
    assert variable in line
    assert SECRET_TOKEN not in out + err and SECRET_KEY not in out + err


async def test_dotenv_is_read_and_real_environment_wins(tmp_path):
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={SECRET_TOKEN}\nMAX_CONCURRENT_JOBS=nope\n")
    code, _, err = await run_cli(env=base_env(), cwd=tmp_path)
    assert code != 0
    assert "ONEMIN_API_KEY" in err  # the token came from .env
    # `check` reads every variable, like `run`, and ends at the unreachable Discord.
    nowhere = f"http://127.0.0.1:{closed_port()}/api/v10"
    code, out, err = await run_cli(
        "check",
        env=base_env(ONEMIN_API_KEY="k", MAX_CONCURRENT_JOBS="2", DISCORD_API_URL=nowhere),
        cwd=tmp_path,
    )
    assert "MAX_CONCURRENT_JOBS" not in err
    assert "ok: database" in out and err.startswith("DISCORD_API_URL:")


async def test_process_serves_then_exits_zero_on_sigterm_keeping_queued_jobs(
    discord_server, onemin, tmp_path
):
    guild = discord_server.add_guild(name="Proc")
    users = [discord_server.add_member(guild, f"u{n}") for n in range(3)]
    env = bot_env(
        discord_server, onemin, tmp_path, MAX_CONCURRENT_JOBS="1", SHUTDOWN_GRACE_SECONDS="5"
    )
    log_path = tmp_path / "bot.log"
    process = await spawn_bot(env, tmp_path, log_path)
    try:
        await discord_server.wait_for_ready(15)
        await discord_server.wait_until(lambda: discord_server.commands or None, 10, "commands")
        onemin.latency = 0.5
        interactions = []
        for user in users:
            interaction = await discord_server.invoke_command(
                guild, guild.text_channel, user, "imagine", {"prompt": f"by {user.username}"}
            )
            callback = await interaction.wait_for_response()
            assert interaction.ack_latency < 3
            assert not callback.ephemeral
            interactions.append(interaction)
        await discord_server.wait_until(lambda: onemin.requests or None, 5, "first API call")
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = log_path.read_text()
    assert code == 0, log
    assert "Signal received" in log
    assert onemin.api_key not in log and discord_server.token not in log
    rows = (
        sqlite3.connect(tmp_path / "data" / "bot.sqlite3")
        .execute("SELECT status FROM requests ORDER BY id")
        .fetchall()
    )
    assert [r[0] for r in rows] == ["succeeded", "queued", "queued"]

    # A new process delivers the queued jobs.
    onemin.latency = 0.0
    again = await spawn_bot(env, tmp_path, tmp_path / "again.log")
    try:
        for interaction in interactions:
            await interaction.wait_for_original(has_image, timeout=20)
        assert discord_server.command_sync_count == 1, "unchanged commands are not synced again"
    finally:
        again.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(again.wait(), 20) == 0


async def test_sync_forces_a_sync(discord_server, onemin, tmp_path):
    env = bot_env(discord_server, onemin, tmp_path)
    for expected in (1, 2):
        code, _out, err = await run_cli("sync", env=env, cwd=tmp_path)
        assert code == 0, err
        assert discord_server.command_sync_count == expected


async def test_check_reports_token_database_and_invite(discord_server, onemin, tmp_path):
    env = bot_env(discord_server, onemin, tmp_path)
    code, out, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 0, err
    assert f"client_id={discord_server.application_id}" in out
    assert "scope=bot+applications.commands" in out and "permissions=274877959168" in out

    bad = {**env, "DISCORD_TOKEN": "wrong-token"}
    code, out, err = await run_cli("check", env=bad, cwd=tmp_path)
    assert code != 0
    assert err.strip().splitlines() == ["DISCORD_TOKEN: Discord rejected the token"]

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    unwritable = {**env, "DATABASE_PATH": str(blocker / "bot.sqlite3")}
    code, out, err = await run_cli("check", env=unwritable, cwd=tmp_path)
    assert code != 0
    [line] = err.strip().splitlines()
    assert line.startswith("DATABASE_PATH:")


async def test_imagine_cli_and_backup(discord_server, onemin, tmp_path):
    env = bot_env(discord_server, onemin, tmp_path)
    target = tmp_path / "out.webp"
    code, _, err = await run_cli(
        "imagine", "a test image", "-o", str(target), env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert target.read_bytes() == onemin.served_images[-1]

    live = await Database.open(tmp_path / "data" / "bot.sqlite3")
    await live.close()
    code, _out, err = await run_cli("backup", str(tmp_path / "copy.sqlite3"), env=env, cwd=tmp_path)
    assert code == 0, err
    tables = (
        sqlite3.connect(tmp_path / "copy.sqlite3")
        .execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetchall()
    )
    assert ("requests",) in tables
