"""Request rows of edits: their kind, source message, URLs and uploaded paths."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from bot.limits import Limits
from bot.storage import jobs as job_store
from bot.storage import limits as limits_store
from bot.storage.jobs import Kind, NewRequest, Status

URLS = ("https://cdn/a/1/castle.png", "https://cdn/a/2/ref.jpg")


def edit_request(**changes) -> NewRequest:
    fields: dict[str, Any] = {
        "guild_id": 1,
        "channel_id": 5,
        "user_id": 10,
        "prompt": "make it night",
        "aspect_ratio": None,
        "kind": Kind.EDIT,
        "source_channel_id": 5,
        "source_message_id": 99,
        "source_urls": URLS,
    }
    fields.update(changes)
    return NewRequest(**fields)


async def test_an_edit_round_trips_and_keeps_its_uploaded_paths(db):
    job_id = await job_store.insert(db, edit_request(), status=Status.QUEUED, now=1.0)
    job = await job_store.get(db, job_id)
    assert job is not None and job.is_edit
    assert (job.source_channel_id, job.source_message_id, job.source_urls) == (5, 99, URLS)
    assert job.source_paths is None

    await job_store.set_source_paths(db, job_id, ["images/a.png", "images/b.jpg"])
    job = await job_store.get(db, job_id)
    assert job is not None
    assert job.source_paths == ("images/a.png", "images/b.jpg")


async def test_a_generation_is_stored_as_one_without_sources(db):
    request = NewRequest(guild_id=1, channel_id=5, user_id=10, prompt="p", aspect_ratio="3:2")
    job = await job_store.get(db, await job_store.insert(db, request, status=Status.QUEUED, now=1))
    assert job is not None
    assert (job.kind, job.is_edit, job.source_urls, job.source_paths) == (
        Kind.GENERATE,
        False,
        (),
        None,
    )
    row = await db.fetchone("SELECT source_urls FROM requests WHERE id = ?", (job.id,))
    assert row["source_urls"] is None


async def test_admission_stores_an_edit_with_its_paths(db):
    limits = Limits(user_daily=5, guild_daily=5, cooldown_seconds=0, max_queue=5)
    paths = ("images/x.png",)
    job = await limits_store.admit(db, edit_request(source_paths=paths), limits, now=1.0)
    assert (job.kind, job.source_urls, job.source_paths) == (Kind.EDIT, URLS, paths)


async def test_a_refused_edit_keeps_why(db):
    row_id = await job_store.record_refusal(db, edit_request(), "bad_source", now=1.0)
    row = await db.fetchone("SELECT status, kind, error_kind FROM requests WHERE id = ?", (row_id,))
    assert tuple(row) == ("refused", "edit", "bad_source")


async def test_the_kind_is_checked_by_the_database(db):
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute(
            "INSERT INTO requests (guild_id, channel_id, user_id, prompt, status, created_at, kind)"
            " VALUES (1, 2, 3, 'p', 'queued', 1, 'paint')"
        )
