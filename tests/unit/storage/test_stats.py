"""Figures from the usage log: server stats, top members, images per day, history, health."""

import datetime as dt

from bot.storage import stats
from bot.storage.database import Database
from bot.storage.jobs import Status
from bot.storage.stats import Health, PeriodStats


async def stored(
    db: Database,
    *,
    guild=1,
    user=10,
    status=Status.SUCCEEDED,
    created=1000.0,
    finished=None,
    api=None,
    prompt="p",
    kind="generate",
) -> int:
    """Store a request row as the bot leaves it; return its id."""
    return await db.execute(
        "INSERT INTO requests (guild_id, channel_id, user_id, prompt, status, created_at,"
        " finished_at, api_seconds, kind) VALUES (?, 5, ?, ?, ?, ?, ?, ?, ?)",
        (guild, user, prompt, status.value, created, finished, api, kind),
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC).timestamp()


async def test_period_stats_count_this_servers_recent_requests(db):
    await stored(db, user=10, created=1100, finished=1110)
    await stored(db, user=10, created=1200, finished=1230)
    await stored(db, user=11, created=1300, finished=1320, kind="edit")
    await stored(db, user=12, status=Status.FAILED, created=1400, finished=1401, kind="edit")
    await stored(db, user=12, status=Status.REFUSED, created=1500)
    await stored(db, user=13, status=Status.QUEUED, created=1600)
    await stored(db, user=14, created=1000, finished=5000)  # at ``since``: not after it
    await stored(db, user=14, created=900, finished=5000)
    await stored(db, guild=2, user=10, created=1100, finished=9000)
    assert await stats.period_stats(db, 1, since=1000) == PeriodStats(
        images=3, edits=1, members=2, failures=1, average_seconds=20.0
    )


async def test_period_stats_of_a_quiet_server_are_zero(db):
    await stored(db, guild=2, created=1100, finished=1110)
    assert await stats.period_stats(db, 1, since=1000) == PeriodStats(
        images=0, edits=0, members=0, failures=0, average_seconds=None
    )


async def test_top_members_rank_images_then_user_id(db):
    for user in (10, 10, 11, 9):
        await stored(db, user=user, created=1100)
    for _ in range(3):
        await stored(db, user=12, status=Status.FAILED, created=1100)
        await stored(db, user=14, created=900)
        await stored(db, guild=2, user=13, created=1100)
    assert await stats.top_members(db, 1, since=1000) == [(10, 2), (9, 1), (11, 1)]
    assert await stats.top_members(db, 1, since=1000, limit=2) == [(10, 2), (9, 1)]
    assert await stats.top_members(db, 2, since=2000) == []


async def test_images_per_day_by_utc_day_with_empty_days(db):
    now = utc(2024, 3, 10, 15)
    for created in (
        utc(2024, 3, 7, 23, 59, 59),  # before the first day shown
        utc(2024, 3, 8),
        utc(2024, 3, 8, 12),
        utc(2024, 3, 9, 23, 59, 59),
        utc(2024, 3, 10, 0, 0, 1),
        utc(2024, 3, 10, 14),
    ):
        await stored(db, created=created)
    await stored(db, status=Status.FAILED, created=utc(2024, 3, 9, 10))
    await stored(db, guild=2, created=utc(2024, 3, 9, 10))
    assert await stats.images_per_day(db, 1, days=3, now=now) == [
        (dt.date(2024, 3, 8), 2),
        (dt.date(2024, 3, 9), 1),
        (dt.date(2024, 3, 10), 2),
    ]
    quiet = await stats.images_per_day(db, 2, days=2, now=utc(2024, 4, 1, 1))
    assert quiet == [(dt.date(2024, 3, 31), 0), (dt.date(2024, 4, 1), 0)]


async def test_history_pages_a_members_requests_newest_first(db):
    statuses = [Status.SUCCEEDED, Status.REFUSED, Status.FAILED, Status.QUEUED, Status.SUCCEEDED]
    for n, status in enumerate(statuses):
        await stored(db, user=10, status=status, prompt=f"mine {n}")
    await stored(db, user=11, prompt="someone else's")
    await stored(db, guild=2, user=10, prompt="another server")

    page, total = await stats.history(db, 1, 10, offset=0, limit=2)
    assert total == 4  # refused requests are not history
    assert [(j.prompt, j.status) for j in page] == [
        ("mine 4", Status.SUCCEEDED),
        ("mine 3", Status.QUEUED),
    ]
    page, total = await stats.history(db, 1, 10, offset=2, limit=2)
    assert ([j.prompt for j in page], total) == (["mine 2", "mine 0"], 4)
    page, total = await stats.history(db, 1, 10, offset=4, limit=2)
    assert (page, total) == ([], 4)
    assert await stats.history(db, 1, 12, offset=0, limit=5) == ([], 0)


async def test_health_counts_jobs_finished_since_in_every_server(db):
    await stored(db, finished=1100, api=3.0)
    await stored(db, guild=2, finished=1200, api=1.0)
    await stored(db, status=Status.FAILED, finished=1300, api=2.0)
    await stored(db, status=Status.FAILED, finished=1400)  # failed before the API answered
    await stored(db, finished=900, api=100.0)  # finished before ``since``
    await stored(db, status=Status.RUNNING, api=50.0)
    await stored(db, status=Status.REFUSED, finished=1500)
    health = await stats.health(db, since=1000)
    assert health == Health(calls=4, failures=2, median_api_seconds=2.0)
    assert health.error_rate == 0.5


async def test_health_without_jobs_has_no_rate_or_median(db):
    health = await stats.health(db, since=1000)
    assert health == Health(calls=0, failures=0, median_api_seconds=None)
    assert health.error_rate is None
