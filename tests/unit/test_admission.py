"""The in-memory usage book: windows, cooldown, resets, refunds, loading, and the SQL's word."""

import asyncio
import random

import pytest

from bot.jobs.admission import GuildUsage, UsageBook
from bot.limits import DAY, Limit, Limits, RefusedError, Usage
from bot.storage import jobs as job_store
from bot.storage.jobs import NewRequest, Status
from bot.storage.limits import GuildUsageRows, admit, load_guild_usage, reset_member, usage
from tests.support.jobs import make_job

NOW = 1_800_000_000.0
GUILD = 100
OPEN = Limits(user_daily=100, guild_daily=1000, cooldown_seconds=0, max_queue=100)


def req(user=1, guild=GUILD):
    return NewRequest(guild_id=guild, channel_id=5, user_id=user, prompt="p", aspect_ratio=None)


def job(job_id, user=1, guild=GUILD):
    """A job as the service would tell the book about it (only ids matter here)."""
    return make_job(
        id=job_id, guild_id=guild, channel_id=5, user_id=user, prompt="p", created_at=NOW
    )


def empty_book():
    async def load(guild_id, since):
        return GuildUsageRows(requests=[], resets={})

    return UsageBook(load, clock=lambda: NOW)


def admitted(usage: GuildUsage, job_id: int, user=1, *, at=NOW, limits=OPEN):
    charge = usage.admit(user, limits, now=at)
    usage.stored(charge, job_id)
    return charge


def refused_by(usage: GuildUsage, limits: Limits, user=1, *, at=NOW) -> Limit:
    with pytest.raises(RefusedError) as info:
        usage.admit(user, limits, now=at)
    return info.value.refusal.limit


# -- windows, cooldown, queue ------------------------------------------------------------


def test_the_rolling_windows_count_the_last_24_hours():
    usage = GuildUsage()
    admitted(usage, 1, user=1, at=NOW - DAY + 10)
    admitted(usage, 2, user=1, at=NOW - 100)
    admitted(usage, 3, user=2, at=NOW - 50)
    assert usage.usage(1, now=NOW) == Usage(
        user_count=2,
        user_oldest=NOW - DAY + 10,
        user_latest=NOW - 100,
        guild_count=3,
        guild_oldest=NOW - DAY + 10,
        queued=3,
    )
    # Ten seconds later the oldest leaves both windows (but still waits in the queue).
    later = usage.usage(1, now=NOW + 10)
    assert (later.user_count, later.user_oldest, later.guild_count) == (1, NOW - 100, 2)
    assert later.queued == 3


def test_limits_refuse_in_the_spec_order_and_free_up_as_the_window_moves():
    usage = GuildUsage()
    limits = Limits(user_daily=2, guild_daily=3, cooldown_seconds=60, max_queue=10)
    admitted(usage, 1, user=1, at=NOW - 1000, limits=limits)
    assert refused_by(usage, limits, user=1, at=NOW - 990) is Limit.COOLDOWN
    admitted(usage, 2, user=1, at=NOW - 900, limits=limits)
    assert refused_by(usage, limits, user=1, at=NOW) is Limit.USER_DAILY
    admitted(usage, 3, user=2, at=NOW, limits=limits)
    assert refused_by(usage, limits, user=3, at=NOW) is Limit.GUILD_DAILY
    # A day after the first request, its slot is free for member 1 and the server.
    admitted(usage, 4, user=1, at=NOW - 1000 + DAY + 1, limits=limits)


def test_the_queue_counts_waiting_jobs_only():
    usage = GuildUsage()
    limits = Limits(user_daily=10, guild_daily=10, cooldown_seconds=0, max_queue=2)
    admitted(usage, 1, limits=limits)
    admitted(usage, 2, user=2, limits=limits)
    assert refused_by(usage, limits, user=3) is Limit.QUEUE_FULL
    usage.set_state(1, Status.RUNNING)
    assert usage.queued == 1
    admitted(usage, 3, user=3, limits=limits)
    assert usage.usage(3, now=NOW).guild_count == 3, "running jobs stay charged"


