"""The bot: holds the services it is given, loads the cogs, starts the job workers."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, cast

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from bot.audit import Auditor
from bot.cache import GuildLimits, WordFilters
from bot.config import Settings
from bot.errors import ImagineTree
from bot.jobs.buttons import DYNAMIC_ITEMS
from bot.jobs.service import Jobs
from bot.limits import Limits
from bot.metrics import Metrics, MetricsServer, gateway_connected, start_metrics_server
from bot.onemin import OneMinClient
from bot.ratelimits import RateLimitWatch
from bot.retention import RetentionTask
from bot.storage.database import Database

log = logging.getLogger(__name__)

# Loaded in this order at start; a broken extension stops the bot.
EXTENSIONS: tuple[str, ...] = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.limits",
    "cogs.moderation",
    "cogs.stats",
    "cogs.help",
)

COMMAND_HASH_KEY = "command_tree_hash"


class ImagineBot(commands.AutoShardedBot):
    """The imagine bot.

    The HTTP session and the database are opened by the caller
    (:func:`bot.resources.open_resources`) and closed by it after the bot;
    the services built on them are made here, once, and the cogs reach them
    through the bot.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: aiohttp.ClientSession,
        db: Database,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        # One registry per bot; the HTTP trace times each interaction's first answer.
        self.metrics = Metrics()
        self.metrics_server: MetricsServer | None = None
        # Sees every 429 discord.py gets, so deferrable edits can slow down.
        rate_limits = RateLimitWatch()
        # discord.py takes one trace config: both listen on it.
        trace = self.metrics.interaction_trace()
        trace.on_request_end.append(rate_limits.on_request_end)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=ImagineTree,
            allowed_mentions=discord.AllowedMentions.none(),
            # Every command is for servers only, installed to servers only.
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
            http_trace=trace,
            **options,
        )
        self.settings = settings
        self.rate_limits = rate_limits
        self.started_at = time.time()
        self.synced_commands = False
        self.session = session
        self.db = db
        self.api = OneMinClient.from_settings(session, settings)
        self.audit = Auditor(self, db)
        self.word_filters = WordFilters(db)
        self.guild_limits = GuildLimits(db, self.default_limits)
        self.jobs = Jobs(
            client=self,
            db=db,
            api=self.api,
            session=session,
            audit=self.audit,
            word_filters=self.word_filters,
            guild_limits=self.guild_limits,
            model=settings.onemin_model,
            max_image_bytes=settings.max_image_bytes,
            download_timeout=settings.onemin_timeout_seconds,
            workers=settings.max_concurrent_jobs,
            metrics=self.metrics,
            edit_model=settings.onemin_edit_model,
            max_source_bytes=settings.max_source_image_bytes,
            rate_limits=rate_limits,
        )
        self.retention = RetentionTask(
            db, retention_days=settings.retention_days, on_pruned=self.jobs.book.pruned
        )

    async def setup_hook(self) -> None:
        """Register the job buttons (so old messages' buttons work) and load the cogs."""
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        # /healthz and /metrics, when METRICS_ADDRESS is set.
        self.metrics.watch(
            queue_depth=self.jobs.queue.total_queued, gateway_latency=lambda: self.latency
        )
        self.metrics_server = await start_metrics_server(
            self.metrics,
            self.settings.metrics_address,
            gateway_up=lambda: gateway_connected(self),
            database_ping=lambda: self.db.fetchone("SELECT 1"),
        )

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        """Log in, sync the commands if they changed, start the workers, connect."""
        await self.login(token)
        await self.sync_commands()
        await self.jobs.restore()
        self.jobs.start()
        self.retention.start()
        await self.connect(reconnect=reconnect)

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
        """Shut down in order: stop jobs, stop background tasks, unload cogs, disconnect.

        The session and the database belong to whoever opened them; they are
        closed after this.
        """
        await self.jobs.stop(self.settings.shutdown_grace_seconds)
        await self.retention.stop()
        for extension in tuple(self.extensions):
            try:
                await self.unload_extension(extension)
            except Exception:
                log.exception("Failed to unload %s", extension)
        await super().close()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
            self.metrics_server = None

    async def on_ready(self) -> None:
        """Log once the gateway delivered every guild."""
        log.info("Ready as %s in %d server(s)", self.user, len(self.guilds))
