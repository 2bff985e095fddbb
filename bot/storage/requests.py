"""Rows of the ``requests`` table: the usage log and the job queue at once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiosqlite

from bot.storage.database import Database


class Status(StrEnum):
    """Where a request is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    CANCELLED = "cancelled"


# Requests that use up quota: failed, refused and cancelled ones are free.
CHARGED = (Status.QUEUED, Status.RUNNING, Status.SUCCEEDED)


@dataclass(frozen=True)
class NewRequest:
    """What a member asked for, as taken from the interaction."""

    guild_id: int
    channel_id: int
    user_id: int
    prompt: str
    aspect_ratio: str | None
    application_id: int | None = None
    interaction_id: int | None = None
    interaction_token: str | None = None
    attachment_limit: int | None = None


@dataclass(frozen=True)
class Job:
    """A stored request, as the queue and its workers see it."""

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    prompt: str
    aspect_ratio: str | None
    status: Status
    created_at: float
    started_at: float | None
    finished_at: float | None
    application_id: int | None
    interaction_id: int | None
    interaction_token: str | None
    attachment_limit: int | None
    result_message_id: int | None
    result_channel_id: int | None
    error_kind: str | None
    attempts: int

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Job:
        """Build a job from a ``SELECT *`` row."""
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            user_id=row["user_id"],
            prompt=row["prompt"],
            aspect_ratio=row["aspect_ratio"],
            status=Status(row["status"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            application_id=row["application_id"],
            interaction_id=row["interaction_id"],
            interaction_token=row["interaction_token"],
            attachment_limit=row["attachment_limit"],
            result_message_id=row["result_message_id"],
            result_channel_id=row["result_channel_id"],
            error_kind=row["error_kind"],
            attempts=row["attempts"],
        )


# The columns a new request fills, as named parameters (see request_params).
INSERT_COLUMNS = (
    "guild_id, channel_id, user_id, prompt, aspect_ratio, status, created_at,"
    " application_id, interaction_id, interaction_token, attachment_limit"
)
INSERT_VALUES = (
    ":guild, :channel, :user, :prompt, :ratio, :status, :now,"
    " :application, :interaction, :token, :attachment_limit"
)


def request_params(request: NewRequest, *, status: Status, now: float) -> dict[str, Any]:
    """The named parameters of :data:`INSERT_VALUES` for ``request``."""
    return {
        "guild": request.guild_id,
        "channel": request.channel_id,
        "user": request.user_id,
        "prompt": request.prompt,
        "ratio": request.aspect_ratio,
        "status": status.value,
        "now": now,
        "application": request.application_id,
        "interaction": request.interaction_id,
        "token": request.interaction_token,
        "attachment_limit": request.attachment_limit,
    }


async def insert(db: Database, request: NewRequest, *, status: Status, now: float) -> int:
    """Store a new request; return its id."""
    return await db.execute(
        f"INSERT INTO requests ({INSERT_COLUMNS}) VALUES ({INSERT_VALUES})",  # noqa: S608 - constants
        request_params(request, status=status, now=now),
    )


async def get(db: Database, job_id: int) -> Job | None:
    """One stored request, or None."""
    row = await db.fetchone("SELECT * FROM requests WHERE id = ?", (job_id,))
    return Job.from_row(row) if row else None


async def unfinished(db: Database) -> list[Job]:
    """Queued and running requests, oldest first: the queue to rebuild at start."""
    # One query per status, so each reads its small partial index instead of
    # scanning a year of history; sorted here.
    rows = await db.fetchall("SELECT * FROM requests WHERE status = 'queued'")
    rows += await db.fetchall("SELECT * FROM requests WHERE status = 'running'")
    return sorted((Job.from_row(r) for r in rows), key=lambda job: job.id)


async def update(db: Database, job_id: int, **values: Any) -> None:
    """Set columns of one request; column names come from our code, never from input."""
    for column in values:
        if not column.isidentifier():
            raise ValueError(f"bad column name {column!r}")
    assignments = ", ".join(f"{column} = ?" for column in values)
    await db.execute(
        f"UPDATE requests SET {assignments} WHERE id = ?",  # noqa: S608 - names checked above
        (*values.values(), job_id),
    )


async def set_response_message(db: Database, job_id: int, message_id: int | None) -> Job:
    """Remember which message answers the member; return the whole job (one round trip)."""
    row = await db.fetchone(
        "UPDATE requests SET result_message_id = ? WHERE id = ? RETURNING *", (message_id, job_id)
    )
    if row is None:
        raise LookupError(f"no request {job_id}")
    return Job.from_row(row)


async def mark_running(db: Database, job_id: int, *, now: float) -> None:
    """The job was taken by a worker."""
    await db.execute(
        "UPDATE requests SET status = 'running', started_at = ?, attempts = attempts + 1"
        " WHERE id = ?",
        (now, job_id),
    )


async def mark_succeeded(
    db: Database,
    job_id: int,
    *,
    now: float,
    message_id: int | None,
    channel_id: int | None,
    image_format: str,
    image_bytes: int,
) -> None:
    """The image was posted; the interaction token is no longer needed."""
    await update(
        db,
        job_id,
        status=Status.SUCCEEDED.value,
        finished_at=now,
        result_message_id=message_id,
        result_channel_id=channel_id,
        result_format=image_format,
        result_bytes=image_bytes,
        interaction_token=None,
    )


async def mark_failed(db: Database, job_id: int, *, now: float, kind: str, detail: str) -> None:
    """The job ended in an error; it is not charged against any quota."""
    await update(
        db,
        job_id,
        status=Status.FAILED.value,
        finished_at=now,
        error_kind=kind,
        error_detail=detail[:1000],
        interaction_token=None,
    )