def test_the_last_slot_is_taken_once():
    usage = GuildUsage()
    limits = Limits(user_daily=5, guild_daily=1, cooldown_seconds=0, max_queue=5)
    results: list[object] = []
    for user in range(8):
        try:
            results.append(usage.admit(user, limits, now=NOW))
        except RefusedError as refused:
            results.append(refused.refusal.limit)
    assert sum(1 for r in results if not isinstance(r, Limit)) == 1
    assert results[1:] == [Limit.GUILD_DAILY] * 7


# -- refunds and state changes -------------------------------------------------------------


@pytest.mark.parametrize("ending", [Status.FAILED, Status.CANCELLED])
def test_failed_and_cancelled_jobs_are_not_charged(ending):
    usage = GuildUsage()
    limits = Limits(user_daily=1, guild_daily=10, cooldown_seconds=60, max_queue=5)
    admitted(usage, 1, limits=limits)
    usage.set_state(1, Status.RUNNING)
    usage.set_state(1, ending)
    assert usage.usage(1, now=NOW + 1) == Usage(0, None, None, 0, None, 0)
    admitted(usage, 2, at=NOW + 1, limits=limits)  # no cooldown, quota free


def test_succeeded_jobs_stay_charged_and_further_changes_are_ignored():
    usage = GuildUsage()
    admitted(usage, 1)
    usage.set_state(1, Status.RUNNING)
    usage.set_state(1, Status.SUCCEEDED)
    usage.set_state(1, Status.FAILED)  # a late or repeated change: the job has ended
    assert (usage.usage(1, now=NOW).user_count, usage.queued) == (1, 0)


def test_the_same_change_twice_changes_nothing():
    usage = GuildUsage()
    admitted(usage, 1)
    admitted(usage, 2, user=2)
    for _ in range(2):
        usage.set_state(1, Status.RUNNING)
    assert usage.queued == 1
    for _ in range(2):
        usage.set_state(1, Status.QUEUED)  # requeued at shutdown
    assert usage.queued == 2
    for _ in range(2):
        usage.set_state(2, Status.CANCELLED)
    assert (usage.queued, usage.usage(1, now=NOW).guild_count) == (1, 1)


def test_a_request_whose_row_could_not_be_stored_is_withdrawn():
    usage = GuildUsage()
    limits = Limits(user_daily=1, guild_daily=10, cooldown_seconds=60, max_queue=5)
    charge = usage.admit(1, limits, now=NOW)
    usage.withdraw(charge)
    assert usage.usage(1, now=NOW) == Usage(0, None, None, 0, None, 0)
    admitted(usage, 1, limits=limits)


# -- resets ------------------------------------------------------------------------------


def test_a_reset_forgets_the_members_quota_and_cooldown_but_not_the_servers():
    usage = GuildUsage()
    limits = Limits(user_daily=1, guild_daily=10, cooldown_seconds=60, max_queue=5)
    admitted(usage, 1, limits=limits)
    assert refused_by(usage, limits, at=NOW + 1) is Limit.COOLDOWN
    usage.reset(1, NOW + 2)
    after = usage.usage(1, now=NOW + 3)
    assert (after.user_count, after.user_latest, after.guild_count) == (0, None, 1)
    admitted(usage, 2, at=NOW + 3, limits=limits)
    assert refused_by(usage, limits, at=NOW + 100) is Limit.USER_DAILY
    usage.reset(1, NOW + 1)  # an older reset replayed late does not undo the newer one
    assert usage.usage(1, now=NOW + 100).user_count == 1


# -- the book: loading once, changes while loading, pruning ----------------------------------


async def test_a_burst_from_a_new_server_loads_it_once():
    loads = []

    async def load(guild_id, since):
        loads.append((guild_id, since))
        await asyncio.sleep(0.01)
        return GuildUsageRows(requests=[], resets={})

    book = UsageBook(load, clock=lambda: NOW)
    usages = await asyncio.gather(*(book.guild(GUILD) for _ in range(50)))
    assert len({id(u) for u in usages}) == 1
    assert loads == [(GUILD, NOW - DAY)]
    assert book.loaded(GUILD)


