"""Answers held back while other interactions wait for their acknowledgement."""

from __future__ import annotations

import asyncio

from bot.jobs.acks import Acknowledgements

QUIET = 0.05


async def test_an_answer_goes_at_once_when_no_acknowledgement_is_pending():
    acks = Acknowledgements(quiet=0.0, max_hold=5.0)
    assert acks.hold().done()


async def test_an_answer_waits_until_the_last_pending_acknowledgement_and_a_quiet_spell():
    acks = Acknowledgements(quiet=QUIET, max_hold=5.0)
    with acks.awaiting() as first_acked, acks.awaiting() as second_acked:
        held = acks.hold()
        first_acked()
        await asyncio.sleep(2 * QUIET)
        assert not held.done(), "one interaction still waits for its acknowledgement"
        second_acked()
        assert acks.waiting == 0
        await asyncio.sleep(0)
        assert not held.done(), "the burst may not be over yet"
        await asyncio.wait_for(held, 5.0)


async def test_a_new_interaction_during_the_quiet_spell_keeps_the_answers_held():
    acks = Acknowledgements(quiet=QUIET, max_hold=5.0)
    with acks.awaiting() as acked:
        held = acks.hold()
        acked()
    with acks.awaiting():  # the next interaction of the burst arrives
        await asyncio.sleep(3 * QUIET)
        assert not held.done()
    await asyncio.wait_for(held, 5.0)


async def test_leaving_the_block_counts_as_acknowledged_once():
    acks = Acknowledgements(quiet=QUIET, max_hold=5.0)
    with acks.awaiting() as acked:
        acked()
        acked()
    assert acks.waiting == 0


async def test_no_answer_is_held_longer_than_max_hold_under_a_steady_stream():
    acks = Acknowledgements(quiet=QUIET, max_hold=0.2)
    with acks.awaiting():
        held = acks.hold()
        await asyncio.wait_for(held, 5.0)
        assert acks.waiting == 1, "released by the cap, not by a quiet spell"
        assert not acks._held, "a released answer is not kept"


async def test_the_holder_may_release_its_answer_early():
    acks = Acknowledgements(quiet=QUIET, max_hold=5.0)
    with acks.awaiting():
        held = acks.hold()
        held.set_result(None)  # as JobMessage.wait_answered does for a job about to start
        await asyncio.sleep(0)
        assert not acks._held, "a released answer is not kept"
