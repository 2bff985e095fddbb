"""`python -m bot doctor` as an operator runs it, against the local Discord and 1min.ai."""

from __future__ import annotations

import re
import time
from pathlib import Path

from bot.storage import jobs as job_store
from bot.storage.database import Database
from bot.storage.jobs import NewRequest
from tests.e2e.test_process import base_env, bot_env, run_cli
from tests.support.fake_discord import Permissions

LINE = re.compile(r"^(ok|warn|FAIL|skip) +([^:]+): (.*)$")


def checks(out: str) -> dict[str, tuple[str, str]]:
    """check name -> (status, text), for every status line of the output."""
    found: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        match = LINE.match(line)
        if match:
            found[match[2]] = (match[1], match[3])
    return found


ORDER = [
    "configuration",
    "database",
    "Discord token",
    "gateway",
    "commands",
    "permissions",
    "generation",
    "edit",
]


async def synced_env(discord_server, onemin, tmp_path, **extra):
    env = bot_env(discord_server, onemin, tmp_path, **extra)
    code, _, err = await run_cli("sync", env=env, cwd=tmp_path)
    assert code == 0, err
    return env


async def test_a_healthy_deployment_is_all_ok_and_spends_one_generation_and_one_edit(
    discord_server, onemin, tmp_path
):
    env = await synced_env(discord_server, onemin, tmp_path)
    code, out, err = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == 0, out + err
    found = checks(out)
    assert list(found) == ORDER
    assert {name: status for name, (status, _) in found.items()} == dict.fromkeys(ORDER, "ok")
    # One line per check, plus the credit notice before the paid ones.
    lines = out.strip().splitlines()
    assert len(lines) == len(ORDER) + 1
    assert "two images of 1min.ai credit" in lines[6]
    assert found["permissions"][1] == "the bot was not used in any channel yet"
    assert "1344x768" in found["generation"][1] and "honoured" in found["generation"][1]
    assert found["commands"][1].startswith(f"{len(discord_server.commands)} registered")
    generation, edit = onemin.requests
    assert generation.json["promptObject"]["aspect_ratio"] == "16:9"
    # The edit check uploads the generated image itself, then edits that upload.
    [upload] = onemin.uploads
    assert upload.data == onemin.served_images[0]
    assert upload.filename == "doctor.webp"
    assert edit.json["type"] == "IMAGE_EDITOR"
    assert edit.json["model"] == "gemini-2.5-flash-image-preview"
    assert edit.json["promptObject"]["imageUrl"] == upload.path
    assert "1344x768 PNG" in found["edit"][1]
    assert discord_server.token not in out + err and onemin.api_key not in out + err
    assert discord_server.command_sync_count == 1, "doctor never syncs"


async def test_a_rejected_token_fails_naming_it_and_the_rest_still_runs(
    discord_server, onemin, tmp_path
):
    env = {**bot_env(discord_server, onemin, tmp_path), "DISCORD_TOKEN": "wrong-token-value"}
    code, out, err = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == 1, out + err
    found = checks(out)
    status, text = found["Discord token"]
    assert status == "FAIL" and "DISCORD_TOKEN" in text
    assert found["gateway"][0] == found["commands"][0] == found["permissions"][0] == "skip"
    assert found["generation"][0] == "ok", "1min.ai is still checked"
    assert "wrong-token-value" not in out + err


async def test_a_rejected_api_key_fails_naming_it(discord_server, onemin, tmp_path):
    env = await synced_env(discord_server, onemin, tmp_path)
    env["ONEMIN_API_KEY"] = "sk-wrong-key-value"
    code, out, err = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == 1, out + err
    status, text = checks(out)["generation"]
    assert status == "FAIL" and "ONEMIN_API_KEY" in text
    assert checks(out)["edit"] == ("skip", "skipped: needs the generated image")
    assert "sk-wrong-key-value" not in out + err


async def test_an_ignored_ratio_warns_naming_the_ratio_field(discord_server, onemin, tmp_path):
    onemin.ignore_ratio = True
    env = await synced_env(discord_server, onemin, tmp_path)
    code, out, err = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == 0, out + err
    status, text = checks(out)["generation"]
    assert status == "warn"
    assert "ONEMIN_ASPECT_RATIO_FIELD" in text and "1024x1024" in text
    assert "promptObject.aspect_ratio" in text


async def test_free_makes_no_paid_call(discord_server, onemin, tmp_path):
    env = await synced_env(discord_server, onemin, tmp_path)
    code, out, err = await run_cli("doctor", "--free", env=env, cwd=tmp_path)
    assert code == 0, out + err
    found = checks(out)
    assert list(found) == ORDER
    assert found["generation"][0] == found["edit"][0] == "skip"
    assert "credit" not in out.replace("skipped (--free)", "")
    assert onemin.requests == [] and onemin.asset_requests == [] and onemin.uploads == []


async def test_an_image_size_the_model_does_not_take_exits_2_naming_it(tmp_path):
    env = base_env(
        DISCORD_TOKEN="t",
        ONEMIN_API_KEY="k",
        ONEMIN_MODEL="gemini-3-pro-image-preview",
        ONEMIN_IMAGE_SIZE="512",
    )
    code, out, err = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == 2
    [line] = err.strip().splitlines()
    assert "ONEMIN_IMAGE_SIZE" in line and "1K, 2K, 4K" in line
    assert out == ""


