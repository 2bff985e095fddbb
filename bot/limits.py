"""Admission policy: who may queue a job now, computed from the stored rows.

The checks run in the spec's order (server limit 0, cooldown, member's 24 h
quota, server's 24 h quota, queue full) inside the same write transaction
that inserts the accepted request, so two requests in the same instant
cannot both take the last slot.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from bot import moderation
from bot.cache import GuildCache
from bot.storage import requests
from bot.storage.database import Database
from bot.storage.requests import NewRequest, Status

DAY = 24 * 60 * 60

# A member's and a server's charged requests (requests.CHARGED) in the window,
# and the server's waiting jobs. A /limits reset moves the member's window start.
_USAGE_SQL = """
SELECT count(*) AS user_count, min(created_at) AS user_oldest, max(created_at) AS user_latest,
    (SELECT count(*) FROM requests
     WHERE guild_id = :guild AND created_at > :since
       AND status IN ('queued', 'running', 'succeeded')) AS guild_count,
    (SELECT min(created_at) FROM requests
     WHERE guild_id = :guild AND created_at > :since
       AND status IN ('queued', 'running', 'succeeded')) AS guild_oldest,
    (SELECT count(*) FROM requests
     WHERE guild_id = :guild AND status = 'queued') AS queued
FROM requests
WHERE guild_id = :guild AND user_id = :user
  AND created_at > max(:since, coalesce(
      (SELECT reset_at FROM quota_resets WHERE guild_id = :guild AND user_id = :user), 0))
  AND status IN ('queued', 'running', 'succeeded')
"""


@dataclass(frozen=True)
class Limits:
    """A server's limits; 0 turns a scope off (a cooldown of 0 means none)."""

    user_daily: int
    guild_daily: int
    cooldown_seconds: int
    max_queue: int


LIMIT_NAMES = tuple(f.name for f in fields(Limits))


class Limit(StrEnum):
    """Which check refused a request."""

    SERVER_OFF = "server_off"
    COOLDOWN = "cooldown"
    USER_DAILY = "user_daily"
    GUILD_DAILY = "guild_daily"
    QUEUE_FULL = "queue_full"


@dataclass(frozen=True)
class Refusal:
    """Why a request was not queued, and when trying again can work (UNIX time)."""

    limit: Limit
    retry_at: float | None
    message: str


class RefusedError(Exception):
    """Raised by :func:`admit` when a check fails."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(frozen=True)
class Usage:
    """A member's and a server's use in the last 24 hours."""

    user_count: int
    user_oldest: float | None
    user_latest: float | None
    guild_count: int
    guild_oldest: float | None
    queued: int

    def user_frees_at(self) -> float | None:
        """When the member's oldest charged request leaves the 24 h window."""
        return self.user_oldest + DAY if self.user_oldest is not None else None

    def guild_frees_at(self) -> float | None:
        """When the server's oldest charged request leaves the 24 h window."""
        return self.guild_oldest + DAY if self.guild_oldest is not None else None


def relative(timestamp: float) -> str:
    """A Discord relative timestamp ("in 3 hours"), shown in each member's own locale."""
    return f"<t:{int(timestamp) + 1}:R>"


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


def check(limits: Limits, used: Usage, *, now: float, queue_wait: float = 60.0) -> Refusal | None:
    """The first limit that refuses a new request, in the spec's order; None to accept.

    ``queue_wait`` estimates how soon a full queue has room again (about one job's time).
    """
    if limits.guild_daily == 0:
        return Refusal(Limit.SERVER_OFF, None, "Image generation is turned off in this server.")
    if limits.cooldown_seconds and used.user_latest is not None:
        ready = used.user_latest + limits.cooldown_seconds
        if ready > now:
            return Refusal(
                Limit.COOLDOWN,
                ready,
                f"Cooldown: one image every {limits.cooldown_seconds} s."
                f" Try again {relative(ready)}.",
            )
    if limits.user_daily == 0:
        return Refusal(
            Limit.USER_DAILY, None, "Image generation is turned off for members in this server."
        )
    if used.user_count >= limits.user_daily:
        frees = used.user_frees_at()
        return Refusal(
            Limit.USER_DAILY,
            frees,
            f"You've used your {limits.user_daily} images for the last 24 hours."
            + (f" Your next one frees up {relative(frees)}." if frees else ""),
        )
    if used.guild_count >= limits.guild_daily:
        frees = used.guild_frees_at()
        return Refusal(
            Limit.GUILD_DAILY,
            frees,
            f"This server has used its {limits.guild_daily} images for the last 24 hours."
            + (f" The next one frees up {relative(frees)}." if frees else ""),
        )
    if used.queued >= limits.max_queue:
        if limits.max_queue == 0:
            return Refusal(Limit.QUEUE_FULL, None, "This server's queue is closed (size 0).")
        ready = now + queue_wait
        return Refusal(
            Limit.QUEUE_FULL,
            ready,
            f"This server's queue is full ({used.queued} waiting). Try again {relative(ready)}.",
        )
    return None


