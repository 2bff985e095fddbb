"""Acknowledged first under a burst: "thinking" at once, the answer once the row is stored.

A request whose row would wait behind a batch already being written is
acknowledged at once (a deferred response, as a bare bot's), and its answer
replaces the "thinking" message when the row is committed, after the other
interactions of the burst have had their acknowledgement (bot.jobs.acks).
Here the batch in flight is held at the database until the test lets it go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from bot.storage import jobs as job_store
from tests.support.fake_discord.models import CallbackType, FakeMessage
from tests.support.jobs import cancel_button_job


def place(text: str) -> int:
    """The place in the queue a queued answer shows."""
    if text.startswith("⏳ Queued: you are next"):
        return 1
    return int(text.split("position ", 1)[1].split(" ", 1)[0])


class HeldInserts:
    """Holds each batch of new rows at the database until the test releases it."""

    def __init__(self) -> None:
        self.gates: list[asyncio.Event] = []
        self.open = False

    def gate(self, batch: int) -> asyncio.Event:
        """The event batch number ``batch`` (0 the first) waits for."""
        while len(self.gates) <= batch:
            self.gates.append(asyncio.Event())
            if self.open:
                self.gates[-1].set()
        return self.gates[batch]

    def release(self, batch: int | None = None) -> None:
        """Let one batch through, or (None) every batch from now on."""
        if batch is not None:
            self.gate(batch).set()
            return
        self.open = True
        for gate in self.gates:
            gate.set()


@pytest.fixture
def held_inserts(monkeypatch) -> Iterator[HeldInserts]:
    """New rows reach the database only when the test lets their batch through."""
    held = HeldInserts()
    insert_rows = job_store.insert_rows
    calls = 0

    async def holding(db, rows):
        nonlocal calls
        batch, calls = calls, calls + 1
        await held.gate(batch).wait()
        return await insert_rows(db, rows)

    monkeypatch.setattr(job_store, "insert_rows", holding)
    yield held
    held.release()


async def test_a_request_behind_a_batch_in_flight_is_acknowledged_then_answered(
    world, held_inserts
):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1")
    world.api.hold()  # the first job keeps the worker: the second stays queued
    first = await world.imagine(prompt="first")
    writer = world.bot.jobs.writer
    await world.discord.wait_until(lambda: writer.busy or None, 5, "the first batch in flight")

    second = await world.imagine(world.bob, prompt="second")
    callback = await second.wait_for_response()
    assert callback.type == CallbackType.DEFERRED_CHANNEL_MESSAGE
    assert second.original_message is not None and second.original_message.loading
    rows = await world.bot.db.fetchall("SELECT id FROM requests")
    assert rows == [], "acknowledged before any row was stored: nothing promised yet"
    # The first found the writer idle, but its commit is slow: after a moment it is
    # acknowledged first too.
    assert (await first.wait_for_response()).type == CallbackType.DEFERRED_CHANNEL_MESSAGE

    held_inserts.release()
    answered = await second.wait_for_original()
    assert answered.content.startswith("⏳ Queued: ")
    job_id = cancel_button_job(answered)
    assert job_id is not None, "the answer carries the Cancel button"
    row = await world.wait_for_row(job_id, "queued")
    assert row["prompt"] == "second"
    await first.wait_for_original()

    world.api.release()
    done = await second.wait_for_original(lambda m: bool(m.attachments), timeout=10)
    assert done.id == answered.id, "the image replaces the answer the member was shown"
    stored = await world.wait_for_row(job_id, "succeeded")
    assert stored["result_message_id"] == answered.id


async def test_a_request_is_answered_directly_when_its_row_is_stored_at_once(world):
    interaction = await world.imagine(prompt="alone")
    callback = await interaction.wait_for_response()
    assert callback.type == CallbackType.CHANNEL_MESSAGE, "one request to Discord, not two"
    assert callback.data["content"].startswith(("⏳ Queued: ", "🎨 Generating"))


async def test_held_answers_wait_for_the_bursts_pending_acknowledgements(world, held_inserts):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1", DEFAULT_MAX_QUEUE="20")
    world.api.hold()
    first = await world.imagine(prompt="first")  # its batch (0) is held
    # Discord is slow to take the first one's acknowledgement.
    slow = world.discord.hold_requests(f"/interactions/{first.id}/")
    writer = world.bot.jobs.writer
    await world.discord.wait_until(lambda: writer.busy or None, 5, "the first batch in flight")
    members = [world.discord.add_member(world.guild, f"m{n}") for n in range(8)]
    asked = (world.imagine(m, prompt=f"burst {n}") for n, m in enumerate(members))
    burst = list(await asyncio.gather(*asked))
    for interaction in burst:
        assert (await interaction.wait_for_response()).type == CallbackType.DEFERRED_CHANNEL_MESSAGE

    # The burst's rows (batch 1) are stored while the first one's acknowledgement is
    # still on its way: their answers must not compete with it.
    held_inserts.release(1)
    await world.discord.wait_until(lambda: world.api.in_flight == 1 or None, 5, "one job started")
    await asyncio.sleep(0.3)  # far longer than the quiet spell the answers wait for

    def answered() -> list[FakeMessage]:
        return [
            i.original_message
            for i in burst
            if i.original_message is not None and not i.original_message.loading
        ]

    assert first.callback is None
    assert len(answered()) == 1, "only the job the worker started was answered"

    slow.set()
    await first.wait_for_response()
    answers = [await i.wait_for_original() for i in burst]
    # The started job shows it is running; each other answer shows the place its
    # job had when the answer was sent.
    running = [a for a in answers if a.content == "🎨 Generating your image…"]
    assert len(running) == 1
    assert sorted(place(a.content) for a in answers if a not in running) == list(range(1, 8))
    held_inserts.release()
    await first.wait_for_original()
    world.api.release()


async def test_an_early_acknowledgement_discord_refuses_cancels_the_job_quietly(
    world, held_inserts, caplog
):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1")
    first = await world.imagine(prompt="first")
    writer = world.bot.jobs.writer
    await world.discord.wait_until(lambda: writer.busy or None, 5, "the first batch in flight")
    world.discord.initial_response_timeout = 0.0  # every acknowledgement is now too late
    with caplog.at_level(logging.WARNING):
        late = await world.imagine(world.bob, prompt="too late")
        await world.discord.wait_until(
            lambda: late in world.discord.late_acknowledgements or None, 5, "the refused defer"
        )
        held_inserts.release()
        await world.discord.wait_until(
            lambda: first in world.discord.late_acknowledgements or None, 5, "the first answer"
        )
        late_row = await world.wait_for_row(2, "cancelled")
    assert late.callback is None and late.original_message is None
    assert (late_row["prompt"], late_row["interaction_token"]) == ("too late", None)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The late answers are this test's point, not a failure of the 3-second rule.
    world.discord.late_acknowledgements.clear()
    world.discord.initial_response_timeout = 3.0

    # Not charged: bob's quota of one is whole.
    setting = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "limits set", {"user_daily": 1}
    )
    await setting.wait_for_original()
    again = await world.imagine(world.bob, prompt="in time")
    assert not (await again.wait_for_response()).ephemeral


async def test_buttons_and_forms_behind_a_batch_in_flight_are_acknowledged_as_new_messages(
    world, held_inserts
):
    held_inserts.release(0)
    result = await (await world.imagine(prompt="a castle")).wait_for_original(
        lambda m: bool(m.attachments), timeout=10
    )
    await world.imagine(world.mod, prompt="holding the writer")  # batch 1, held
    writer = world.bot.jobs.writer
    await world.discord.wait_until(lambda: writer.busy or None, 5, "a batch in flight")

    reroll = await world.discord.click_button(result, "imagine:reroll:1", world.bob)
    remix = await world.discord.click_button(result, "imagine:remix:1", world.alice)
    await remix.wait_for_response()
    submit = await world.discord.submit_modal(remix, values={"prompt": "a castle at dusk"})
    for interaction in (reroll, submit):
        callback = await interaction.wait_for_response()
        assert callback.type == CallbackType.DEFERRED_CHANNEL_MESSAGE, "a new message, thinking"
        assert interaction.original_message is not None
        assert interaction.original_message.id != result.id

    held_inserts.release()
    for interaction in (reroll, submit):
        answer = await interaction.wait_for_original()
        # Queued or running; on a fast machine it may already be the result.
        assert answer.content.startswith(("⏳ Queued: ", "🎨 Generating")) or answer.attachments
        done = await interaction.wait_for_original(lambda m: bool(m.attachments), timeout=10)
        assert done.id == answer.id
    assert not result.deleted and result.attachments, "the first result is left as it was"
