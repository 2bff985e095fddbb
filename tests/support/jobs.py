"""Stored jobs for unit tests, built in one place; the job a member's message is about."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from bot.storage.jobs import Job, Status
from tests.support.fake_discord.models import FakeMessage


def make_job(**changes: Any) -> Job:
    """A job as the database would return it: a queued prompt with no interaction."""
    base = Job(
        id=1,
        guild_id=1,
        channel_id=2,
        user_id=3,
        prompt="a red fox",
        aspect_ratio=None,
        status=Status.QUEUED,
        created_at=time.time(),
        started_at=None,
        finished_at=None,
        application_id=None,
        interaction_id=None,
        interaction_token=None,
        attachment_limit=None,
        result_message_id=None,
        result_channel_id=None,
        error_kind=None,
        attempts=0,
    )
    return replace(base, **changes)


def cancel_button_job(message: FakeMessage) -> int | None:
    """The job id on a queued answer's Cancel button (None for any other message)."""
    for component in message.iter_components():
        custom_id = component.get("custom_id", "")
        if custom_id.startswith("imagine:cancel:"):
            return int(custom_id.rsplit(":", 1)[1])
    return None