# Checks every limit and stores the request in one statement, which SQLite
# runs atomically: two requests in the same instant cannot both take the last
# slot, and no transaction is held open across awaits (which would queue every
# other server's requests behind this one's round trips). The order of the
# checks only matters for the refusal message, which check() words.
_ADMIT_SQL = f"""
WITH member_window AS (
    SELECT max(:since, coalesce(
        (SELECT reset_at FROM quota_resets WHERE guild_id = :guild AND user_id = :user), 0))
        AS user_since
)
INSERT INTO requests ({requests.INSERT_COLUMNS})
SELECT {requests.INSERT_VALUES}
FROM member_window
WHERE :guild_daily > 0 AND :user_daily > 0
  AND (:cooldown = 0 OR coalesce(
        (SELECT max(created_at) FROM requests
         WHERE guild_id = :guild AND user_id = :user AND created_at > member_window.user_since
           AND status IN ('queued', 'running', 'succeeded')), 0) + :cooldown <= :now)
  AND (SELECT count(*) FROM requests
       WHERE guild_id = :guild AND user_id = :user AND created_at > member_window.user_since
         AND status IN ('queued', 'running', 'succeeded')) < :user_daily
  AND (SELECT count(*) FROM requests
       WHERE guild_id = :guild AND created_at > :since
         AND status IN ('queued', 'running', 'succeeded')) < :guild_daily
  AND (SELECT count(*) FROM requests
       WHERE guild_id = :guild AND status = 'queued') < :max_queue
RETURNING id
"""  # noqa: S608 - only constants are formatted in

# When the statement refuses but a fresh check finds room (a job ended in
# between), it is simply tried again.
_ADMIT_ATTEMPTS = 5


async def admit(
    db: Database,
    request: NewRequest,
    limits: Limits,
    *,
    now: float | None = None,
    queue_wait: float = 60.0,
) -> int:
    """Check every limit and store the request as queued, atomically; return its id.

    Raises :class:`RefusedError` (and stores nothing) when a check fails.
    """
    now = time.time() if now is None else now
    params = {
        **requests.request_params(request, status=Status.QUEUED, now=now),
        "since": now - DAY,
        "user_daily": limits.user_daily,
        "guild_daily": limits.guild_daily,
        "cooldown": limits.cooldown_seconds,
        "max_queue": limits.max_queue,
    }
    for _ in range(_ADMIT_ATTEMPTS):
        row = await db.fetchone(_ADMIT_SQL, params)
        if row is not None:
            return int(row["id"])
        # Refused: find out which limit, and when it frees up.
        used = await usage(db, request.guild_id, request.user_id, now=now)
        refusal = check(limits, used, now=now, queue_wait=queue_wait)
        if refusal is not None:
            raise RefusedError(refusal)
    raise RefusedError(
        Refusal(Limit.QUEUE_FULL, now + 5, "The bot is very busy right now; try again in a moment.")
    )


async def record_refusal(db: Database, request: NewRequest, reason: str, now: float) -> None:
    """Keep a refused attempt in the usage log with why (it is never charged)."""
    job_id = await requests.insert(db, request, status=Status.REFUSED, now=now)
    await requests.update(db, job_id, error_kind=reason, interaction_token=None, finished_at=now)


class GuildLimits:
    """Each server's limits and role limits, read once and kept until changed.

    Every /imagine needs them before it can answer; the database is read only
    the first time and after a moderator changes them (:meth:`invalidate`).
    """

    def __init__(self, db: Database, defaults: Limits) -> None:
        async def load(guild_id: int) -> tuple[Limits, dict[int, int]]:
            return (
                await get_limits(db, guild_id, defaults),
                await moderation.role_limits(db, guild_id),
            )

        self._cache = GuildCache(load)

    async def server(self, guild_id: int) -> Limits:
        """The server's limits."""
        return (await self._cache.get(guild_id))[0]

    async def for_member(self, guild_id: int, role_ids: Iterable[int]) -> Limits:
        """The server's limits with the member's daily limit raised by their roles."""
        limits, roles = await self._cache.get(guild_id)
        best = max((roles[r] for r in role_ids if r in roles), default=None)
        if best is not None and best > limits.user_daily:
            limits = replace(limits, user_daily=best)
        return limits

    def invalidate(self, guild_id: int) -> None:
        """A moderator changed the server's limits."""
        self._cache.invalidate(guild_id)
