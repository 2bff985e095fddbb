"""A crash right after answering: every job a member was told about is in the database.

The bot answers a request only once its row is committed (group commit,
bot.storage.writer); under a burst it acknowledges first, and the answer
then replaces the "thinking" message (bot.jobs.acks). Here the real
`python -m bot` process is killed with SIGKILL by the fake Discord the
instant it receives the Kth answer of a burst, before the bot even sees
Discord's reply: nothing after the answer runs. Every answered job must
then be stored, and a restart must finish it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from tests.support.jobs import cancel_button_job

KILL_AFTER = 10
BURST = 40


def has_image(message) -> bool:
    return bool(message.attachments)


def bot_env(discord_server, onemin, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "DISCORD_TOKEN": discord_server.token,
        "ONEMIN_API_KEY": onemin.api_key,
        "DISCORD_API_URL": discord_server.api_url,
        "ONEMIN_API_URL": onemin.base_url,
        "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
        "DEFAULT_COOLDOWN_SECONDS": "0",
        **extra,
    }


async def spawn_bot(env: dict[str, str], cwd: Path, log_path: Path):
    """`python -m bot` in the background, its output in a file nobody has to read."""
    with log_path.open("wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, cwd=cwd, stdout=log, stderr=log
        )


def answered_job_id(interaction) -> int | None:
    """The job id on the Cancel button the member was shown, in the response itself or
    in the edit that replaced its "thinking" message (None for any other answer)."""
    message = interaction.original_message
    if interaction.name != "imagine" or message is None:
        return None
    return cancel_button_job(message)


async def test_a_kill_right_after_answers_leaves_every_answered_job_stored(
    discord_server, onemin, tmp_path, monkeypatch
):
    guild = discord_server.add_guild(name="Crash")
    members = [discord_server.add_member(guild, f"m{n}") for n in range(BURST)]
    # One worker and a slow API: no job can finish before the kill.
    onemin.latency = 30
    env = bot_env(
        discord_server, onemin, tmp_path, MAX_CONCURRENT_JOBS="1", DEFAULT_MAX_QUEUE="100"
    )
    process = await spawn_bot(env, tmp_path, tmp_path / "bot.log")
    try:
        await discord_server.wait_for_ready(15)
        await discord_server.wait_until(lambda: discord_server.commands or None, 10, "commands")

        notify = discord_server._notify
        killed: list[int] = []

        def kill_at_the_kth_answer() -> None:
            notify()
            answers = sum(
                1 for i in discord_server.interactions.values() if answered_job_id(i) is not None
            )
            if answers >= KILL_AFTER and not killed:
                # In the fake's handler, before it replies: the bot runs no further.
                os.kill(process.pid, signal.SIGKILL)
                killed.append(answers)

        monkeypatch.setattr(discord_server, "_notify", kill_at_the_kth_answer)
        interactions = await asyncio.gather(
            *(
                discord_server.invoke_command(
                    guild, guild.text_channel, m, "imagine", {"prompt": f"crash {m.username}"}
                )
                for m in members
            )
        )
        assert await asyncio.wait_for(process.wait(), 20) == -signal.SIGKILL
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    monkeypatch.setattr(discord_server, "_notify", notify)

    answered = {i.id: answered_job_id(i) for i in interactions if answered_job_id(i) is not None}
    assert len(answered) >= KILL_AFTER
    with sqlite3.connect(tmp_path / "data" / "bot.sqlite3") as db:
        stored = {
            interaction_id: (job_id, status)
            for job_id, interaction_id, status in db.execute(
                "SELECT id, interaction_id, status FROM requests"
            )
        }
    for interaction_id, job_id in answered.items():
        assert interaction_id in stored, f"answered job {job_id} is not in the database"
        assert stored[interaction_id][0] == job_id
        assert stored[interaction_id][1] in ("queued", "running")

    # After a restart, every member who was answered gets their image.
    onemin.latency = 0
    again = await spawn_bot({**env, "MAX_CONCURRENT_JOBS": "4"}, tmp_path, tmp_path / "again.log")
    try:
        for interaction in interactions:
            if interaction.id in answered:
                await interaction.wait_for_original(has_image, timeout=30)
    finally:
        again.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(again.wait(), 30) == 0
