"""The member's message: coalesced position edits, and nothing after the job started."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import discord

from bot.jobs.message import JobMessage, JobMessages, channel_nonce
from bot.storage.jobs import Job
from tests.support.jobs import make_job

FRESH_INTERACTION = discord.utils.time_snowflake(discord.utils.utcnow())


def job(**changes: Any) -> Job:
    """A queued job whose interaction was just answered (message 555)."""
    fresh = {
        "application_id": 99,
        "interaction_id": FRESH_INTERACTION,
        "interaction_token": "token",
        "result_message_id": 555,
    }
    return make_job(**{**fresh, **changes})


def recording(message: JobMessage) -> list[dict[str, Any]]:
    """Replace the Discord edit with a recorder (what would have been sent)."""
    sent: list[dict[str, Any]] = []

    async def edit(**fields: Any) -> None:
        if message.token_usable():
            sent.append(fields)

    message._edit = edit  # type: ignore[method-assign]
    return sent


async def settle(messages: JobMessages) -> None:
    for _ in range(50):
        await asyncio.sleep(messages.min_interval)
        if all(m._pump is None for m in messages._live.values()):
            return


async def test_rapid_moves_are_coalesced_into_the_newest_text():
    messages = JobMessages(discord.Client(intents=discord.Intents.none()), min_interval=0.02)
    message = messages.restored(job())
    sent = recording(message)
    for text in ("position 3", "position 2", "you are next"):
        message.show_queued(text)
    await settle(messages)
    assert sent == [{"content": "you are next"}]
    message.show_queued("you are next")  # already shown: nothing to send
    await settle(messages)
    assert len(sent) == 1


async def test_no_position_edit_lands_after_the_job_started():
    messages = JobMessages(discord.Client(intents=discord.Intents.none()), min_interval=0.05)
    message = messages.restored(job())
    sent = recording(message)
    message.show_queued("position 2")
    await message.show_running()
    message.show_queued("position 1")
    await settle(messages)
    assert sent == [{"content": "🎨 Generating your image…", "view": None}]


async def test_an_expired_token_is_never_used():
    old = discord.utils.time_snowflake(discord.utils.utcnow()) - (20 * 60 * 1000 << 22)
    messages = JobMessages(discord.Client(intents=discord.Intents.none()), min_interval=0.01)
    message = messages.restored(job(interaction_id=old))
    assert not message.token_usable()
    assert not messages.restored(job(id=2, interaction_token=None)).token_usable()
    assert messages.restored(job(id=3)).token_usable()


async def test_an_abandoned_answer_stops_the_job():
    messages = JobMessages(discord.Client(intents=discord.Intents.none()))
    message = messages.new(job(result_message_id=None))
    waiting = asyncio.create_task(message.wait_answered())
    await asyncio.sleep(0)
    assert not waiting.done()
    message.abandon()
    assert await waiting is False


def http_error(status: int, code: int, text: str) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason=text)
    return discord.HTTPException(response, {"code": code, "message": text})


async def test_a_token_discord_calls_dead_is_never_used_again_and_is_forgotten():
    forgotten: list[int] = []

    async def forget(job_id: int) -> None:
        forgotten.append(job_id)

    messages = JobMessages(discord.Client(intents=discord.Intents.none()), on_token_dead=forget)
    expired = messages.restored(job(id=7))
    await expired._check_token(http_error(401, 50027, "Invalid Webhook Token"))
    assert not expired.token_usable() and forgotten == [7]
    unknown = messages.restored(job(id=8))
    await unknown._check_token(http_error(404, 10015, "Unknown Webhook"))
    assert not unknown.token_usable() and forgotten == [7, 8]
    # Any other failure leaves the token alone.
    gone = messages.restored(job(id=9))
    await gone._check_token(http_error(404, 10008, "Unknown Message"))
    assert gone.token_usable() and forgotten == [7, 8]


def test_a_channel_nonce_is_the_same_for_every_attempt_and_fits_discords_25():
    first, again = job(id=3), job(id=3)
    assert channel_nonce(first) == channel_nonce(again) == str(FRESH_INTERACTION)
    assert len(channel_nonce(job(id=10**9, interaction_id=None))) <= 25


async def test_a_held_answer_is_released_when_the_job_is_about_to_start():
    messages = JobMessages(discord.Client(intents=discord.Intents.none()))
    message = messages.new(job(result_message_id=None))
    hold: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    holding = asyncio.create_task(message.held(hold))
    await asyncio.sleep(0)
    assert not holding.done()
    starting = asyncio.create_task(message.wait_answered())  # a worker took the job
    await asyncio.wait_for(holding, 5.0)
    assert hold.done()
    assert not starting.done(), "the worker still waits for the answer itself"
    message.abandon()
    assert await starting is False


async def test_an_answer_a_worker_already_wants_is_not_held():
    messages = JobMessages(discord.Client(intents=discord.Intents.none()))
    message = messages.new(job(result_message_id=None))
    starting = asyncio.create_task(message.wait_answered())  # the worker came first
    await asyncio.sleep(0)
    hold: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await asyncio.wait_for(message.held(hold), 5.0)
    assert not hold.done(), "returned without waiting for the quiet"
    message.abandon()
    assert await starting is False