async def test_commands_of_another_model_are_reported_with_sync_as_the_fix(
    discord_server, onemin, tmp_path
):
    env = await synced_env(discord_server, onemin, tmp_path)
    env["ONEMIN_MODEL"] = "gemini-3-pro-image-preview"
    code, out, err = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == 0, out + err
    found = checks(out)
    status, text = found["commands"]
    assert status == "warn"
    assert "/imagine differs" in text and "python -m bot sync" in text
    # That model takes no ratio: the test image is asked without one, at the size it needs.
    assert found["generation"][0] == "ok"
    assert onemin.requests[0].json["promptObject"] == {
        "prompt": onemin.requests[0].json["promptObject"]["prompt"],
        "imageSize": "1K",
    }

    code, out, _ = await run_cli("sync", env=env, cwd=tmp_path)
    assert code == 0
    code, out, _ = await run_cli("doctor", "--free", env=env, cwd=tmp_path)
    assert checks(out)["commands"][0] == "ok"


async def test_commands_never_registered_say_the_first_start_does_it(
    discord_server, onemin, tmp_path
):
    env = bot_env(discord_server, onemin, tmp_path)
    code, out, err = await run_cli("doctor", "--free", env=env, cwd=tmp_path)
    assert code == 0, out + err
    status, text = checks(out)["commands"]
    assert status == "warn" and "none registered yet" in text


async def test_check_lists_the_model_settings(discord_server, onemin, tmp_path):
    env = bot_env(
        discord_server,
        onemin,
        tmp_path,
        ONEMIN_MODEL="gemini-3.1-flash-image-preview",
        ONEMIN_IMAGE_SIZE="2K",
        ONEMIN_ASPECT_RATIO_FIELD="aspect_ratio",
    )
    code, out, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 0, err
    assert (
        "ok: generation model gemini-3.1-flash-image-preview, promptObject.aspect_ratio with "
        "14 ratios, imageSize 2K; editing model gemini-2.5-flash-image-preview"
    ) in out.splitlines()


async def test_an_edit_model_the_api_refuses_fails_naming_onemin_edit_model(
    discord_server, onemin, tmp_path
):
    del onemin.editors["gemini-3-pro-image-preview"]
    env = await synced_env(
        discord_server, onemin, tmp_path, ONEMIN_EDIT_MODEL="gemini-3-pro-image-preview"
    )
    code, out, err = await run_cli("doctor", env=env, cwd=tmp_path)
    assert code == 1, out + err
    found = checks(out)
    assert found["generation"][0] == "ok"
    status, text = found["edit"]
    assert status == "FAIL" and "ONEMIN_EDIT_MODEL" in text
    assert "Invalid model gemini-3-pro-image-preview for AI feature IMAGE_EDITOR" in text
    # The gemini-3 editor was asked with the imageSize it requires.
    assert onemin.requests[-1].json["promptObject"]["imageSize"] == "1K"


async def used_in(env: dict[str, str], *channels) -> None:
    """Store one request in each channel, as if members had used the bot there."""
    db = await Database.open(Path(env["DATABASE_PATH"]))
    try:
        for n, channel in enumerate(channels):
            request = NewRequest(channel.guild_id, channel.id, 1, f"prompt {n}", None)
            await job_store.record_refusal(db, request, "blocked", now=time.time())
    finally:
        await db.close()


async def test_permissions_warn_per_server_where_the_bot_lacks_one_where_it_was_used(
    discord_server, onemin, tmp_path
):
    fake = discord_server
    art = fake.add_guild(name="Art Club")
    bot_role = next(r for r in art.roles.values() if r.managed)
    no_embeds = fake.add_channel(art, "no-embeds")
    fake.set_overwrite(no_embeds, bot_role, deny=Permissions.EMBED_LINKS | Permissions.ATTACH_FILES)
    # The bot's role lacks Send Messages in Threads; take it from @everyone too.
    art.default_role.permissions &= ~Permissions.SEND_MESSAGES_IN_THREADS
    thread = fake.add_thread(art.text_channel, "requests")
    fine = fake.add_guild(name="Fine Server")
    unused = fake.add_channel(art, "never-used")
    fake.set_overwrite(unused, bot_role, deny=Permissions.SEND_MESSAGES)
    env = await synced_env(fake, onemin, tmp_path)
    await used_in(env, art.text_channel, no_embeds, thread, fine.text_channel)

    code, out, err = await run_cli("doctor", "--free", env=env, cwd=tmp_path)
    assert code == 0, out + err
    warnings = [m[3] for m in map(LINE.match, out.splitlines()) if m and m[2] == "permissions"]
    assert len(warnings) == 1, out
    [status] = [m[1] for m in map(LINE.match, out.splitlines()) if m and m[2] == "permissions"]
    assert status == "warn"
    [text] = warnings
    assert f"'Art Club' ({art.id})" in text
    assert "#no-embeds lacks Embed Links, Attach Files" in text
    assert "#requests lacks Send Messages in Threads" in text
    assert "#general" not in text and "never-used" not in text
    assert "Fine Server" not in text

    # Fixed: the next run says so.
    fake.set_overwrite(no_embeds, bot_role)
    art.default_role.permissions |= Permissions.SEND_MESSAGES_IN_THREADS
    code, out, _ = await run_cli("doctor", "--free", env=env, cwd=tmp_path)
    assert checks(out)["permissions"] == (
        "ok",
        "the bot may post in the 4 channel(s) it was used in",
    )
