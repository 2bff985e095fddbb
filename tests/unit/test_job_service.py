"""The job service without Discord: restoring the queue, requeueing at shutdown."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import discord

from bot.audit import Auditor
from bot.cache import GuildLimits, WordFilters
from bot.jobs.service import Jobs
from bot.limits import Limits
from bot.metrics import Metrics
from bot.onemin import OneMinClient
from bot.storage import jobs as job_store
from bot.storage.database import Database
from bot.storage.jobs import Job, NewRequest, Status

LIMITS = Limits(user_daily=20, guild_daily=500, cooldown_seconds=0, max_queue=25)


def make_jobs(db: Database, session: aiohttp.ClientSession, api_url: str, key: str) -> Jobs:
    # No interaction token and no channel is ever reached: these jobs run
    # their API call only, so the client never talks to Discord.
    client = discord.Client(intents=discord.Intents.none())
    return Jobs(
        client=client,
        db=db,
        api=OneMinClient(
            session, base_url=api_url, api_key=key, model="gemini-2.5-flash-image", timeout=30
        ),
        session=session,
        audit=Auditor(client, db),
        word_filters=WordFilters(db),
        guild_limits=GuildLimits(db, LIMITS),
        model="gemini-2.5-flash-image",
        max_image_bytes=10**8,
        download_timeout=5,
        workers=1,
        metrics=Metrics(),
    )


async def fetch(db: Database, job_id: int) -> Job:
    job = await job_store.get(db, job_id)
    assert job is not None
    return job


async def stored(db: Database, prompt: str) -> int:
    request = NewRequest(guild_id=1, channel_id=2, user_id=3, prompt=prompt, aspect_ratio=None)
    return await job_store.insert(db, request, status=Status.QUEUED, now=time.time())


async def test_restore_requeues_interrupted_jobs_once(db, session, onemin):
    running = await stored(db, "was running")
    queued = await stored(db, "was queued")
    crashed_twice = await stored(db, "crashes")
    await job_store.mark_running(db, running, now=1.0)
    await job_store.mark_running(db, crashed_twice, now=1.0)
    await job_store.mark_running(db, crashed_twice, now=2.0)

    jobs = make_jobs(db, session, onemin.base_url, onemin.api_key)
    assert await jobs.restore() == 2
    assert [j.id for j in jobs.queue.queued_jobs(1)] == [running, queued]
    assert (await fetch(db, running)).status is Status.QUEUED
    gave_up = await fetch(db, crashed_twice)
    assert (gave_up.status, gave_up.error_kind) == (Status.FAILED, "interrupted")


async def test_stop_refuses_new_jobs_and_requeues_cut_off_ones(db, session, onemin):
    onemin.latency = 10
    job_id = await stored(db, "slow")
    jobs = make_jobs(db, session, onemin.base_url, onemin.api_key)
    await jobs.restore()
    jobs.start()
    while (await fetch(db, job_id)).status is not Status.RUNNING:
        await asyncio.sleep(0.01)
    await jobs.stop(0.05)
    assert (await fetch(db, job_id)).status is Status.QUEUED
    assert not jobs.accepting
