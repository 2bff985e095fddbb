"""Each 1min.ai model end to end: the body it is sent, the /imagine it gets, the answers read."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from PIL import Image

from tests.e2e.test_results import _text_inputs
from tests.support.fake_onemin import FakeModel, Scripted
from tests.support.harness import MANAGE_GUILD, MANAGE_MESSAGES, World

GEMINI_25 = "gemini-2.5-flash-image"
GEMINI_31 = "gemini-3.1-flash-image-preview"
GEMINI_3_PRO = "gemini-3-pro-image-preview"
TEN = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
FOURTEEN = [
    "1:1", "1:4", "1:8", "2:3", "3:2", "3:4", "4:1",
    "4:3", "4:5", "5:4", "8:1", "9:16", "16:9", "21:9",
]  # fmt: skip


def has_image(message) -> bool:
    return bool(message.attachments)


async def start_world(discord_server, onemin, harness, **env: str) -> World:
    """Like the ``world`` fixture, with the bot started on ``env``."""
    guild = discord_server.add_guild(name="Models")
    alice = discord_server.add_member(guild, "alice")
    bob = discord_server.add_member(guild, "bob")
    mod = discord_server.add_member(guild, "mod", permissions=MANAGE_GUILD | MANAGE_MESSAGES)
    await harness.start(**env)
    return World(discord_server, onemin, harness, guild, guild.text_channel, alice, bob, mod)


def imagine_options(discord_server) -> dict[str, dict[str, Any]]:
    [imagine] = [c for c in discord_server.commands if c["name"] == "imagine"]
    return {o["name"]: o for o in imagine["options"]}


def ratio_choices(discord_server) -> list[str] | None:
    option = imagine_options(discord_server).get("aspect_ratio")
    return None if option is None else [c["value"] for c in option["choices"]]


@pytest.mark.parametrize(
    ("env", "options", "prompt_object"),
    [
        ({}, {}, {"prompt": "P"}),
        ({}, {"aspect_ratio": "16:9"}, {"prompt": "P", "aspect_ratio": "16:9"}),
        ({"ONEMIN_MODEL": GEMINI_31}, {}, {"prompt": "P", "imageSize": "1K"}),
        (
            {"ONEMIN_MODEL": GEMINI_31},
            {"aspect_ratio": "1:8"},
            {"prompt": "P", "aspectRatio": "1:8", "imageSize": "1K"},
        ),
        ({"ONEMIN_MODEL": GEMINI_3_PRO}, {}, {"prompt": "P", "imageSize": "1K"}),
        (
            {"ONEMIN_MODEL": GEMINI_3_PRO, "ONEMIN_IMAGE_SIZE": "4k"},
            {},
            {"prompt": "P", "imageSize": "4K"},
        ),
    ],
    ids=["2.5", "2.5-ratio", "3.1", "3.1-ratio", "3-pro", "3-pro-4K"],
)
async def test_each_model_is_sent_exactly_its_documented_body(
    discord_server, onemin, harness, env, options, prompt_object
):
    world = await start_world(discord_server, onemin, harness, **env)
    interaction = await world.imagine(prompt="P", **options)
    await interaction.wait_for_original(has_image, timeout=20)
    [call] = onemin.requests
    assert call.json == {
        "type": "IMAGE_GENERATOR",
        "model": env.get("ONEMIN_MODEL", GEMINI_25),
        "promptObject": prompt_object,
    }
    await world.wait_for_row(1, "succeeded")


@pytest.mark.parametrize(
    ("env", "choices"),
    [
        ({}, TEN),
        ({"ONEMIN_MODEL": GEMINI_31}, FOURTEEN),
        ({"ONEMIN_MODEL": GEMINI_3_PRO}, None),
        ({"ONEMIN_ASPECT_RATIO_FIELD": ""}, None),
        ({"ONEMIN_MODEL": GEMINI_3_PRO, "ONEMIN_ASPECT_RATIO_FIELD": "aspectRatio"}, TEN),
        ({"ONEMIN_MODEL": "gemini-9-ultra-image"}, TEN),
    ],
    ids=["2.5", "3.1", "3-pro", "field-emptied", "field-given", "unknown-model"],
)
async def test_registered_ratio_choices_follow_the_model(
    discord_server, onemin, harness, env, choices
):
    await start_world(discord_server, onemin, harness, **env)
    assert ratio_choices(discord_server) == choices
    assert imagine_options(discord_server)["prompt"]["required"] is True


async def test_a_model_without_ratios_has_no_aspect_ratio_anywhere(discord_server, onemin, harness):
    world = await start_world(discord_server, onemin, harness, ONEMIN_MODEL=GEMINI_3_PRO)
    with pytest.raises(LookupError):
        await world.imagine(prompt="wide", aspect_ratio="16:9")
    interaction = await world.imagine(prompt="a castle")
    message = await interaction.wait_for_original(has_image, timeout=20)
    click = await world.discord.click_button(message, "imagine:remix:1", world.alice)
    await click.wait_for_response()
    assert [c["custom_id"] for c in _text_inputs(click.modal)] == ["prompt"]


async def test_the_remix_form_takes_the_models_own_ratios(discord_server, onemin, harness):
    world = await start_world(discord_server, onemin, harness, ONEMIN_MODEL=GEMINI_31)
    interaction = await world.imagine(prompt="a tower", aspect_ratio="1:4")
    message = await interaction.wait_for_original(has_image, timeout=20)
    click = await world.discord.click_button(message, "imagine:remix:1", world.alice)
    await click.wait_for_response()
    submit = await world.discord.submit_modal(
        click, values={"prompt": "a taller tower", "aspect_ratio": "1:8"}
    )
    await submit.wait_for_original(has_image, timeout=20)
    assert onemin.requests[-1].json["promptObject"] == {
        "prompt": "a taller tower",
        "aspectRatio": "1:8",
        "imageSize": "1K",
    }


async def test_changing_the_model_syncs_the_new_choices_once(discord_server, onemin, harness):
    await start_world(discord_server, onemin, harness)
    assert discord_server.command_sync_count == 1
    await harness.restart(ONEMIN_MODEL=GEMINI_31)
    assert discord_server.command_sync_count == 2
    assert ratio_choices(discord_server) == FOURTEEN
    await harness.restart()
    assert discord_server.command_sync_count == 2, "the same model does not sync again"


async def test_a_stored_ratio_the_new_model_does_not_take_is_left_out(
    discord_server, onemin, harness
):
    world = await start_world(discord_server, onemin, harness)
    interaction = await world.imagine(prompt="a valley", aspect_ratio="21:9")
    message = await interaction.wait_for_original(has_image, timeout=20)
    await world.harness.restart(ONEMIN_MODEL=GEMINI_3_PRO)
    click = await world.discord.click_button(message, "imagine:reroll:1", world.bob)
    await click.wait_for_original(has_image, timeout=20)
    assert onemin.requests[-1].json["promptObject"] == {"prompt": "a valley", "imageSize": "1K"}


async def test_an_unknown_model_works_with_one_warning(discord_server, onemin, harness, caplog):
    # A model 1min.ai serves that the bot's table does not know yet.
    onemin.models["gemini-9-ultra-image"] = FakeModel(
        fields=frozenset({"prompt", "aspect_ratio"}), ratio_field="aspect_ratio", ratios=tuple(TEN)
    )
    with caplog.at_level(logging.WARNING, logger="bot.onemin"):
        world = await start_world(
            discord_server, onemin, harness, ONEMIN_MODEL="gemini-9-ultra-image"
        )
        for n in range(2):
            interaction = await world.imagine(prompt=f"new {n}", aspect_ratio="3:2")
            await interaction.wait_for_original(has_image, timeout=20)
    warnings = [r.getMessage() for r in caplog.records if "gemini-9-ultra-image" in r.getMessage()]
    assert len(warnings) == 1
    assert "not in the bot's model table" in warnings[0]
    assert onemin.requests[-1].json["promptObject"] == {"prompt": "new 1", "aspect_ratio": "3:2"}


async def test_temporary_url_at_the_top_level_is_delivered(world):
    world.api.top_level_temporary_url = True
    interaction = await world.imagine(prompt="a harbour", aspect_ratio="4:3")
    message = await interaction.wait_for_original(has_image, timeout=20)
    [attachment] = message.attachments
    posted = Image.open(io.BytesIO(attachment.data))
    served = Image.open(io.BytesIO(world.api.served_images[-1]))
    assert posted.size == served.size == (1184, 864)
    assert posted.convert("RGB").tobytes() == served.convert("RGB").tobytes()


async def test_a_refusal_object_is_answered_as_a_refusal_and_not_charged(world):
    settings = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "limits set", {"user_daily": 1}
    )
    await settings.wait_for_original()
    world.api.script(Scripted.refusal())
    refused = await world.imagine(prompt="something the filter dislikes")
    message = await refused.wait_for_original(lambda m: bool(m.embeds), timeout=20)
    assert not message.attachments
    assert "refused" in message.embeds[0]["description"].lower()
    assert "reword" in message.embeds[0]["description"].lower()
    row = await world.wait_for_row(1, "failed")
    assert row["error_kind"] == "refused"

    # Not charged: the member's one image a day is still there.
    again = await world.imagine(prompt="a kitten")
    await again.wait_for_original(has_image, timeout=20)
    await world.wait_for_row(2, "succeeded")
