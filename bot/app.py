"""The bot: owns the HTTP session, database, API client and job queue."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, cast

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.audit import Auditor
from bot.config import Settings
from bot.errors import ImagineTree
from bot.generation import JobRunner
from bot.jobs import ApiDone, JobQueue
from bot.limits import GuildLimits, Limits
from bot.metrics import Metrics, MetricsServer, gateway_connected, start_metrics_server
from bot.moderation import WordFilters
from bot.onemin import OneMinClient
from bot.progress import ProgressUpdater
from bot.retention import RetentionTask
from bot.storage.database import Database
from bot.storage.requests import Job

log = logging.getLogger(__name__)

# Loaded in this order at start; a broken extension stops the bot.
EXTENSIONS: tuple[str, ...] = (
    "cogs.imagine",
    "cogs.limits",
    "cogs.moderation",
    "cogs.stats",
    "cogs.help",
)

COMMAND_HASH_KEY = "command_tree_hash"
GIL_SWITCH_INTERVAL = 0.0005


def point_rest_at(api_url: str) -> None:
    """Send discord.py's REST calls to ``api_url``.

    discord.py has no option for this: every route is built from the class
    attribute ``Route.BASE``, so that is the one place to change.
    """
    Route.BASE = api_url.rstrip("/")


class InFlight:
    """Counts requests being admitted, so shutdown can let them finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Mark one request as in flight for the duration of the block."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self, *, within: float) -> None:
        """Wait (at most ``within`` seconds) until nothing is in flight."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)


class ImagineBot(commands.AutoShardedBot):
    """The imagine bot. Shared services are created in :meth:`setup_hook`."""

    session: aiohttp.ClientSession
    db: Database
    api: OneMinClient
    jobs: JobQueue
    runner: JobRunner
    audit: Auditor
    word_filters: WordFilters
    guild_limits: GuildLimits
    progress: ProgressUpdater
    retention: RetentionTask

    def __init__(
        self,
        settings: Settings,
        *,
        force_sync: bool = False,
        start_jobs: bool = True,
        progress_interval: float = 2.0,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        # metrics: one registry per bot; the trace times each interaction's first answer.
        self.metrics = Metrics()
        self.metrics_server: MetricsServer | None = None
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=ImagineTree,
            allowed_mentions=discord.AllowedMentions.none(),
            # Every command is for servers only, installed to servers only.
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
            http_trace=self.metrics.interaction_trace(),
            **options,
        )
        self.settings = settings
        self.started_at = time.time()
        self.synced_commands = False
        self._force_sync = force_sync
        self._start_jobs = start_jobs
        self._progress_interval = progress_interval
        self._services_closed = False
        self.in_flight = InFlight()
        point_rest_at(settings.discord_api_url)
        # Database calls and image decoding run on threads. With Python's default
        # 5 ms GIL switch interval, a busy event loop makes each of those threads
        # wait up to 5 ms per hand-back, and a burst of commands then queues behind
        # its own database work (measured: 800 /imagine at once left 520
        # unanswered after 3 s; with 0.5 ms, none). Process-wide on purpose.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)

    async def setup_hook(self) -> None:
        """Open the shared services, load the cogs, sync commands, start the workers."""
        s = self.settings
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=s.onemin_timeout_seconds, connect=10)
        )
        self.db = await Database.open(s.database_path)
        self.api = OneMinClient(
            self.session,
            base_url=s.onemin_api_url,
            api_key=s.onemin_api_key.get(),
            model=s.onemin_model,
            timeout=s.onemin_timeout_seconds,
        )
        self.audit = Auditor(self, self.db)
        self.word_filters = WordFilters(self.db)
        self.guild_limits = GuildLimits(self.db, self.default_limits)
        self.runner = JobRunner(
            client=self,
            db=self.db,
            api=self.api,
            session=self.session,
            model=s.onemin_model,
            max_image_bytes=s.max_image_bytes,
            download_timeout=s.onemin_timeout_seconds,
            audit=self.audit,
            metrics=self.metrics,
        )
        self.jobs = JobQueue(self.db, self._run_job, workers=s.max_concurrent_jobs)
        self.progress = ProgressUpdater(
            self.jobs, self.runner.show_progress, min_interval=self._progress_interval
        )
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands(force=self._force_sync)
        self.retention = RetentionTask(self.db, retention_days=s.retention_days)
        if self._start_jobs:
            await self.jobs.restore()
            self.jobs.start()
            self.retention.start()
        # metrics: /healthz and /metrics, when METRICS_ADDRESS is set.
        self.metrics.watch(queue_depth=self.jobs.total_queued, gateway_latency=lambda: self.latency)
        self.metrics_server = await start_metrics_server(
            self.metrics,
            s.metrics_address,
            gateway_up=lambda: gateway_connected(self),
            database_ping=lambda: self.db.fetchone("SELECT 1"),
        )

    async def _run_job(self, job: Job, api_done: ApiDone) -> None:
        # The runner owns the member's message from here on.
        self.progress.forget(job.id)
        await self.runner(job, api_done)

    async def launch_shards(self) -> None:
        """Connect to the gateway address ``/gateway/bot`` gives, also after a reconnect.

        discord.py falls back to its built-in gateway after an invalidated
        session; behind a proxy or a test server that address is wrong, so
        point the fallback at the one we were given.
        """
        # discord.py types shard_count as int, but it is None until asked for.
        configured = cast("int | None", self.shard_count)
        if not self.settings.discord_api_is_default and configured is None:
            shard_count, url, _ = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
            self.shard_count = shard_count
        await super().launch_shards()

    @property
    def default_limits(self) -> Limits:
        """The operator's defaults for servers that set none of their own."""
        s = self.settings
        return Limits(
            user_daily=s.default_user_daily_limit,
            guild_daily=s.default_guild_daily_limit,
            cooldown_seconds=s.default_cooldown_seconds,
            max_queue=s.default_max_queue,
        )

    def command_tree_hash(self) -> str:
        """A hash of the commands as Discord would store them, for this application."""
        payload = sorted(
            (command.to_dict(self.tree) for command in self.tree.get_commands()),
            key=lambda c: str(c["name"]),
        )
        material = json.dumps(
            {"application_id": self.application_id, "commands": payload}, sort_keys=True
        )
        return hashlib.sha256(material.encode()).hexdigest()

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Sync the global command tree if it changed since the last sync (or if forced)."""
        digest = self.command_tree_hash()
        if not force and await self.db.get_meta(COMMAND_HASH_KEY) == digest:
            log.info("Slash commands unchanged since the last sync; not syncing")
            return False
        synced = await self.tree.sync()
        await self.db.set_meta(COMMAND_HASH_KEY, digest)
        self.synced_commands = True
        log.info("Synced %d slash command(s) with Discord", len(synced))
        return True

    async def close(self) -> None:
        """Shut down in order: stop jobs, unload cogs, disconnect, close services.

        Safe after a start that failed half way: only what was created is closed.
        """
        if hasattr(self, "jobs"):
            await self.jobs.stop(self.settings.shutdown_grace_seconds)
        # Commands already being answered finish their database work first.
        await self.in_flight.wait_idle(within=5.0)
        if hasattr(self, "progress"):
            await self.progress.close()
        if hasattr(self, "retention"):
            await self.retention.stop()
        for extension in tuple(self.extensions):
            try:
                await self.unload_extension(extension)
            except Exception:
                log.exception("Failed to unload %s", extension)
        await super().close()
        if self._services_closed:
            return
        self._services_closed = True
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        if hasattr(self, "session"):
            await self.session.close()
        if hasattr(self, "db"):
            await self.db.close()

    async def on_ready(self) -> None:
        """Log once the gateway delivered every guild."""
        log.info("Ready as %s in %d server(s)", self.user, len(self.guilds))
