"""Command line: ``python -m bot [run|sync|check|doctor|imagine|backup]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from http import HTTPStatus
from pathlib import Path

import discord
from dotenv import load_dotenv

from bot.app import ImagineBot
from bot.config import ConfigError, Settings, load_settings, log_level_number
from bot.models import describe_settings
from bot.resources import configure_process, open_resources

log = logging.getLogger("bot")

EXIT_CONFIG = 2
EXIT_FAILURE = 1

# What the bot needs where it posts: View Channel, Send Messages, Send Messages in
# Threads (Send Messages does not reach into threads), Embed Links, Attach Files:
# 274877959168. `doctor` warns per server where a channel the bot was used in lacks one.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="imagine-bot: /imagine on Discord, images from the 1min.ai API.",
        epilog="Configuration comes from the environment and a .env file; see .env.example.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot (the default)")
    commands.add_parser("sync", help="register the slash commands with Discord now, then exit")
    commands.add_parser(
        "check", help="check the configuration, the token and the database; print the invite URL"
    )
    imagine = commands.add_parser(
        "imagine", help="generate one image straight from the API (tests the key)"
    )
    imagine.add_argument("prompt", help="what the image should show")
    imagine.add_argument("-o", "--output", required=True, type=Path, help="file to write")
    imagine.add_argument("--aspect-ratio", default=None, help="e.g. 16:9")
    doctor = commands.add_parser(
        "doctor", help="check a deployment end to end (spends two images of credit)"
    )
    doctor.add_argument("--free", action="store_true", help="skip the two paid API calls")
    backup = commands.add_parser("backup", help="write a consistent copy of the live database")
    backup.add_argument("file", type=Path, help="where to write the copy")
    return parser


async def run_bot(settings: Settings, *, sync_only: bool = False) -> int:
    """Run until SIGTERM/SIGINT (or, for ``sync``, until the commands are synced)."""
    configure_process(settings)
    async with open_resources(settings) as resources:
        bot = ImagineBot(settings, session=resources.session, db=resources.db)
        return await _run(bot, settings.discord_token.get(), sync_only=sync_only)


async def _run(bot: ImagineBot, token: str, *, sync_only: bool) -> int:
    async with bot:
        if sync_only:
            await bot.login(token)
            await bot.sync_commands(force=True)
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(bot.start(token), name="discord")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("Signal received: finishing running jobs, keeping the rest queued")
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            return 0
        stopper.cancel()
        runner.result()  # re-raise whatever ended the connection
    return 0


async def imagine_once(settings: Settings, prompt: str, output: Path, ratio: str | None) -> int:
    """One generation straight from the API, written to ``output``."""
    import aiohttp

    from bot.images import ImageError, download_image
    from bot.onemin import OneMinClient, OneMinError

    async with aiohttp.ClientSession() as session:
        client = OneMinClient.from_settings(session, settings)
        try:
            generation = await client.generate(prompt, ratio)
            image = await download_image(
                session,
                generation.image_url,
                max_bytes=settings.max_image_bytes,
                timeout=settings.onemin_timeout_seconds,
            )
        except (OneMinError, ImageError) as exc:
            print(f"error ({exc.kind}): {exc.user_message} [{exc.detail}]", file=sys.stderr)
            return EXIT_FAILURE
    await asyncio.to_thread(output.write_bytes, image.data)
    print(f"wrote {output} ({image.format} {image.width}x{image.height}, {len(image.data)} bytes)")
    return 0


async def check(settings: Settings) -> int:
    """Validate what can be validated without generating an image; one line per problem."""
    import aiohttp

    from bot.storage.database import Database

    try:
        db = await Database.open(settings.database_path)
        await db.close()
    except (OSError, sqlite3.Error) as exc:
        print(f"DATABASE_PATH: cannot open {settings.database_path}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"ok: database {settings.database_path} is writable")
    print(f"ok: {describe_settings(settings)}")
    headers = {"Authorization": f"Bot {settings.discord_token.get()}"}
    base = settings.discord_api_url
    try:
        async with aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=20)
        ) as session:
            async with session.get(f"{base}/users/@me") as resp:
                if resp.status == HTTPStatus.UNAUTHORIZED:
                    print("DISCORD_TOKEN: Discord rejected the token", file=sys.stderr)
                    return EXIT_FAILURE
                resp.raise_for_status()
                user = await resp.json()
            async with session.get(f"{base}/oauth2/applications/@me") as resp:
                resp.raise_for_status()
                application = await resp.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"DISCORD_API_URL: cannot reach Discord at {base}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"ok: logged in as {user.get('username')} (id {user.get('id')})")
    print(f"invite: {invite_url(int(application['id']))}")
    return 0


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot with the scopes and permissions it needs."""
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&scope=bot+applications.commands"
        f"&permissions={INVITE_PERMISSIONS.value}"
    )


async def backup(settings: Settings, target: Path) -> int:
    """Copy the live database through SQLite's online backup."""
    from bot.storage.database import Database

    db = await Database.open(settings.database_path)
    try:
        await db.backup_to(target)
    finally:
        await db.close()
    print(f"backed up {settings.database_path} to {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    # Real environment variables win over the .env file.
    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    command = args.command or "run"
    level = log_level_number(settings)
    if command not in ("run", "sync"):
        # One-shot commands print their own result; keep library chatter out of it.
        level = max(level, logging.WARNING)
    # Plain lines to stdout: colour codes would litter journald and `docker logs`.
    discord.utils.setup_logging(
        handler=logging.StreamHandler(sys.stdout),
        formatter=logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"),
        level=level,
        root=True,
    )
    try:
        if command == "imagine":
            return asyncio.run(imagine_once(settings, args.prompt, args.output, args.aspect_ratio))
        if command == "check":
            return asyncio.run(check(settings))
        if command == "doctor":
            from bot.doctor import run_doctor

            return asyncio.run(run_doctor(settings, free=args.free))
        if command == "backup":
            return asyncio.run(backup(settings, args.file))
        return asyncio.run(run_bot(settings, sync_only=command == "sync"))
    except discord.LoginFailure:
        print("Discord rejected DISCORD_TOKEN: check the bot token.", file=sys.stderr)
        return EXIT_FAILURE
    except discord.PrivilegedIntentsRequired:
        print("Discord refused the gateway intents requested.", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
