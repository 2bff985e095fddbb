"""The job queue end to end: fairness, the concurrency bound, positions, cancel, restarts."""

from __future__ import annotations

import asyncio


def has_image(message) -> bool:
    return bool(message.attachments)


async def test_a_busy_server_cannot_starve_a_quiet_one(world, discord_server):
    """With one worker, server A queues 6, then B queues 1: B's job runs second."""
    await world.harness.restart(MAX_CONCURRENT_JOBS="1", DEFAULT_MAX_QUEUE="10")
    world.api.hold()  # the first job keeps the worker until everyone queued
    other = discord_server.add_guild(name="Quiet Server")
    carol = discord_server.add_member(other, "carol")
    busy = [discord_server.add_member(world.guild, f"a{n}") for n in range(6)]
    for n, member in enumerate(busy):
        await (await world.imagine(member, prompt=f"busy {n}")).wait_for_response()
    quiet = await discord_server.invoke_command(
        other, other.text_channel, carol, "imagine", {"prompt": "quiet"}
    )
    await quiet.wait_for_response()
    world.api.release()
    await quiet.wait_for_original(has_image, timeout=10)
    prompts = [call.json["promptObject"]["prompt"] for call in world.api.requests]
    # The quiet server's job is the second call: right after the one already running.
    assert prompts[:2] == ["busy 0", "quiet"]


async def test_workers_bound_api_calls_in_flight(world):
    await world.harness.restart(MAX_CONCURRENT_JOBS="4", DEFAULT_MAX_QUEUE="25")
    world.api.hold()
    members = [world.discord.add_member(world.guild, f"m{n}") for n in range(20)]
    interactions = [await world.imagine(m, prompt=f"job {n}") for n, m in enumerate(members)]
    await world.discord.wait_until(lambda: world.api.in_flight == 4, 10, "four calls")
    for interaction in interactions:
        await interaction.wait_for_response()
    assert world.api.in_flight == 4
    world.api.release()
    world.api.latency = 0.05
    for interaction in interactions:
        await interaction.wait_for_original(has_image, timeout=20)
    assert world.api.max_in_flight == 4


async def test_queued_response_shows_its_position_as_it_moves(world):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1")
    world.api.hold()
    # Long enough per job for an edit's round trip, also with --discord-latency.
    world.api.latency = 0.3 + 4 * world.discord.latency
    members = [world.discord.add_member(world.guild, f"m{n}") for n in range(3)]
    for n, member in enumerate(members):
        await (await world.imagine(member, prompt=f"first {n}")).wait_for_response()
    last = await world.imagine(prompt="mine")
    await last.wait_for_response()
    assert "position 3" in last.original_message.content
    world.api.release()
    message = await last.wait_for_original(has_image, timeout=10)
    seen = [edit.before.get("content", "") for edit in message.edits] + [message.content]
    texts = [t for t in seen if t]
    assert any("position 2" in t for t in texts), texts
    assert any("you are next" in t for t in texts), texts
    assert any("Generating" in t for t in texts), texts


async def test_two_requests_at_the_same_instant_show_places_one_and_two(world):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1")
    world.api.hold()
    busy = await world.imagine(world.bob, prompt="keeps the worker busy")
    await busy.wait_for_response()
    await world.wait_for_row(1, "running")
    first, second = await asyncio.gather(
        world.imagine(world.alice, prompt="one"), world.imagine(world.mod, prompt="two")
    )
    await asyncio.gather(first.wait_for_response(), second.wait_for_response())
    texts = sorted([first.original_message.content, second.original_message.content])
    assert "position 2" in texts[0], texts
    assert "you are next" in texts[1], texts
    world.api.release()


async def test_cancel_removes_a_queued_job_without_charge(world):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1", DEFAULT_USER_DAILY_LIMIT="1")
    world.api.hold()  # the first job runs until the second one is cancelled
    blocker = await world.imagine(world.bob, prompt="running first")
    await blocker.wait_for_response()
    queued = await world.imagine(prompt="to cancel")
    await queued.wait_for_response()
    original = queued.original_message
    assert original.find_component("imagine:cancel:2") is not None

    # Someone else cannot cancel it.
    stranger = await world.discord.click_button(original, "imagine:cancel:2", world.bob)
    assert "Only the requester" in (await stranger.wait_for_original()).content
    assert stranger.ephemeral

    click = await world.discord.click_button(original, "imagine:cancel:2", world.alice)
    await click.wait_for_response()
    assert "Cancelled" in original.content
    assert original.components == []
    await world.wait_for_row(2, "cancelled")
    world.api.release()
    await blocker.wait_for_original(has_image, timeout=10)
    prompts = [call.json["promptObject"]["prompt"] for call in world.api.requests]
    assert "to cancel" not in prompts
    # Not charged: alice's one image a day is still free.
    again = await world.imagine(prompt="after cancel")
    await again.wait_for_original(has_image, timeout=10)


async def test_shutdown_keeps_queued_jobs_and_a_restart_delivers_them(world):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1", SHUTDOWN_GRACE_SECONDS="3")
    world.api.hold()  # the first job runs until the shutdown began
    members = [world.discord.add_member(world.guild, f"m{n}") for n in range(4)]
    interactions = [await world.imagine(m, prompt=f"job {n}") for n, m in enumerate(members)]
    for interaction in interactions:
        await interaction.wait_for_response()
    await world.wait_for_row(1, "running")
    while any(world.bot.jobs.position(job_id) is None for job_id in range(2, 5)):
        await asyncio.sleep(0.01)
    stopping = asyncio.create_task(world.harness.stop())
    await asyncio.sleep(0.05)
    # While running jobs finish, a new request is told the bot is restarting.
    late = await world.imagine(world.bob, prompt="too late")
    assert "restarting" in (await late.wait_for_original()).content
    assert late.ephemeral
    world.api.release()
    await stopping
    rows = await _statuses(world)
    assert rows.count("succeeded") == 1  # the running job was allowed to finish
    assert rows.count("queued") == 3

    await world.harness.start()
    for interaction in interactions:
        await interaction.wait_for_original(has_image, timeout=15)
    for job_id in range(1, 5):
        await world.wait_for_row(job_id, "succeeded")


