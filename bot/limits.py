"""Admission policy: which limit refuses a request, and how the refusal reads.

Pure: it works on the numbers :mod:`bot.storage.limits` counts. The checks
run in the spec's order (server limit 0, cooldown, member's 24 h quota,
server's 24 h quota, queue full); the admission statement applies the same
checks atomically when it stores a request.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

DAY = 24 * 60 * 60


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
    """Raised when a check fails."""

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
