"""Start-up failures of the real process: exit 2 with one line, or retried in place."""

from __future__ import annotations

import asyncio
import re
import signal

from discord import voice_client

from tests.e2e.test_process import base_env, bot_env, closed_port, run_cli, spawn_bot

ATTEMPT = re.compile(r"Cannot reach Discord at (\S+) \(attempt (\d+)\): (.+); retrying in")


async def wait_for_log(path, predicate, timeout: float = 30.0) -> str:
    """The process's log once ``predicate(log)`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        if predicate(text):
            return text
        if loop.time() > deadline:
            raise AssertionError(f"the log never matched; it reads:\n{text}")
        await asyncio.sleep(0.1)


async def test_unreachable_discord_is_retried_one_line_per_attempt_then_sigterm_exits_0(
    onemin, tmp_path
):
    nowhere = f"http://127.0.0.1:{closed_port()}/api/v10"
    env = base_env(
        DISCORD_TOKEN="token",
        ONEMIN_API_KEY=onemin.api_key,
        DISCORD_API_URL=nowhere,
        DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3"),
    )
    log_path = tmp_path / "bot.log"
    process = await spawn_bot(env, tmp_path, log_path)
    try:
        log = await wait_for_log(log_path, lambda text: len(ATTEMPT.findall(text)) >= 2)
        # Still running: waiting, not crashing into a restart loop.
        assert process.returncode is None
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = log_path.read_text()
    assert code == 0, log
    attempts = ATTEMPT.findall(log)
    assert [number for _, number, _ in attempts[:2]] == ["1", "2"]
    assert all(url == nowhere for url, _, _ in attempts)
    assert "ClientConnectorError" in attempts[0][2]
    warnings = [line for line in log.splitlines() if " WARNING " in line or " ERROR " in line]
    assert warnings == [line for line in log.splitlines() if ATTEMPT.search(line)], (
        "one line per attempt and nothing else goes wrong"
    )
    assert "Traceback" not in log


async def test_a_token_discord_rejects_exits_2_with_one_line(discord_server, onemin, tmp_path):
    env = {**bot_env(discord_server, onemin, tmp_path), "DISCORD_TOKEN": "not-the-token"}
    code, out, err = await run_cli(env=env, cwd=tmp_path)
    assert code == 2, out + err
    assert err.strip().splitlines() == [
        "DISCORD_TOKEN: Discord rejected the token; copy it again from the Developer Portal"
        " (Bot > Reset Token)"
    ]
    assert "Traceback" not in out + err


async def test_an_unusable_database_path_exits_2_with_one_line_before_any_call(
    discord_server, onemin, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {
        **bot_env(discord_server, onemin, tmp_path),
        "DATABASE_PATH": str(blocker / "bot.sqlite3"),
    }
    code, out, err = await run_cli(env=env, cwd=tmp_path)
    assert code == 2, out + err
    [line] = err.strip().splitlines()
    assert line.startswith(f"DATABASE_PATH: cannot use {blocker / 'bot.sqlite3'}:")
    assert "Traceback" not in out + err
    assert discord_server.requests == [], "Discord is not called with a broken database"


async def test_a_database_path_that_is_a_folder_exits_2(discord_server, onemin, tmp_path):
    folder = tmp_path / "folder.sqlite3"
    folder.mkdir()
    env = {**bot_env(discord_server, onemin, tmp_path), "DATABASE_PATH": str(folder)}
    code, _out, err = await run_cli(env=env, cwd=tmp_path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("DATABASE_PATH:")


async def test_no_voice_library_warnings(discord_server, onemin, tmp_path):
    # PyNaCl and davey are not installed: discord.py would warn about voice at start.
    has_dave = getattr(voice_client, "has_dave", False)
    assert not (voice_client.has_nacl and has_dave), "nothing to silence here"
    env = bot_env(discord_server, onemin, tmp_path)
    code, out, err = await run_cli("sync", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "logging in using static token" in out, "the log is there, only the warning is not"
    assert "voice will NOT be supported" not in out + err