async def test_an_expired_token_turns_the_result_into_a_channel_message(world):
    world.api.latency = 0.5
    interaction = await world.imagine(prompt="slow one")
    await interaction.wait_for_response()
    world.discord.expire_interaction(interaction)
    row = await world.wait_for_row(1, "succeeded")
    message = world.discord.messages[row["result_message_id"]]
    assert message.interaction is None  # a normal channel message
    assert message.content.startswith(f"<@{world.alice.id}>")
    assert message.mentions == []  # named, not pinged
    assert message.attachments


async def test_a_result_for_a_forbidden_channel_is_marked_failed(world):
    world.api.latency = 0.3
    interaction = await world.imagine(prompt="into the void")
    await interaction.wait_for_response()
    world.discord.expire_interaction(interaction)
    world.channel.forbidden = True  # the bot lost its permission meanwhile
    row = await world.wait_for_row(1, "failed")
    assert row["error_kind"] == "undeliverable"


async def _statuses(world) -> list[str]:
    import aiosqlite

    async with aiosqlite.connect(world.harness.db_path) as conn:
        cursor = await conn.execute("SELECT status FROM requests ORDER BY id")
        return [r[0] for r in await cursor.fetchall()]


async def test_an_expired_token_is_used_at_most_once_then_the_channel_gets_the_result(world):
    """A token answering 401/50027 is dead: no more edits with it, the result to the channel."""
    await world.harness.restart(MAX_CONCURRENT_JOBS="1")
    world.api.latency = 0.4
    blocker = await world.imagine(world.bob, prompt="keeps the worker busy")
    await blocker.wait_for_response()
    mine = await world.imagine(prompt="after the token died")
    await mine.wait_for_response()
    world.discord.expire_interaction(mine)
    # Moves in the queue, the start and the result would each have used the token.
    row = await world.wait_for_row(2, "succeeded")
    on_token = [r for r in world.discord.requests if mine.token in r.path]
    [dead] = [r for r in on_token if r.status == 401]
    assert dead.response == {"message": "Invalid Webhook Token", "code": 50027}
    assert on_token[-1] is dead, "nothing after the 401"
    message = world.discord.messages[row["result_message_id"]]
    assert message.interaction is None and message.attachments
    assert message.content.startswith(f"<@{world.alice.id}>") and message.mentions == []
    # Remembered in the database: not used after a restart either.
    stored = await world.bot.db.fetchone("SELECT interaction_token FROM requests WHERE id = 2")
    assert stored["interaction_token"] is None


async def test_a_busy_queue_under_rate_limits_delivers_every_result(world, discord_server):
    """25 jobs in one channel, its webhook messages under a tight shared limit."""
    await world.harness.restart(MAX_CONCURRENT_JOBS="1", DEFAULT_MAX_QUEUE="30")
    world.api.latency = 0.15
    # Discord's hidden limit on a channel's webhook messages (reported 30 per 60 s),
    # scaled down: more than the bot's edits can stay under without slowing.
    discord_server.ratelimits.channel_webhook = (10, 1.0)
    members = [world.discord.add_member(world.guild, f"m{n}") for n in range(25)]
    interactions = []
    for n, member in enumerate(members):
        interaction = await world.imagine(member, prompt=f"job {n}")
        await interaction.wait_for_response()
        interactions.append(interaction)
    for interaction in interactions:
        await interaction.wait_for_original(has_image, timeout=60)
    for job_id in range(1, 26):
        await world.wait_for_row(job_id, "succeeded")
    limited = discord_server.ratelimits.count_429()
    edits = [r for r in discord_server.requests if r.method == "PATCH" and "/webhooks/" in r.path]
    print(f"25 jobs: {len(edits)} webhook edits, {limited} answered 429")
    # Every 429 was a shared one (the bot kept to the buckets the headers showed), and
    # the position edits backed off instead of running into the limit again and again
    # (measured: about 10 with the back-off, over 100 without it).
    assert discord_server.ratelimits.count_429("user") == 0
    assert limited <= 25, limited
    assert world.bot.rate_limits.count == limited


async def test_the_api_call_does_not_wait_for_the_running_mark(world, monkeypatch):
    """The running mark is written beside the API call, and before anything after it."""
    from bot.storage import jobs as job_store

    gate = asyncio.Event()
    mark_running = job_store.mark_running

    async def held(*args, **kwargs):
        await gate.wait()
        await mark_running(*args, **kwargs)

    monkeypatch.setattr(job_store, "mark_running", held)
    interaction = await world.imagine(prompt="no waiting")
    await world.discord.wait_until(lambda: world.api.requests or None, 5, "the API call")
    row = await world.wait_for_row(1, "queued")
    assert row["attempts"] == 0, "the call went out while the mark was still on its way"
    await asyncio.sleep(0.1)
    assert not has_image(interaction.original_message), "nothing is delivered before the mark"
    gate.set()
    await interaction.wait_for_original(has_image, timeout=10)
    row = await world.wait_for_row(1, "succeeded")
    assert row["attempts"] == 1
    assert row["started_at"] is not None and row["finished_at"] >= row["started_at"]
