"""The one-shot commands ``check``, ``imagine`` and ``backup``.

Each reads only the variables it uses, checks what it can before spending
anything (a credit, a file), prints its own result and prints every error
once, in one line, on stderr.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import discord
from PIL import Image

from bot.config import Settings, load_settings, load_settings_for
from bot.models import aspect_ratios, describe_settings
from bot.startup import FatalStartError, check_database, open_database

EXIT_FAILURE = 1
# Bad arguments, as argparse itself exits on them.
EXIT_USAGE = 2

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

# Output file extensions ``imagine`` can write, and Pillow's name for each format.
OUTPUT_FORMATS: Mapping[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
}
_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif"}


def _imagine_uses(name: str) -> bool:
    return name.startswith("ONEMIN_") or name in ("MAX_IMAGE_BYTES", "LOG_LEVEL")


def _backup_uses(name: str) -> bool:
    return name in ("DATABASE_PATH", "LOG_LEVEL")


# The variables each one-shot command reads; the others may be missing or wrong.
COMMAND_VARIABLES: Mapping[str, Callable[[str], bool]] = {
    "imagine": _imagine_uses,
    "backup": _backup_uses,
}


def settings_for(command: str, env: Mapping[str, str]) -> Settings:
    """The settings ``command`` needs: all of them, except for the one-shot commands above."""
    uses = COMMAND_VARIABLES.get(command)
    return load_settings(env) if uses is None else load_settings_for(env, uses)


def fail(line: str, code: int = EXIT_FAILURE) -> int:
    """Print one error line on stderr; return ``code``."""
    print(line, file=sys.stderr)
    return code


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written, found without writing it; None if it can."""
    if path.is_dir():
        return f"-o: {path} is a folder; give a file name"
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        return f"-o: {folder} is not a folder"
    if not folder.is_dir():
        return f"-o: the folder {folder} does not exist"
    try:
        # Creating a file is the only sure test: os.access says yes to root
        # even on a read-only file system.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".imagine-check-"):
            pass
    except OSError as exc:
        return f"-o: cannot write in {folder}: {exc.strerror or exc}"
    return None


def convert(data: bytes, fmt: str) -> bytes:
    """``data`` (an image Pillow has checked) re-encoded as ``fmt``."""
    with Image.open(io.BytesIO(data)) as image:
        picture: Image.Image = image
        if fmt == "JPEG" and image.mode not in ("RGB", "L"):
            picture = image.convert("RGB")  # JPEG has no alpha channel
        out = io.BytesIO()
        options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
        picture.save(out, fmt, **options)
        return out.getvalue()


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a logger: the command prints the outcome itself, once."""
    logger = logging.getLogger(logger_name)
    before = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(before)


async def imagine_once(settings: Settings, prompt: str, output: Path, ratio: str | None) -> int:
    """One generation straight from the API, written to ``output``.

    The ratio, the file name and the folder are checked before the call, so a
    mistake costs no credit. The file gets the format its name says (converted
    if the API sent another); a name without an extension gets the real one.
    """
    import aiohttp

    from bot.images import ImageError, download_image
    from bot.onemin import OneMinClient, OneMinError

    model = settings.onemin_model
    # The ratios the model (and ONEMIN_ASPECT_RATIO_FIELD) allow, from the model table.
    ratios = aspect_ratios(settings)
    if ratio is not None and ratio not in ratios:
        allowed = f"use one of {', '.join(ratios)}" if ratios else "it takes no ratio"
        return fail(f"--aspect-ratio: {ratio} is not a ratio {model} makes; {allowed}", EXIT_USAGE)
    suffix = output.suffix.lower()
    if suffix and suffix not in OUTPUT_FORMATS:
        return fail(
            f"-o: cannot write a {suffix} image; end the name with"
            f" {', '.join(OUTPUT_FORMATS)} or leave the extension off",
            EXIT_USAGE,
        )
    problem = output_problem(output)
    if problem is not None:
        return fail(problem, EXIT_USAGE)

    async with aiohttp.ClientSession() as session:
        client = OneMinClient.from_settings(session, settings)
        try:
            with _quiet("bot.onemin"):
                generation = await client.generate(prompt, ratio)
            image = await download_image(
                session,
                generation.image_url,
                max_bytes=settings.max_image_bytes,
                timeout=settings.onemin_timeout_seconds,
            )
        except (OneMinError, ImageError) as exc:
            return fail(f"error ({exc.kind}): {exc.user_message} [{exc.detail}]")
    data = image.data
    note = ""
    wanted = OUTPUT_FORMATS.get(suffix)
    if wanted is None:
        output = output.with_name(output.name + _EXTENSIONS.get(image.format, ".img"))
    elif wanted != image.format:
        data = await asyncio.to_thread(convert, data, wanted)
        note = f", converted from {image.format}"
    try:
        await asyncio.to_thread(output.write_bytes, data)
    except OSError as exc:
        return fail(f"-o: cannot write {output}: {exc.strerror or exc}")
    print(
        f"wrote {output} ({wanted or image.format} {image.width}x{image.height},"
        f" {len(data)} bytes{note})"
    )
    return 0


async def check(settings: Settings) -> int:
    """Validate what can be validated without generating an image; one line per problem."""
    import aiohttp

    try:
        await check_database(settings.database_path)
    except FatalStartError as exc:
        return fail(exc.line)
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
                    return fail("DISCORD_TOKEN: Discord rejected the token")
                resp.raise_for_status()
                user = await resp.json()
            async with session.get(f"{base}/oauth2/applications/@me") as resp:
                resp.raise_for_status()
                application = await resp.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return fail(f"DISCORD_API_URL: cannot reach Discord at {base}: {exc}")
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


def backup_problem(source: Path, target: Path) -> str | None:
    """Why copying ``source`` to ``target`` must not start; None if it may."""
    if not source.is_file():
        return (
            f"DATABASE_PATH: there is no database at {source.absolute()}; run this in the"
            " bot's folder or set DATABASE_PATH"
        )
    if target.absolute() == source.absolute():
        return f"{target} is the live database itself; choose another file"
    return None


async def backup(settings: Settings, target: Path) -> int:
    """Copy the live database through SQLite's online backup.

    A database that does not exist is refused: opening it would create an
    empty one (run from the wrong folder, that used to "succeed").
    """
    source = settings.database_path
    problem = backup_problem(source, target)
    if problem is not None:
        return fail(problem)
    try:
        db = await open_database(source)
    except FatalStartError as exc:
        return fail(exc.line)
    try:
        await db.backup_to(target)
    except (OSError, sqlite3.Error) as exc:
        return fail(f"cannot write the copy to {target}: {exc}")
    finally:
        await db.close()
    print(f"backed up {source} to {target}")
    return 0
