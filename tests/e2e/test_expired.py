"""An answer that comes too late: the job is dropped quietly and not charged."""

from __future__ import annotations

import logging


async def test_an_interaction_that_expired_before_its_answer_is_cancelled_quietly(world, caplog):
    # Every first answer is now too late for Discord (as under a crushing burst).
    world.discord.initial_response_timeout = 0.0
    with caplog.at_level(logging.WARNING):
        late = await world.imagine(prompt="too late")
        row = await world.wait_for_row(1, "cancelled")
    assert late.callback is None, "Discord accepted no answer"
    assert row["interaction_token"] is None
    attempts = [
        r
        for r in world.discord.requests
        if r.path.startswith(
            (f"/interactions/{late.id}/", f"/webhooks/{world.discord.application_id}/")
        )
    ]
    assert len(attempts) == 1, "no error reply is tried on an interaction that cannot take one"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("expired before the answer" in r.getMessage() for r in caplog.records)
    # The late answer is this test's point, not a failure of the 3-second rule.
    assert world.discord.late_acknowledgements == [late]
    world.discord.late_acknowledgements.clear()

    # In time again, the member's quota was not used by the lost request.
    world.discord.initial_response_timeout = 3.0
    setting = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "limits set", {"user_daily": 1}
    )
    await setting.wait_for_original()
    again = await world.imagine(prompt="in time")
    callback = await again.wait_for_response()
    assert not callback.ephemeral, "the quota is whole: the request is queued"
