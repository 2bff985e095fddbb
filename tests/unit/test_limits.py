"""Admission policy: the spec's order, rolling windows, atomic last slot."""

import asyncio

import pytest

from bot.limits import DAY, Limit, Limits, Refusal, RefusedError, Usage, check
from bot.storage import jobs as job_store
from bot.storage.jobs import Job, NewRequest, Status, record_refusal
from bot.storage.limits import admit, get_limits, reset_member, set_limits, usage

DEFAULTS = Limits(user_daily=3, guild_daily=10, cooldown_seconds=10, max_queue=5)
NOW = 1_800_000_000.0


def req(user=1, guild=100):
    return NewRequest(guild_id=guild, channel_id=5, user_id=user, prompt="p", aspect_ratio=None)


def refused(limits: Limits, counts: Usage, **kw) -> Refusal:
    """The refusal ``check`` gives (failing the test if it accepts)."""
    refusal = check(limits, counts, **kw)
    assert refusal is not None, "check accepted a request it should refuse"
    return refusal


def used(**kw):
    base = dict(
        user_count=0, user_oldest=None, user_latest=None, guild_count=0, guild_oldest=None, queued=0
    )
    return Usage(**{**base, **kw})


def test_order_server_off_beats_everything():
    limits = Limits(user_daily=0, guild_daily=0, cooldown_seconds=10, max_queue=0)
    refusal = refused(limits, used(user_latest=NOW, user_count=9, queued=9), now=NOW)
    assert refusal.limit is Limit.SERVER_OFF
    assert refusal.retry_at is None


def test_order_cooldown_then_member_then_server_then_queue():
    full = used(
        user_latest=NOW - 1,
        user_count=3,
        user_oldest=NOW - 100,
        guild_count=10,
        guild_oldest=NOW - 200,
        queued=5,
    )
    assert refused(DEFAULTS, full, now=NOW).limit is Limit.COOLDOWN
    assert refused(DEFAULTS, full, now=NOW + 20).limit is Limit.USER_DAILY
    fewer = used(
        user_count=1, user_oldest=NOW - 100, guild_count=10, guild_oldest=NOW - 200, queued=5
    )
    assert refused(DEFAULTS, fewer, now=NOW).limit is Limit.GUILD_DAILY
    assert refused(DEFAULTS, used(queued=5), now=NOW).limit is Limit.QUEUE_FULL
    assert check(DEFAULTS, used(queued=4), now=NOW) is None


def test_refusals_say_when_with_discord_timestamps():
    refusal = refused(DEFAULTS, used(user_latest=NOW - 4), now=NOW)
    assert refusal.retry_at == NOW + 6
    assert f"<t:{int(NOW + 6) + 1}:R>" in refusal.message
    refusal = refused(DEFAULTS, used(user_count=3, user_oldest=NOW - 3600), now=NOW)
    assert refusal.retry_at == NOW - 3600 + DAY
    assert "<t:" in refusal.message
    refusal = refused(DEFAULTS, used(queued=5), now=NOW, queue_wait=30)
    assert refusal.retry_at == NOW + 30


def test_zero_cooldown_means_none_and_zero_user_daily_turns_members_off():
    no_cooldown = Limits(user_daily=3, guild_daily=10, cooldown_seconds=0, max_queue=5)
    assert check(no_cooldown, used(user_latest=NOW), now=NOW) is None
    members_off = Limits(user_daily=0, guild_daily=10, cooldown_seconds=0, max_queue=5)
    refusal = refused(members_off, used(), now=NOW)
    assert refusal.limit is Limit.USER_DAILY
    assert "turned off" in refusal.message


async def test_rolling_window_counts_only_charged_rows(db):
    for status, age in [
        (Status.SUCCEEDED, 100),
        (Status.QUEUED, 50),
        (Status.RUNNING, 40),
        (Status.FAILED, 30),
        (Status.REFUSED, 20),
        (Status.CANCELLED, 10),
        (Status.SUCCEEDED, DAY + 1),  # outside the window
    ]:
        await job_store.insert(db, req(), status=status, now=NOW - age)
    await job_store.insert(db, req(user=2), status=Status.SUCCEEDED, now=NOW - 5)
    u = await usage(db, 100, 1, now=NOW)
    assert (u.user_count, u.user_oldest, u.user_latest) == (3, NOW - 100, NOW - 40)
    assert u.guild_count == 4
    assert u.queued == 1


