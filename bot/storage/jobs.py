"""Rows of the ``requests`` table: the usage log and the job queue at once.

Every change of a job's status is a named function here; only the job
service (:mod:`bot.jobs.service`) calls them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


class Kind(StrEnum):
    """What a request asks for: a new image, or a change to given images."""

    GENERATE = "generate"
    EDIT = "edit"


# Requests that use up quota: failed, refused and cancelled ones are free.
# Every statement that counts use is built from this one tuple.
CHARGED = (Status.QUEUED, Status.RUNNING, Status.SUCCEEDED)
CHARGED_SQL = "(" + ", ".join(f"'{status.value}'" for status in CHARGED) + ")"


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
    # Edits only: the message the image came from, the Discord URLs of the
    # image and its references, and their uploaded paths when already known
    # (a Re-roll or Remix of an edit reuses them).
    kind: Kind = Kind.GENERATE
    source_channel_id: int | None = None
    source_message_id: int | None = None
    source_urls: tuple[str, ...] = ()
    source_paths: tuple[str, ...] | None = None


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
    kind: Kind = Kind.GENERATE
    source_channel_id: int | None = None
    source_message_id: int | None = None
    source_urls: tuple[str, ...] = ()
    source_paths: tuple[str, ...] | None = None

    @property
    def is_edit(self) -> bool:
        """True for an edit of given images."""
        return self.kind is Kind.EDIT

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
            kind=Kind(row["kind"]),
            source_channel_id=row["source_channel_id"],
            source_message_id=row["source_message_id"],
            source_urls=_from_json(row["source_urls"]) or (),
            source_paths=_from_json(row["source_paths"]),
        )


def _to_json(values: Sequence[str] | None) -> str | None:
    return None if values is None else json.dumps(list(values))


def _from_json(text: str | None) -> tuple[str, ...] | None:
    """A stored JSON array of strings; None stays None."""
    if text is None:
        return None
    values = json.loads(text)
    return tuple(str(v) for v in values)


# The columns a new request fills, as named parameters (see request_params).
INSERT_COLUMNS = (
    "guild_id, channel_id, user_id, prompt, aspect_ratio, status, created_at,"
    " application_id, interaction_id, interaction_token, attachment_limit,"
    " kind, source_channel_id, source_message_id, source_urls, source_paths"
)
INSERT_VALUES = (
    ":guild, :channel, :user, :prompt, :ratio, :status, :now,"
    " :application, :interaction, :token, :attachment_limit,"
    " :kind, :source_channel, :source_message, :source_urls, :source_paths"
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
        "kind": request.kind.value,
        "source_channel": request.source_channel_id,
        "source_message": request.source_message_id,
        "source_urls": _to_json(request.source_urls) if request.kind is Kind.EDIT else None,
        "source_paths": _to_json(request.source_paths),
    }


async def insert(db: Database, request: NewRequest, *, status: Status, now: float) -> int:
    """Store a new request as it is (no admission checks); return its id."""
    return await db.execute(
        f"INSERT INTO requests ({INSERT_COLUMNS}) VALUES ({INSERT_VALUES})",  # noqa: S608 - constants
        request_params(request, status=status, now=now),
    )


async def record_refusal(db: Database, request: NewRequest, reason: str, *, now: float) -> int:
    """Keep a refused attempt in the usage log with why (it is never charged)."""
    params = request_params(request, status=Status.REFUSED, now=now)
    # A refused request never runs: its interaction token is not kept.
    params.update(token=None, reason=reason)
    return await db.execute(
        f"INSERT INTO requests ({INSERT_COLUMNS}, error_kind, finished_at)"  # noqa: S608 - constants
        f" VALUES ({INSERT_VALUES}, :reason, :now)",
        params,
    )


# A new row as positional values, for storing many in one statement (see
# insert_rows): the columns of INSERT_COLUMNS, then error_kind and finished_at.
ROW_COLUMNS = INSERT_COLUMNS + ", error_kind, finished_at"
_ROW_PLACEHOLDERS = "(" + ", ".join(["?"] * (ROW_COLUMNS.count(",") + 1)) + ")"

NewRow = tuple[Any, ...]


# The names of INSERT_VALUES' parameters, in column order.
_PARAM_ORDER = tuple(value.strip().removeprefix(":") for value in INSERT_VALUES.split(","))


def _row(
    request: NewRequest,
    *,
    status: Status,
    now: float,
    reason: str | None = None,
    finished_at: float | None = None,
) -> NewRow:
    params = request_params(request, status=status, now=now)
    if status is Status.REFUSED:
        params["token"] = None  # a refused request never runs: its token is not kept
    return (*(params[name] for name in _PARAM_ORDER), reason, finished_at)


def queued_row(request: NewRequest, *, now: float) -> NewRow:
    """The row of an admitted request: queued, waiting for a worker."""
    return _row(request, status=Status.QUEUED, now=now)


def refused_row(request: NewRequest, reason: str, *, now: float) -> NewRow:
    """The row of a refused attempt: kept in the usage log with why, never charged."""
    return _row(request, status=Status.REFUSED, now=now, reason=reason, finished_at=now)


async def insert_rows(db: Database, rows: Sequence[NewRow]) -> list[Job]:
    """Store many new rows in one statement (one transaction); return them in the same order.

    SQLite returns the rows of ``RETURNING`` in no promised order, but an
    AUTOINCREMENT id grows with every row inserted, in the order of the
    ``VALUES`` list: sorted by id they are in the order given.
    """
    if not rows:
        return []
    sql = (
        f"INSERT INTO requests ({ROW_COLUMNS}) VALUES "  # noqa: S608 - only constants
        + ", ".join([_ROW_PLACEHOLDERS] * len(rows))
        + " RETURNING *"
    )
    stored = await db.fetchall(sql, [value for row in rows for value in row])
    return sorted((Job.from_row(r) for r in stored), key=lambda job: job.id)


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


async def set_response_message(db: Database, job_id: int, message_id: int) -> None:
    """Remember which message answers the member."""
    await db.execute("UPDATE requests SET result_message_id = ? WHERE id = ?", (message_id, job_id))


async def set_source_paths(db: Database, job_id: int, paths: Sequence[str]) -> None:
    """Remember where an edit's images were uploaded, for Re-roll and Remix."""
    await db.execute("UPDATE requests SET source_paths = ? WHERE id = ?", (_to_json(paths), job_id))


