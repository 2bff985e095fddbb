"""Stats SQL: figures from the usage log for /stats, /history and /status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.storage.database import Database
from bot.storage.jobs import Job

DAY = 24 * 60 * 60


@dataclass(frozen=True)
class PeriodStats:
    """One server's figures over a period."""

    images: int
    edits: int
    members: int
    failures: int
    average_seconds: float | None


async def period_stats(db: Database, guild_id: int, *, since: float) -> PeriodStats:
    """Images (edits among them), distinct members, failures and mean job time since ``since``."""
    row = await db.fetchone(
        "SELECT"
        " sum(status = 'succeeded') AS images,"
        " sum(status = 'succeeded' AND kind = 'edit') AS edits,"
        " count(DISTINCT CASE WHEN status = 'succeeded' THEN user_id END) AS members,"
        " sum(status = 'failed') AS failures,"
        " avg(CASE WHEN status = 'succeeded' THEN finished_at - created_at END) AS seconds"
        " FROM requests WHERE guild_id = ? AND created_at > ?",
        (guild_id, since),
    )
    assert row is not None
    return PeriodStats(
        images=row["images"] or 0,
        edits=row["edits"] or 0,
        members=row["members"] or 0,
        failures=row["failures"] or 0,
        average_seconds=row["seconds"],
    )


async def top_members(
    db: Database, guild_id: int, *, since: float, limit: int = 5
) -> list[tuple[int, int]]:
    """The members with the most images since ``since``: (user id, images)."""
    rows = await db.fetchall(
        "SELECT user_id, count(*) AS n FROM requests"
        " WHERE guild_id = ? AND created_at > ? AND status = 'succeeded'"
        " GROUP BY user_id ORDER BY n DESC, user_id LIMIT ?",
        (guild_id, since, limit),
    )
    return [(r["user_id"], r["n"]) for r in rows]


async def images_per_day(
    db: Database, guild_id: int, *, days: int, now: float
) -> list[tuple[dt.date, int]]:
    """Succeeded images per UTC day for the last ``days`` days, zero days included."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), dt.UTC).timestamp()
    rows = await db.fetchall(
        "SELECT CAST((created_at - ?) / 86400 AS INTEGER) AS day, count(*) AS n FROM requests"
        " WHERE guild_id = ? AND created_at >= ? AND status = 'succeeded' GROUP BY day",
        (start, guild_id, start),
    )
    counts = {r["day"]: r["n"] for r in rows}
    return [(first + dt.timedelta(days=i), counts.get(i, 0)) for i in range(days)]


async def history(
    db: Database, guild_id: int, user_id: int, *, offset: int, limit: int
) -> tuple[list[Job], int]:
    """A member's requests in a server, newest first, one page; and how many there are."""
    rows = await db.fetchall(
        "SELECT * FROM requests WHERE guild_id = ? AND user_id = ? AND status != 'refused'"
        " ORDER BY id DESC LIMIT ? OFFSET ?",
        (guild_id, user_id, limit, offset),
    )
    total = await db.fetchone(
        "SELECT count(*) AS n FROM requests WHERE guild_id = ? AND user_id = ?"
        " AND status != 'refused'",
        (guild_id, user_id),
    )
    return [Job.from_row(r) for r in rows], (total["n"] if total else 0)


@dataclass(frozen=True)
class Health:
    """The last hour of API calls, for /status."""

    calls: int
    failures: int
    median_api_seconds: float | None

    @property
    def error_rate(self) -> float | None:
        """Failed share of finished jobs, or None without any."""
        return self.failures / self.calls if self.calls else None


async def health(db: Database, *, since: float) -> Health:
    """Jobs that finished since ``since``: how many, how many failed, median API time."""
    row = await db.fetchone(
        "SELECT count(*) AS calls, sum(status = 'failed') AS failures FROM requests"
        " WHERE finished_at > ? AND status IN ('succeeded', 'failed')",
        (since,),
    )
    times = await db.fetchall(
        "SELECT api_seconds FROM requests WHERE finished_at > ? AND api_seconds IS NOT NULL"
        " ORDER BY api_seconds",
        (since,),
    )
    median = times[len(times) // 2]["api_seconds"] if times else None
    assert row is not None
    return Health(calls=row["calls"], failures=row["failures"] or 0, median_api_seconds=median)