async def test_settings_fall_back_to_defaults_and_persist(db):
    assert await get_limits(db, 100, DEFAULTS) == DEFAULTS
    await set_limits(db, 100, {"user_daily": 2, "max_queue": 0}, by=9, now=NOW)
    limits = await get_limits(db, 100, DEFAULTS)
    assert limits == Limits(user_daily=2, guild_daily=10, cooldown_seconds=10, max_queue=0)
    assert await get_limits(db, 101, DEFAULTS) == DEFAULTS
    with pytest.raises(ValueError):
        await set_limits(db, 100, {"user_daily": -1}, by=9, now=NOW)
    with pytest.raises(ValueError):
        await set_limits(db, 100, {"evil = 1; --": 1}, by=9, now=NOW)


async def test_admit_stores_or_refuses_and_reset_forgets(db):
    limits = Limits(user_daily=2, guild_daily=10, cooldown_seconds=0, max_queue=5)
    first = await admit(db, req(), limits, now=NOW)
    second = await admit(db, req(), limits, now=NOW + 1)
    assert (second.id, second.status, second.created_at) == (first.id + 1, Status.QUEUED, NOW + 1)
    with pytest.raises(RefusedError) as info:
        await admit(db, req(), limits, now=NOW + 2)
    assert info.value.refusal.limit is Limit.USER_DAILY
    await record_refusal(db, req(), info.value.refusal.limit.value, now=NOW + 2)
    rows = await db.fetchall("SELECT status, error_kind FROM requests ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("queued", None),
        ("queued", None),
        ("refused", "user_daily"),
    ]
    await reset_member(db, 100, 1, by=9, now=NOW + 3)
    await admit(db, req(), limits, now=NOW + 4)


async def test_simultaneous_requests_for_the_last_slot_give_one_job(db):
    limits = Limits(user_daily=5, guild_daily=1, cooldown_seconds=0, max_queue=5)
    results = await asyncio.gather(
        *(admit(db, req(user=u), limits, now=NOW) for u in range(8)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, Job)]
    assert len(accepted) == 1
    assert all(isinstance(r, RefusedError) for r in results if not isinstance(r, Job))
    assert len(await db.fetchall("SELECT id FROM requests")) == 1


@pytest.mark.parametrize(
    ("limits", "history", "expected"),
    [
        (Limits(3, 10, 0, 5), [], None),
        (Limits(3, 0, 0, 5), [], Limit.SERVER_OFF),
        (Limits(0, 10, 0, 5), [], Limit.USER_DAILY),
        (Limits(3, 10, 60, 5), [(1, Status.SUCCEEDED, 30)], Limit.COOLDOWN),
        (Limits(3, 10, 60, 5), [(1, Status.SUCCEEDED, 61)], None),
        (Limits(3, 10, 60, 5), [(1, Status.FAILED, 10)], None),  # failures are free
        (Limits(2, 10, 0, 5), [(1, Status.SUCCEEDED, 100)] * 2, Limit.USER_DAILY),
        (Limits(2, 10, 0, 5), [(1, Status.SUCCEEDED, DAY + 5)] * 2, None),  # out of window
        (Limits(5, 2, 0, 5), [(2, Status.SUCCEEDED, 100)] * 2, Limit.GUILD_DAILY),
        (Limits(5, 9, 0, 2), [(2, Status.QUEUED, 100)] * 2, Limit.QUEUE_FULL),
        (Limits(5, 9, 0, 0), [], Limit.QUEUE_FULL),
    ],
)
async def test_the_admitting_statement_agrees_with_the_checks(db, limits, history, expected):
    for user, status, age in history:
        await job_store.insert(db, req(user=user), status=status, now=NOW - age)
    if expected is None:
        assert (await admit(db, req(), limits, now=NOW)).id > 0
    else:
        with pytest.raises(RefusedError) as info:
            await admit(db, req(), limits, now=NOW)
        assert info.value.refusal.limit is expected


async def test_a_reset_also_clears_the_cooldown(db):
    limits = Limits(user_daily=5, guild_daily=10, cooldown_seconds=60, max_queue=5)
    await admit(db, req(), limits, now=NOW)
    with pytest.raises(RefusedError):
        await admit(db, req(), limits, now=NOW + 1)
    await reset_member(db, 100, 1, by=9, now=NOW + 2)
    await admit(db, req(), limits, now=NOW + 3)