async def forget_interaction_token(db: Database, job_id: int) -> None:
    """Discord said the job's interaction token is dead: never use it again, even after a
    restart (Discord counts requests on a dead webhook towards an IP ban)."""
    await db.execute("UPDATE requests SET interaction_token = NULL WHERE id = ?", (job_id,))


async def channels_used(db: Database) -> list[tuple[int, int]]:
    """Every (guild id, channel id) the bot was asked for an image in."""
    rows = await db.fetchall(
        "SELECT DISTINCT guild_id, channel_id FROM requests ORDER BY guild_id, channel_id"
    )
    return [(r["guild_id"], r["channel_id"]) for r in rows]


async def set_response_messages(db: Database, message_ids: Mapping[int, int]) -> None:
    """Remember the messages answering many members (job id -> message id), in one statement.

    Only where none is stored yet: a later write (the job starting, its
    result) has the final say even if this one comes after it.
    """
    if not message_ids:
        return
    values, params = _pairs(message_ids)
    await db.execute(
        f"WITH answered (id, message_id) AS (VALUES {values})"  # noqa: S608 - only constants
        " UPDATE requests SET result_message_id = answered.message_id FROM answered"
        " WHERE requests.id = answered.id AND requests.result_message_id IS NULL",
        params,
    )


def _pairs(pairs: Mapping[int, Any]) -> tuple[str, list[Any]]:
    """A ``VALUES`` list of (key, value) rows for one statement, and its parameters."""
    return ", ".join(["(?, ?)"] * len(pairs)), [item for pair in pairs.items() for item in pair]


# Each status change is one statement of its own, named for what happened.


async def mark_running(
    db: Database, job_id: int, *, now: float, response_message_id: int | None = None
) -> None:
    """A worker took the job; also stores its response's message id if it was not yet."""
    await db.execute(
        "UPDATE requests SET status = 'running', started_at = ?, attempts = attempts + 1,"
        " result_message_id = coalesce(result_message_id, ?) WHERE id = ?",
        (now, response_message_id, job_id),
    )


async def mark_requeued(db: Database, job_id: int) -> None:
    """The job was cut off (shutdown or crash) before it was delivered: run it again later."""
    await db.execute("UPDATE requests SET status = 'queued' WHERE id = ?", (job_id,))


async def mark_succeeded(
    db: Database,
    job_id: int,
    *,
    now: float,
    message_id: int | None,
    channel_id: int | None,
    image_format: str,
    image_bytes: int,
    api_seconds: float | None,
) -> None:
    """The image was posted; the interaction token is no longer needed."""
    await db.execute(
        "UPDATE requests SET status = 'succeeded', finished_at = ?, result_message_id = ?,"
        " result_channel_id = ?, result_format = ?, result_bytes = ?, api_seconds = ?,"
        " interaction_token = NULL WHERE id = ?",
        (now, message_id, channel_id, image_format, image_bytes, api_seconds, job_id),
    )


async def mark_failed(
    db: Database,
    job_id: int,
    *,
    now: float,
    kind: str,
    detail: str,
    api_seconds: float | None = None,
) -> None:
    """The job ended in an error; it is not charged against any quota."""
    await db.execute(
        "UPDATE requests SET status = 'failed', finished_at = ?, error_kind = ?,"
        " error_detail = ?, api_seconds = coalesce(?, api_seconds), interaction_token = NULL"
        " WHERE id = ?",
        (now, kind, detail[:1000], api_seconds, job_id),
    )


async def mark_many_cancelled(db: Database, when: Mapping[int, float]) -> None:
    """Many jobs that never ran were cancelled (job id -> when), in one statement."""
    if not when:
        return
    values, params = _pairs(when)
    await db.execute(
        f"WITH ended (id, at) AS (VALUES {values})"  # noqa: S608 - only constants
        " UPDATE requests SET status = 'cancelled', finished_at = ended.at,"
        " interaction_token = NULL FROM ended WHERE requests.id = ended.id",
        params,
    )


async def mark_cancelled(db: Database, job_id: int, *, now: float) -> None:
    """The member (or a moderator) cancelled the job, or it was never answered; not charged."""
    await db.execute(
        "UPDATE requests SET status = 'cancelled', finished_at = ?, interaction_token = NULL"
        " WHERE id = ?",
        (now, job_id),
    )
