"""The one-shot commands as an operator runs them: `backup`, `imagine`, `--version`."""

from __future__ import annotations

import io
import sqlite3

from PIL import Image

import bot
from bot.storage.database import Database
from tests.e2e.test_process import base_env, run_cli
from tests.support.fake_onemin import Scripted


def onemin_env(onemin, **extra: str) -> dict[str, str]:
    """Only the 1min.ai variables: `imagine` needs nothing else (no DISCORD_TOKEN)."""
    return base_env(ONEMIN_API_KEY=onemin.api_key, ONEMIN_API_URL=onemin.base_url, **extra)


async def test_backup_of_a_missing_database_refuses_and_creates_nothing(tmp_path):
    env = base_env(DATABASE_PATH="data/bot.sqlite3")  # the default, from the wrong folder
    code, out, err = await run_cli("backup", "copy.sqlite3", env=env, cwd=tmp_path)
    assert code == 1
    assert err.strip().splitlines() == [
        f"DATABASE_PATH: there is no database at {tmp_path / 'data' / 'bot.sqlite3'};"
        " run this in the bot's folder or set DATABASE_PATH"
    ]
    assert out == ""
    assert list(tmp_path.iterdir()) == [], "no empty database, no folder, no copy"


async def test_backup_needs_only_database_path(tmp_path):
    live = await Database.open(tmp_path / "live.sqlite3")
    await live.execute("INSERT INTO meta (key, value) VALUES ('marker', 'kept')")
    await live.close()
    env = base_env(DATABASE_PATH=str(tmp_path / "live.sqlite3"), MAX_CONCURRENT_JOBS="lots")
    code, out, err = await run_cli("backup", "copy.sqlite3", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.startswith("backed up")
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("SELECT value FROM meta WHERE key = 'marker'").fetchone() == ("kept",)


async def test_imagine_needs_only_the_1min_variables_and_converts_to_the_named_format(
    onemin, tmp_path
):
    assert onemin.image_format == "WEBP"
    code, out, err = await run_cli(
        "imagine", "a fox", "-o", "fox.png", env=onemin_env(onemin), cwd=tmp_path
    )
    assert code == 0, err
    assert "converted from WEBP" in out
    written = Image.open(tmp_path / "fox.png")
    served = Image.open(io.BytesIO(onemin.served_images[-1]))
    assert written.format == "PNG"
    assert written.size == served.size
    assert written.convert("RGB").tobytes() == served.convert("RGB").tobytes()


async def test_imagine_without_an_extension_names_the_file_by_the_real_format(onemin, tmp_path):
    code, out, err = await run_cli(
        "imagine",
        "a fox",
        "-o",
        "fox",
        "--aspect-ratio",
        "16:9",
        env=onemin_env(onemin),
        cwd=tmp_path,
    )
    assert code == 0, err
    assert out.startswith("wrote fox.webp (WEBP 1344x768,")
    assert (tmp_path / "fox.webp").read_bytes() == onemin.served_images[-1]
    assert not (tmp_path / "fox").exists()
    assert onemin.requests[-1].json["promptObject"]["aspect_ratio"] == "16:9"


async def test_imagine_refuses_before_spending_a_credit(onemin, tmp_path):
    env = onemin_env(onemin)
    (tmp_path / "a-file").write_text("x")
    cases = [
        (("--aspect-ratio", "7:3", "-o", "out.png"), "--aspect-ratio: 7:3 is not a ratio"),
        (("-o", "missing/out.png"), "-o: the folder missing does not exist"),
        (("-o", "a-file/out.png"), "-o: a-file is not a folder"),
        (("-o", "out.txt"), "-o: cannot write a .txt image"),
        (("-o", str(tmp_path)), f"-o: {tmp_path} is a folder"),
    ]
    for args, expected in cases:
        code, out, err = await run_cli("imagine", "a fox", *args, env=env, cwd=tmp_path)
        assert code == 2, (args, out, err)
        [line] = err.strip().splitlines()
        assert line.startswith(expected), (args, line)
        assert out == ""
    assert onemin.requests == [], "the API was never called"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


async def test_imagine_api_error_is_printed_once(onemin, tmp_path):
    onemin.script(Scripted.unauthorized())
    code, out, err = await run_cli(
        "imagine", "a fox", "-o", "fox.png", env=onemin_env(onemin), cwd=tmp_path
    )
    assert code == 1
    both = out + err
    [line] = both.strip().splitlines()
    assert line.startswith("error (auth):")
    assert onemin.api_key not in both
    assert not (tmp_path / "fox.png").exists()


async def test_version(tmp_path):
    code, out, err = await run_cli("--version", env=base_env(), cwd=tmp_path)
    assert code == 0, err
    assert out.strip() == f"python -m bot {bot.__version__}"