async def test_changes_made_while_a_server_loads_are_replayed_once(db):
    # Two jobs stored; the first one's start is stored before the load reads,
    # the second one's after: the load sees one, the replay brings the other.
    first = await job_store.insert(db, req(user=1), status=Status.QUEUED, now=NOW - 10)
    second = await job_store.insert(db, req(user=2), status=Status.QUEUED, now=NOW - 5)
    reading = asyncio.Event()
    release = asyncio.Event()

    async def load(guild_id, since):
        await job_store.mark_running(db, first, now=NOW)
        reading.set()
        rows = await load_guild_usage(db, guild_id, since=since)
        await release.wait()
        return rows

    book = UsageBook(load, clock=lambda: NOW)
    loading = asyncio.create_task(book.guild(GUILD))
    await reading.wait()
    book.started(job(first, user=1))  # already in what the load read
    await job_store.mark_failed(db, second, now=NOW, kind="x", detail="y")
    book.refunded(job(second, user=2))  # not in it
    release.set()
    usage = await loading
    assert usage.queued == 0
    assert usage.usage(1, now=NOW).guild_count == 1


async def test_changes_to_servers_not_in_memory_are_left_to_their_load(db):
    book = UsageBook(lambda g, since: load_guild_usage(db, g, since=since), clock=lambda: NOW)
    stored = await job_store.insert(db, req(), status=Status.QUEUED, now=NOW - 1)
    await job_store.mark_failed(db, stored, now=NOW, kind="x", detail="y")
    book.refunded(job(stored))  # the server is not loaded: nothing to do
    assert not book.loaded(GUILD)
    assert (await book.usage(GUILD, 1, now=NOW)) == Usage(0, None, None, 0, None, 0)


async def test_pruning_forgets_idle_servers_and_keeps_the_window():
    book = empty_book()
    busy = await book.guild(GUILD)
    admitted(busy, 1, at=NOW - 10)
    quiet = await book.guild(GUILD + 1)
    stale = admitted(quiet, 2, at=NOW - DAY - 10)
    quiet.set_state(2, Status.SUCCEEDED)
    assert stale is not None
    book.pruned(NOW - 90 * DAY)
    assert book.loaded(GUILD)
    assert not book.loaded(GUILD + 1)
    assert busy.usage(1, now=NOW).guild_count == 1


# -- agreement with the SQL ------------------------------------------------------------------


async def loaded_from(db, guild=GUILD):
    book = UsageBook(lambda g, since: load_guild_usage(db, g, since=since), clock=lambda: NOW)
    return await book.guild(guild)


@pytest.mark.parametrize(
    ("limits", "history", "expected"),
    [
        (Limits(3, 10, 0, 5), [], None),
        (Limits(3, 0, 0, 5), [], Limit.SERVER_OFF),
        (Limits(0, 10, 0, 5), [], Limit.USER_DAILY),
        (Limits(3, 10, 60, 5), [(1, Status.SUCCEEDED, 30)], Limit.COOLDOWN),
        (Limits(3, 10, 60, 5), [(1, Status.SUCCEEDED, 61)], None),
        (Limits(3, 10, 60, 5), [(1, Status.FAILED, 10)], None),
        (Limits(2, 10, 0, 5), [(1, Status.SUCCEEDED, 100)] * 2, Limit.USER_DAILY),
        (Limits(2, 10, 0, 5), [(1, Status.SUCCEEDED, DAY + 5)] * 2, None),
        (Limits(5, 2, 0, 5), [(2, Status.SUCCEEDED, 100)] * 2, Limit.GUILD_DAILY),
        (Limits(5, 9, 0, 2), [(2, Status.QUEUED, 100)] * 2, Limit.QUEUE_FULL),
        (Limits(5, 9, 0, 2), [(2, Status.QUEUED, DAY + 100)] * 2, Limit.QUEUE_FULL),
        (Limits(5, 9, 0, 2), [(2, Status.RUNNING, 100)] * 2, None),
        (Limits(5, 9, 0, 0), [], Limit.QUEUE_FULL),
        (Limits(1, 9, 0, 5), [(1, Status.CANCELLED, 100), (1, Status.REFUSED, 50)], None),
    ],
)
async def test_the_book_decides_like_the_admitting_statement(db, limits, history, expected):
    for user, status, age in history:
        await job_store.insert(db, req(user=user), status=status, now=NOW - age)
    usage = await loaded_from(db)
    if expected is None:
        usage.admit(1, limits, now=NOW)
        assert (await admit(db, req(), limits, now=NOW)).id > 0
    else:
        assert refused_by(usage, limits) is expected
        with pytest.raises(RefusedError) as info:
            await admit(db, req(), limits, now=NOW)
        assert info.value.refusal.limit is expected


