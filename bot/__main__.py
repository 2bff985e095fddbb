"""Command line: ``python -m bot [run|sync|check|doctor|imagine|backup]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import load_dotenv

from bot import __version__, cli_tools, startup
from bot.app import ImagineBot
from bot.config import ConfigError, Settings, log_level_number
from bot.logs import setup_logging
from bot.resources import configure_process, open_resources

log = logging.getLogger("bot")

EXIT_CONFIG = startup.EXIT_FATAL


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    parser = argparse.ArgumentParser(
        prog="imagine-bot" if Path(sys.argv[0]).name == "imagine-bot" else "python -m bot",
        description="imagine-bot: /imagine on Discord, images from the 1min.ai API.",
        epilog="Configuration comes from the environment and a .env file; see .env.example.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    imagine.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="file to write: .png, .jpg or .webp (converted if need be); no extension: the real"
        " format's",
    )
    imagine.add_argument("--aspect-ratio", default=None, help="e.g. 16:9 (checked before the call)")
    doctor = commands.add_parser(
        "doctor", help="check a deployment end to end (spends two images of credit)"
    )
    doctor.add_argument("--free", action="store_true", help="skip the two paid API calls")
    backup = commands.add_parser("backup", help="write a consistent copy of the live database")
    backup.add_argument("file", type=Path, help="where to write the copy")
    backup.epilog = "Only DATABASE_PATH is read; a database that does not exist is refused."
    return parser


async def serve(settings: Settings, *, sync_only: bool = False) -> int:
    """Check the database, then start the bot, waiting out network failures at start."""
    await startup.check_database(settings.database_path)
    stop = startup.stop_on_signals()
    configure_process(settings)
    return await startup.start_with_retries(
        lambda: run_bot(settings, stop, sync_only=sync_only),
        stop=stop,
        target=settings.discord_api_url,
    )


async def run_bot(settings: Settings, stop: asyncio.Event, *, sync_only: bool = False) -> int:
    """Run until ``stop`` is set (or, for ``sync``, until the commands are synced).

    Each attempt opens its own session and database and builds a new bot:
    discord.py makes a new HTTP session at every login, so a client is never
    logged in twice.
    """
    async with open_resources(settings) as resources:
        bot = ImagineBot(settings, session=resources.session, db=resources.db)
        return await _run(bot, settings.discord_token.get(), stop, sync_only=sync_only)


async def _run(bot: ImagineBot, token: str, stop: asyncio.Event, *, sync_only: bool) -> int:
    async with bot:
        if sync_only:
            await bot.login(token)
            await bot.sync_commands(force=True)
            return 0
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    # Real environment variables win over the .env file.
    load_dotenv(Path.cwd() / ".env", override=False)
    command = args.command or "run"
    try:
        settings = cli_tools.settings_for(command, os.environ)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    level = log_level_number(settings)
    if command not in ("run", "sync"):
        # One-shot commands print their own result; keep library chatter out of it.
        level = max(level, logging.WARNING)
    setup_logging(level)
    try:
        if command == "imagine":
            return asyncio.run(
                cli_tools.imagine_once(settings, args.prompt, args.output, args.aspect_ratio)
            )
        if command == "check":
            return asyncio.run(cli_tools.check(settings))
        if command == "doctor":
            from bot.doctor import run_doctor

            return asyncio.run(run_doctor(settings, free=args.free))
        if command == "backup":
            return asyncio.run(cli_tools.backup(settings, args.file))
        return asyncio.run(serve(settings, sync_only=command == "sync"))
    except startup.FatalStartError as exc:
        # Configuration, a rejected token, an unusable database: a restart cannot help.
        print(exc.line, file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
