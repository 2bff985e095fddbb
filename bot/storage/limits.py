"""Limits SQL: each server's settings, quota resets, use in the last 24 h, admission."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.limits import DAY, LIMIT_NAMES, Limit, Limits, Refusal, RefusedError, Usage, check
from bot.storage.database import Database
from bot.storage.jobs import (
    CHARGED_SQL,
    INSERT_COLUMNS,
    INSERT_VALUES,
    Job,
    NewRequest,
    Status,
    request_params,
)

# A member's and a server's charged requests in the window, and the server's
# waiting jobs. A /limits reset moves the member's window start.
_USAGE_SQL = f"""
SELECT count(*) AS user_count, min(created_at) AS user_oldest, max(created_at) AS user_latest,
    (SELECT count(*) FROM requests
     WHERE guild_id = :guild AND created_at > :since
       AND status IN {CHARGED_SQL}) AS guild_count,
    (SELECT min(created_at) FROM requests
     WHERE guild_id = :guild AND created_at > :since
       AND status IN {CHARGED_SQL}) AS guild_oldest,
    (SELECT count(*) FROM requests
     WHERE guild_id = :guild AND status = 'queued') AS queued
FROM requests
WHERE guild_id = :guild AND user_id = :user
  AND created_at > max(:since, coalesce(
      (SELECT reset_at FROM quota_resets WHERE guild_id = :guild AND user_id = :user), 0))
  AND status IN {CHARGED_SQL}
"""  # noqa: S608 - only constants are formatted in

# Checks every limit and stores the request in one statement, which SQLite
# runs atomically: two requests in the same instant cannot both take the last
# slot, and no transaction is held open across awaits (which would queue every
# other server's requests behind this one's round trips). The order of the
# checks only matters for the refusal message, which bot.limits.check() words.
_ADMIT_SQL = f"""
WITH member_window AS (
    SELECT max(:since, coalesce(
        (SELECT reset_at FROM quota_resets WHERE guild_id = :guild AND user_id = :user), 0))
        AS user_since
)
INSERT INTO requests ({INSERT_COLUMNS})
SELECT {INSERT_VALUES}
FROM member_window
WHERE :guild_daily > 0 AND :user_daily > 0
  AND (:cooldown = 0 OR coalesce(
        (SELECT max(created_at) FROM requests
         WHERE guild_id = :guild AND user_id = :user AND created_at > member_window.user_since
           AND status IN {CHARGED_SQL}), 0) + :cooldown <= :now)
  AND (SELECT count(*) FROM requests
       WHERE guild_id = :guild AND user_id = :user AND created_at > member_window.user_since
         AND status IN {CHARGED_SQL}) < :user_daily
  AND (SELECT count(*) FROM requests
       WHERE guild_id = :guild AND created_at > :since
         AND status IN {CHARGED_SQL}) < :guild_daily
  AND (SELECT count(*) FROM requests
       WHERE guild_id = :guild AND status = 'queued') < :max_queue
RETURNING *
"""  # noqa: S608 - only constants are formatted in


# What the in-memory usage book (bot.jobs.admission) needs of a server: its
# charged requests in the window, its unfinished jobs whatever their age,
# and its members' quota resets that still move a window. One statement,
# so a burst from many new servers costs one round trip per server.
_LOAD_SQL = f"""
SELECT 'request' AS kind, id, user_id, created_at AS at, status FROM requests
WHERE guild_id = :guild AND created_at > :since AND status IN {CHARGED_SQL}
UNION
SELECT 'request', id, user_id, created_at, status FROM requests
WHERE guild_id = :guild AND status = 'queued'
UNION
SELECT 'request', id, user_id, created_at, status FROM requests
WHERE guild_id = :guild AND status = 'running'
UNION ALL
SELECT 'reset', NULL, user_id, reset_at, NULL FROM quota_resets
WHERE guild_id = :guild AND reset_at > :since
ORDER BY at
"""  # noqa: S608 - only constants are formatted in


@dataclass(frozen=True)
class StoredCharge:
    """One stored request that counts for admission: charged, or still waiting or running."""

    job_id: int
    user_id: int
    created_at: float
    status: Status


@dataclass(frozen=True)
class GuildUsageRows:
    """A server's stored use, as the in-memory usage book loads it."""

    requests: list[StoredCharge]
    resets: dict[int, float]