async def test_loaded_counts_equal_the_stored_ones_with_resets(db):
    rng = random.Random(5)
    statuses = list(Status)
    for _ in range(300):
        user = rng.randrange(6)
        age = rng.choice([rng.uniform(0, DAY), rng.uniform(DAY, 3 * DAY)])
        await job_store.insert(db, req(user=user), status=rng.choice(statuses), now=NOW - age)
    await job_store.insert(db, req(guild=GUILD + 1), status=Status.QUEUED, now=NOW)
    await reset_member(db, GUILD, 2, by=9, now=NOW - 3600)
    await reset_member(db, GUILD, 3, by=9, now=NOW - 2 * DAY)  # older than the window
    usage = await loaded_from(db)
    # Time only moves forward: the book drops what leaves the window for good.
    for now in (NOW, NOW + 7200, NOW + DAY / 2):
        for user in range(7):
            assert usage.usage(user, now=now) == await usage_at(db, user, now), (user, now)


async def usage_at(db, user, now):
    return await usage(db, GUILD, user, now=now)


async def test_a_random_life_keeps_memory_and_database_in_step(db):
    """Requests, starts, endings, requeues and resets, each applied to both; after each
    step the book's counts equal the stored ones and both decide the same."""
    rng = random.Random(11)
    limits = Limits(user_daily=4, guild_daily=12, cooldown_seconds=30, max_queue=5)
    usage = await loaded_from(db)
    live: dict[int, Status] = {}
    now = NOW
    for _ in range(400):
        now += rng.choice([1, 5, 20, 60, 3600, 4 * 3600])
        user = rng.randrange(5)
        action = rng.random()
        if action < 0.45:
            try:
                stored = await admit(db, req(user=user), limits, now=now)
            except RefusedError as refused:
                assert refused_by(usage, limits, user=user, at=now) is refused.refusal.limit
            else:
                admitted(usage, stored.id, user=user, at=now, limits=limits)
                live[stored.id] = Status.QUEUED
        elif action < 0.9 and live:
            job_id = rng.choice(sorted(live))
            status = live[job_id]
            if status is Status.QUEUED:
                ending = rng.choice([Status.RUNNING, Status.CANCELLED])
            else:
                ending = rng.choice([Status.SUCCEEDED, Status.FAILED, Status.QUEUED])
            if ending is Status.RUNNING:
                await job_store.mark_running(db, job_id, now=now)
            elif ending is Status.QUEUED:
                await job_store.mark_requeued(db, job_id)
            elif ending is Status.CANCELLED:
                await job_store.mark_cancelled(db, job_id, now=now)
            elif ending is Status.FAILED:
                await job_store.mark_failed(db, job_id, now=now, kind="x", detail="y")
            else:
                await db.execute("UPDATE requests SET status = 'succeeded' WHERE id = ?", (job_id,))
            usage.set_state(job_id, ending)
            if ending in (Status.QUEUED, Status.RUNNING):
                live[job_id] = ending
            else:
                del live[job_id]
        elif action < 0.95:
            await reset_member(db, GUILD, user, by=9, now=now)
            usage.reset(user, now)
        for member in range(5):
            assert usage.usage(member, now=now) == await usage_at(db, member, now)
    # And a fresh load from the database agrees with the book kept in step.
    fresh = await UsageBook(
        lambda g, since: load_guild_usage(db, g, since=since), clock=lambda: now
    ).guild(GUILD)
    for member in range(5):
        assert fresh.usage(member, now=now) == usage.usage(member, now=now)
