"""``python -m bot doctor [--free]``: prove a deployment end to end, one line per check.

Each line is ``ok``, ``warn``, ``FAIL`` or ``skip``, the check's name and what
was found or what to do. The checks run in the spec's order (SPEC.md,
"Operating it"): configuration, database, Discord token, gateway, the commands
registered against the bot's own, the bot's permissions in the channels it was
used in (one warning per server), then one generation (paid) and one edit of
that image through the Asset API (paid). A failed check does not stop the ones
that do not depend on it, so one run shows every problem. Nothing it prints
contains the token or the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal, TextIO

import aiohttp

from bot import models, permissions
from bot.config import Settings
from bot.images import FetchedImage, ImageError, download_image, ratio_mismatch
from bot.onemin import OneMinClient, OneMinError
from bot.storage.database import Database

Status = Literal["ok", "warn", "FAIL", "skip"]

DOCTOR_PROMPT = "A lighthouse on a rocky coast at sunset, wide landscape, soft light"
DOCTOR_RATIO = "16:9"
DOCTOR_EDIT_PROMPT = "Make it night, with the lighthouse beam shining"
PAID_NOTICE = (
    "The next two checks spend two images of 1min.ai credit (python -m bot doctor --free "
    "skips them)."
)
# discord-api-docs (Reference, User Agent): bots identify as "DiscordBot (url, version)".
USER_AGENT = "DiscordBot (https://github.com/imagine-bot/imagine-bot, 0.1)"
_REDACTED = "[redacted]"
_DISCORD_TIMEOUT = aiohttp.ClientTimeout(total=20, connect=10)
# A 429 is waited out and tried again this many times.
RATE_LIMIT_RETRIES = 3

Getter = Callable[[str], Awaitable[Any]]


@dataclass
class Report:
    """Prints the lines and remembers whether anything failed; redacts secrets."""

    out: TextIO
    secrets: Sequence[str]
    failed: bool = False
    lines: list[tuple[Status, str, str]] = field(default_factory=list)

    def line(self, status: Status, check: str, text: str) -> None:
        """One check's result."""
        text = self._redact(text)
        self.lines.append((status, check, text))
        self.failed = self.failed or status == "FAIL"
        print(f"{status:<4}  {check}: {text}", file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A line that is not a check (the credit notice)."""
        print(self._redact(text), file=self.out, flush=True)

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, _REDACTED)
        return text


class _DiscordRejected(Exception):
    """Discord answered with a status that ends the Discord checks."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


async def run_doctor(settings: Settings, *, free: bool, out: TextIO = sys.stdout) -> int:
    """Run every check; 0 when nothing failed, 1 otherwise."""
    report = Report(out, (settings.discord_token.get(), settings.onemin_api_key.get()))
    # Each check says what happened in its one line. The API client's own log lines
    # (retries, failures) and discord.py's (voice support missing, when the offline
    # bot is built) would only break that up.
    logging.getLogger("bot.onemin").setLevel(logging.CRITICAL)
    logging.getLogger("discord").setLevel(logging.ERROR)
    check_configuration(report, settings)
    stored_hash = await check_database(report, settings)
    async with aiohttp.ClientSession(timeout=_DISCORD_TIMEOUT) as session:
        await check_discord(report, settings, session, stored_hash)
    if free:
        report.line("skip", "generation", "skipped (--free): ONEMIN_API_KEY was not tried")
        report.line("skip", "edit", "skipped (--free)")
    else:
        report.note(PAID_NOTICE)
        async with aiohttp.ClientSession() as session:
            image = await check_generation(report, settings, session)
            if image is None:
                report.line("skip", "edit", "skipped: needs the generated image")
            else:
                await check_edit(report, settings, session, image)
    return 1 if report.failed else 0


# -- configuration and database ---------------------------------------------------------


def check_configuration(report: Report, settings: Settings) -> None:
    """The settings loaded (or the process would have stopped); say what they mean."""
    generation = models.generation_profile(settings)
    editing = models.edit_profile(settings)
    text = models.describe_settings(settings)
    unknown = [
        variable
        for variable, profile in (("ONEMIN_MODEL", generation), ("ONEMIN_EDIT_MODEL", editing))
        if not profile.known
    ]
    if unknown:
        report.line(
            "warn",
            "configuration",
            f"{text}: {' and '.join(unknown)} not in the bot's model table, so only the "
            "prompt (and a ratio) is sent; check the model id against 1min.ai's docs",
        )
        return
    report.line("ok", "configuration", text)


async def check_database(report: Report, settings: Settings) -> str | None:
    """Open (and migrate) the database; return the stored command hash, if any."""
    from bot.app import COMMAND_HASH_KEY
    from bot.storage.database import Database

    path = settings.database_path
    try:
        db = await Database.open(path)
    except (OSError, sqlite3.Error) as exc:
        report.line(
            "FAIL", "database", f"cannot open {path}: {exc}; make DATABASE_PATH a writable file"
        )
        return None
    try:
        stored = await db.get_meta(COMMAND_HASH_KEY)
    finally:
        await db.close()
    report.line("ok", "database", f"{path} opens and is up to date")
    return stored


# -- Discord ------------------------------------------------------------------------------


async def check_discord(
    report: Report, settings: Settings, session: aiohttp.ClientSession, stored_hash: str | None
) -> None:
    """Token, gateway, then the registered commands; later checks need the token."""
    base = settings.discord_api_url
    headers = {"Authorization": f"Bot {settings.discord_token.get()}", "User-Agent": USER_AGENT}

    async def get(path: str) -> Any:
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            async with session.get(f"{base}{path}", headers=headers) as resp:
                body = await resp.text()
                if resp.status == HTTPStatus.TOO_MANY_REQUESTS and attempt < RATE_LIMIT_RETRIES:
                    # Many channels to look at: wait as long as Discord asks.
                    await asyncio.sleep(_retry_after(body))
                    continue
                if resp.status != HTTPStatus.OK:
                    raise _DiscordRejected(resp.status, body)
                return json.loads(body)
        raise AssertionError("unreachable")  # pragma: no cover

    try:
        user = await get("/users/@me")
    except _DiscordRejected as exc:
        if exc.status == HTTPStatus.UNAUTHORIZED:
            what = "Discord rejected DISCORD_TOKEN: copy the token again (Developer Portal, Bot)"
        else:
            what = f"{base}/users/@me answered HTTP {exc.status}: check DISCORD_API_URL"
        report.line("FAIL", "Discord token", what)
        _skip_discord(report, "needs a working DISCORD_TOKEN")
        return
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        report.line(
            "FAIL",
            "Discord token",
            f"cannot reach Discord at {base} ({type(exc).__name__}: {exc}); "
            "check the network and DISCORD_API_URL",
        )
        _skip_discord(report, "Discord is unreachable")
        return
    report.line("ok", "Discord token", f"logged in as {user.get('username')} (id {user.get('id')})")

    try:
        gateway = await get("/gateway/bot")
        _report_gateway(report, gateway)
    except (_DiscordRejected, aiohttp.ClientError, TimeoutError, ValueError) as exc:
        report.line("FAIL", "gateway", f"{base}/gateway/bot failed ({exc}); check DISCORD_API_URL")

    await _check_commands(report, settings, get, stored_hash)
    await check_permissions(report, settings, get, int(user["id"]))


async def _check_commands(
    report: Report, settings: Settings, get: Getter, stored_hash: str | None
) -> None:
    try:
        application = await get("/oauth2/applications/@me")
        registered = await get(f"/applications/{application['id']}/commands")
    except (_DiscordRejected, aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
        report.line("FAIL", "commands", f"cannot read the registered commands ({exc})")
        return
    try:
        ours, our_hash = await bot_commands(settings, int(application["id"]))
    except Exception as exc:  # a broken cog: say so on the line, not in a traceback
        report.line("FAIL", "commands", f"the bot's own commands could not be built: {exc!r}")
        return
    _report_commands(report, registered, ours, synced_here=stored_hash == our_hash)


async def check_permissions(report: Report, settings: Settings, get: Getter, bot_id: int) -> None:
    """Per server, the channels the bot was used in where it lacks a permission it needs.

    Results go to the channel when an interaction token has died, so a missing
    permission there loses images ("undeliverable"); the invite asks for them
    all, but a channel's overwrites can take one away.
    """
    from bot.storage.database import Database
    from bot.storage.jobs import channels_used

    try:
        db = await Database.open(settings.database_path)
        try:
            used = await channels_used(db)
        finally:
            await db.close()
    except (OSError, sqlite3.Error) as exc:
        report.line("skip", "permissions", f"skipped: the database cannot be read ({exc})")
        return
    if not used:
        report.line("ok", "permissions", "the bot was not used in any channel yet")
        return
    by_guild: dict[int, list[int]] = {}
    for guild_id, channel_id in used:
        by_guild.setdefault(guild_id, []).append(channel_id)
    warned = False
    checked = 0
    left = 0
    try:
        for guild_id, channel_ids in by_guild.items():
            try:
                guild = await get(f"/guilds/{guild_id}")
                member = await get(f"/guilds/{guild_id}/members/{bot_id}")
            except _DiscordRejected as exc:
                if exc.status in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND):
                    left += 1  # the bot was removed from that server: nothing to fix
                    continue
                raise
            roles = [int(r) for r in member.get("roles", ())]
            problems = []
            for channel_id in channel_ids:
                lacking = await _channel_problems(get, guild, roles, bot_id, channel_id)
                checked += 1
                if lacking:
                    problems.append(lacking)
            if problems:
                warned = True
                report.line(
                    "warn",
                    "permissions",
                    f"server {guild.get('name')!r} ({guild_id}): {'; '.join(problems)}; give the"
                    " bot's role these there (or remove the channel's overwrite), or results"
                    " that must go to the channel are lost",
                )
    except (_DiscordRejected, aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
        report.line("FAIL", "permissions", f"cannot read the servers' channels ({exc})")
        return
    if not warned:
        note = f" ({left} server(s) the bot has left)" if left else ""
        report.line(
            "ok",
            "permissions",
            f"the bot may post in the {checked} channel(s) it was used in{note}",
        )


async def _channel_problems(
    get: Getter, guild: Mapping[str, Any], roles: list[int], bot_id: int, channel_id: int
) -> str | None:
    """What the bot lacks in one channel, as "#name lacks X, Y" (None: nothing)."""
    try:
        channel = await get(f"/channels/{channel_id}")
    except _DiscordRejected as exc:
        if exc.status == HTTPStatus.NOT_FOUND:
            return None  # deleted since: nothing to fix
        if exc.status == HTTPStatus.FORBIDDEN:
            return f"channel {channel_id} lacks View Channel"
        raise
    parent = None
    if permissions.is_thread(channel) and channel.get("parent_id"):
        parent = await get(f"/channels/{channel['parent_id']}")
    perms = permissions.channel_permissions(guild, roles, bot_id, channel, parent)
    lacking = permissions.missing(perms, thread=permissions.is_thread(channel))
    if not lacking:
        return None
    return f"#{channel.get('name', channel_id)} lacks {', '.join(lacking)}"


def _retry_after(body: str) -> float:
    try:
        return min(max(float(json.loads(body)["retry_after"]), 0.05), 60.0)
    except (ValueError, KeyError, TypeError):
        return 1.0


def _skip_discord(report: Report, why: str) -> None:
    report.line("skip", "gateway", f"skipped: {why}")
    report.line("skip", "commands", f"skipped: {why}")
    report.line("skip", "permissions", f"skipped: {why}")


def _report_gateway(report: Report, gateway: Mapping[str, Any]) -> None:
    limit = gateway.get("session_start_limit") or {}
    remaining, total = limit.get("remaining"), limit.get("total")
    text = f"{gateway.get('url')}, {gateway.get('shards')} shard(s) recommended"
    if remaining == 0:
        wait = (limit.get("reset_after") or 0) / 1000
        report.line(
            "warn",
            "gateway",
            f"{text}; no session starts left: the bot cannot connect for {wait:.0f} s",
        )
        return
    report.line("ok", "gateway", f"{text}, {remaining} of {total} session starts left today")


async def bot_commands(settings: Settings, application_id: int) -> tuple[list[Any], str]:
    """The bot's commands as it would sync them, and their hash; built without connecting.

    The bot is made and its extensions loaded, nothing more: an in-memory
    database, an HTTP session that sends nothing, no gateway.
    """
    from bot.app import EXTENSIONS, ImagineBot

    async with (
        aiohttp.ClientSession() as session,
        contextlib.AsyncExitStack() as stack,
    ):
        db = await Database.open(Path(":memory:"))
        stack.push_async_callback(db.close)
        bot = ImagineBot(settings, session=session, db=db, application_id=application_id)
        async with bot:  # entered without login: closing it touches nothing remote
            for extension in EXTENSIONS:
                await bot.load_extension(extension)
            commands = [command.to_dict(bot.tree) for command in bot.tree.get_commands()]
            return commands, bot.command_tree_hash()


def _report_commands(
    report: Report, registered: Sequence[Any], ours: Sequence[Any], *, synced_here: bool
) -> None:
    differences = compare_commands(registered, ours)
    if not differences:
        report.line("ok", "commands", f"{len(ours)} registered, the same as the bot's")
        return
    if not registered:
        report.line(
            "warn",
            "commands",
            "none registered yet: the bot's first start registers them "
            "(or run `python -m bot sync` now)",
        )
        return
    # The bot syncs at start only when its commands changed since its last sync.
    fix = (
        "this bot synced them already, so a restart will not fix it: run `python -m bot sync`"
        if synced_here
        else "the next start syncs them, or run `python -m bot sync` now"
    )
    report.line(
        "warn", "commands", f"Discord's differ from the bot's ({'; '.join(differences)}): {fix}"
    )


def compare_commands(registered: Iterable[Any], ours: Iterable[Any]) -> list[str]:
    """What differs between Discord's stored commands and the bot's (empty: the same)."""
    theirs = {_key(c): _canonical(c) for c in registered if isinstance(c, Mapping)}
    mine = {_key(c): _canonical(c) for c in ours}
    differences = [f"/{name} missing" for (name, _) in sorted(mine.keys() - theirs.keys())]
    differences += [f"/{name} extra" for (name, _) in sorted(theirs.keys() - mine.keys())]
    differences += [
        f"/{key[0]} differs"
        for key in sorted(mine.keys() & theirs.keys())
        if mine[key] != theirs[key]
    ]
    return differences


# The fields the bot sets; Discord adds ids, versions and localizations of its own.
_COMPARED = (
    "name",
    "type",
    "description",
    "options",
    "default_member_permissions",
    "nsfw",
    "contexts",
    "integration_types",
)


def _key(command: Mapping[str, Any]) -> tuple[str, int]:
    return str(command.get("name")), int(command.get("type") or 1)


def _canonical(command: Mapping[str, Any]) -> dict[str, Any]:
    canonical: dict[str, Any] = {}
    for key in _COMPARED:
        value = command.get(key)
        if key == "type":
            value = value or 1
        elif key == "default_member_permissions" and value is not None:
            value = str(value)
        elif key in ("contexts", "integration_types") and value:
            value = sorted(value)
        elif key == "options":
            value = [_trim(option) for option in value or ()]
        canonical[key] = value or None
    return canonical


def _trim(value: Any) -> Any:
    """An option without empty or false members (Discord omits some of them)."""
    if isinstance(value, Mapping):
        return {
            k: _trim(v)
            for k, v in value.items()
            if v not in (None, False, [], {}, "") and not k.endswith("_localizations")
        }
    if isinstance(value, list):
        return [_trim(v) for v in value]
    return value


# -- the paid checks ----------------------------------------------------------------------


async def check_generation(
    report: Report, settings: Settings, session: aiohttp.ClientSession
) -> FetchedImage | None:
    """One image at 16:9 (when the model takes a ratio); its size says whether it was honoured.

    Returns the image for the edit check, or None when there is none.
    """
    client = OneMinClient.from_settings(session, settings)
    profile = client.profile
    ratio = DOCTOR_RATIO if DOCTOR_RATIO in profile.ratios else None
    started = time.monotonic()
    try:
        generation = await client.generate(DOCTOR_PROMPT, ratio)
        image = await download_image(
            session,
            generation.image_url,
            max_bytes=settings.max_image_bytes,
            timeout=settings.onemin_timeout_seconds,
        )
    except OneMinError as exc:
        report.line("FAIL", "generation", f"{_advice(exc)} [{exc.kind}: {exc.detail}]")
        return None
    except ImageError as exc:
        report.line(
            "FAIL",
            "generation",
            f"the image could not be fetched [{exc.kind}: {exc.detail}]; try again, and check "
            "MAX_IMAGE_BYTES",
        )
        return None
    seconds = time.monotonic() - started
    got = f"{image.width}x{image.height} {image.format} in {seconds:.1f} s"
    if ratio is None:
        report.line("ok", "generation", f"{got} ({profile.model} takes no aspect ratio)")
    elif ratio_mismatch(image.width, image.height, ratio):
        other = "aspect_ratio" if profile.ratio_field == "aspectRatio" else "aspectRatio"
        report.line(
            "warn",
            "generation",
            f"asked {ratio} as promptObject.{profile.ratio_field} and got {got}: the API "
            f"ignores that field. Set ONEMIN_ASPECT_RATIO_FIELD to the name it honours "
            f"(e.g. {other}), or to nothing to drop the aspect_ratio option",
        )
    else:
        report.line(
            "ok",
            "generation",
            f"{got}; {ratio} asked as promptObject.{profile.ratio_field} and honoured",
        )
    return image


async def check_edit(
    report: Report, settings: Settings, session: aiohttp.ClientSession, image: FetchedImage
) -> None:
    """Upload the generated image with the Asset API, then one IMAGE_EDITOR call on it."""
    client = OneMinClient.from_settings(session, settings)
    profile = client.edit_profile
    started = time.monotonic()
    try:
        path = await client.upload_asset(
            image.data, f"doctor.{image.extension}", image.content_type
        )
    except OneMinError as exc:
        report.line(
            "FAIL",
            "edit",
            f"uploading the image to {settings.onemin_api_url}/api/assets failed: "
            f"{_advice(exc)} [{exc.kind}: {exc.detail}]",
        )
        return
    try:
        edited = await client.edit(DOCTOR_EDIT_PROMPT, path)
        result = await download_image(
            session,
            edited.image_url,
            max_bytes=settings.max_image_bytes,
            timeout=settings.onemin_timeout_seconds,
        )
    except OneMinError as exc:
        advice = _advice(exc).replace("ONEMIN_MODEL", "ONEMIN_EDIT_MODEL")
        report.line("FAIL", "edit", f"{advice} [{exc.kind}: {exc.detail}]")
        return
    except ImageError as exc:
        report.line(
            "FAIL",
            "edit",
            f"the edited image could not be fetched [{exc.kind}: {exc.detail}]; try again",
        )
        return
    seconds = time.monotonic() - started
    report.line(
        "ok",
        "edit",
        f"{result.width}x{result.height} {result.format} in {seconds:.1f} s from {profile.model}"
        f" (uploaded as {path})",
    )


def _advice(error: OneMinError) -> str:
    """What an operator should do about a failed call, naming the variable to fix."""
    match error.kind:
        case "auth":
            return "1min.ai rejected ONEMIN_API_KEY: copy the key again from your 1min.ai account"
        case "credits":
            return "the 1min.ai account is out of credits: top it up"
        case "bad_request":
            return (
                "1min.ai did not accept the request: check ONEMIN_MODEL, ONEMIN_IMAGE_SIZE "
                "and ONEMIN_ASPECT_RATIO_FIELD"
            )
        case "refused":
            return "1min.ai refused the test prompt: try again; if it persists, report it"
        case "bad_response":
            return "1min.ai answered in a shape the bot does not know: report it"
        case _:
            return "1min.ai could not be reached in time: check ONEMIN_API_URL and the network"