async def load_guild_usage(db: Database, guild_id: int, *, since: float) -> GuildUsageRows:
    """A server's charged requests created after ``since``, its unfinished jobs, and resets."""
    rows = await db.fetchall(_LOAD_SQL, {"guild": guild_id, "since": since})
    requests = []
    resets = {}
    for row in rows:
        if row["kind"] == "reset":
            resets[row["user_id"]] = row["at"]
        else:
            requests.append(
                StoredCharge(row["id"], row["user_id"], row["at"], Status(row["status"]))
            )
    return GuildUsageRows(requests=requests, resets=resets)


async def get_limits(db: Database, guild_id: int, defaults: Limits) -> Limits:
    """The server's limits: its own where set, the operator's defaults elsewhere."""
    row = await db.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
    if row is None:
        return defaults
    own = {name: row[name] for name in LIMIT_NAMES if row[name] is not None}
    return replace(defaults, **own)


async def set_limits(
    db: Database, guild_id: int, changes: dict[str, int], *, by: int, now: float
) -> None:
    """Store new values for some of a server's limits."""
    unknown = set(changes) - set(LIMIT_NAMES)
    if unknown:
        raise ValueError(f"unknown limits {sorted(unknown)}")
    if any(v < 0 for v in changes.values()):
        raise ValueError("limits are 0 or more")
    async with db.transaction():
        await db.execute(
            "INSERT INTO guild_settings (guild_id) VALUES (?) ON CONFLICT (guild_id) DO NOTHING",
            (guild_id,),
        )
        for name, value in changes.items():
            # The name is one of LIMIT_NAMES (checked above), never member input.
            await db.execute(
                f"UPDATE guild_settings SET {name} = ?, updated_at = ?, updated_by = ?"  # noqa: S608
                " WHERE guild_id = ?",
                (value, now, by, guild_id),
            )


async def reset_member(db: Database, guild_id: int, user_id: int, *, by: int, now: float) -> None:
    """Forget a member's use in a server so far (quota and cooldown)."""
    await db.execute(
        "INSERT INTO quota_resets (guild_id, user_id, reset_at, reset_by) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO UPDATE"
        " SET reset_at = excluded.reset_at, reset_by = excluded.reset_by",
        (guild_id, user_id, now, by),
    )


async def usage(db: Database, guild_id: int, user_id: int, *, now: float) -> Usage:
    """Count the charged requests of a member and of their server in the last 24 h."""
    # One statement: each round trip to aiosqlite's thread costs more than
    # the indexed counts themselves.
    row = await db.fetchone(_USAGE_SQL, {"guild": guild_id, "user": user_id, "since": now - DAY})
    assert row is not None
    return Usage(
        user_count=row["user_count"],
        user_oldest=row["user_oldest"],
        user_latest=row["user_latest"],
        guild_count=row["guild_count"],
        guild_oldest=row["guild_oldest"],
        queued=row["queued"],
    )


# When the statement refuses but a fresh count finds room (a job ended in
# between), it is simply tried again.
_ADMIT_ATTEMPTS = 5


async def admit(
    db: Database, request: NewRequest, limits: Limits, *, now: float, queue_wait: float = 60.0
) -> Job:
    """Check every limit and store the request as queued, atomically; return the job.

    Raises :class:`RefusedError` (and stores nothing) when a check fails;
    ``queue_wait`` estimates when a full queue has room again.
    """
    for _ in range(_ADMIT_ATTEMPTS):
        job = await _try_admit(db, request, limits, now=now)
        if job is not None:
            return job
        # Refused: find out which limit, and when it frees up.
        used = await usage(db, request.guild_id, request.user_id, now=now)
        refusal = check(limits, used, now=now, queue_wait=queue_wait)
        if refusal is not None:
            raise RefusedError(refusal)
    raise RefusedError(
        Refusal(Limit.QUEUE_FULL, now + 5, "The bot is very busy right now; try again in a moment.")
    )


async def _try_admit(
    db: Database, request: NewRequest, limits: Limits, *, now: float
) -> Job | None:
    """Store ``request`` as queued if every limit allows it, atomically; None if one refuses."""
    params = {
        **request_params(request, status=Status.QUEUED, now=now),
        "since": now - DAY,
        "user_daily": limits.user_daily,
        "guild_daily": limits.guild_daily,
        "cooldown": limits.cooldown_seconds,
        "max_queue": limits.max_queue,
    }
    row = await db.fetchone(_ADMIT_SQL, params)
    return Job.from_row(row) if row is not None else None
