"""Result messages: Re-roll, Edit image, Remix and Delete buttons, also after a restart."""

from __future__ import annotations

import logging

import pytest


def has_image(message) -> bool:
    return bool(message.attachments)


async def first_result(world, prompt="a castle", **options):
    interaction = await world.imagine(prompt=prompt, **options)
    message = await interaction.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(1, "succeeded")
    return message


def button_ids(message) -> list[str]:
    return [c["custom_id"] for c in message.iter_components() if c.get("type") == 2]


FOUR_BUTTONS = [
    "imagine:reroll:{0}",
    "imagine:editimage:{0}",
    "imagine:remix:{0}",
    "imagine:delete:{0}",
]


def four_buttons(job_id: int) -> list[str]:
    return [b.format(job_id) for b in FOUR_BUTTONS]


async def test_result_has_four_buttons_carrying_the_job_id(world):
    message = await first_result(world)
    assert button_ids(message) == four_buttons(1)
    labels = [c["label"] for c in message.iter_components() if c.get("type") == 2]
    assert labels == ["Re-roll", "Edit image", "Remix", "Delete"]


@pytest.mark.parametrize("restart", [False, True], ids=["live", "after-restart"])
async def test_reroll_makes_a_new_request_by_whoever_clicks(world, restart):
    message = await first_result(world, prompt="a castle", aspect_ratio="3:2")
    if restart:
        await world.harness.restart()
    click = await world.discord.click_button(message, "imagine:reroll:1", world.bob)
    second = await click.wait_for_original(has_image, timeout=10)
    assert second.id != message.id, "posted as a new message"
    assert not message.deleted
    row = await world.wait_for_row(2, "succeeded")
    assert (row["user_id"], row["prompt"], row["aspect_ratio"]) == (world.bob.id, "a castle", "3:2")
    assert len(world.api.requests) == 2
    assert world.api.served_images[0] != world.api.served_images[1]
    assert second.attachments[0].data != message.attachments[0].data


@pytest.mark.parametrize(
    ("restart", "custom_id"),
    [(False, "imagine:remix:1"), (True, "imagine:remix:1"), (True, "imagine:edit:1")],
    ids=["live", "after-restart", "old-edit-button-acts-as-remix"],
)
async def test_remix_opens_a_prefilled_modal_and_runs_the_new_prompt(world, restart, custom_id):
    message = await first_result(world, prompt="a castle at dawn", aspect_ratio="16:9")
    if custom_id == "imagine:edit:1":
        # A result posted before editing existed carries the old Edit button.
        button = message.find_component("imagine:remix:1")
        assert button is not None
        button["custom_id"] = custom_id
    if restart:
        await world.harness.restart()
    click = await world.discord.click_button(message, custom_id, world.alice)
    await click.wait_for_response()
    modal = click.modal
    assert modal is not None
    inputs = {c["custom_id"]: c for c in _text_inputs(modal)}
    assert inputs["prompt"]["value"] == "a castle at dawn"
    assert inputs["aspect_ratio"]["value"] == "16:9"

    submit = await world.discord.submit_modal(
        click, values={"prompt": "a castle at dusk", "aspect_ratio": "9:16"}
    )
    await submit.wait_for_original(has_image, timeout=10)
    row = await world.wait_for_row(2, "succeeded")
    assert (row["prompt"], row["aspect_ratio"]) == ("a castle at dusk", "9:16")
    assert world.api.requests[-1].json["promptObject"] == {
        "prompt": "a castle at dusk",
        "aspect_ratio": "9:16",
    }


async def test_remix_with_an_unknown_ratio_is_refused_clearly(world):
    message = await first_result(world)
    click = await world.discord.click_button(message, "imagine:remix:1", world.alice)
    await click.wait_for_response()
    submit = await world.discord.submit_modal(click, values={"prompt": "x", "aspect_ratio": "7:3"})
    answer = await submit.wait_for_original()
    assert submit.ephemeral
    assert "Unknown aspect ratio" in answer.content
    assert len(world.api.requests) == 1


@pytest.mark.parametrize("restart", [False, True], ids=["live", "after-restart"])
async def test_delete_by_requester_or_moderator_only(world, restart):
    message = await first_result(world)
    if restart:
        await world.harness.restart()
    refused = await world.discord.click_button(message, "imagine:delete:1", world.bob)
    answer = await refused.wait_for_original()
    assert refused.ephemeral
    assert "Only the person" in answer.content
    assert not message.deleted

    deleted = await world.discord.click_button(message, "imagine:delete:1", world.alice)
    await deleted.wait_for_response()
    await world.discord.wait_until(lambda: message.deleted or None, 5, "message deleted")

    other = await first_result_for(world, world.bob, 2)
    by_mod = await world.discord.click_button(other, "imagine:delete:2", world.mod)
    await by_mod.wait_for_response()
    await world.discord.wait_until(lambda: other.deleted or None, 5, "deleted by a moderator")


async def test_a_button_whose_job_is_gone_answers_clearly(world):
    message = await first_result(world)
    await world.bot.db.execute("DELETE FROM requests")
    click = await world.discord.click_button(message, "imagine:reroll:1", world.alice)
    answer = await click.wait_for_original()
    assert click.ephemeral
    assert "no longer exists" in answer.content


async def first_result_for(world, user, job_id):
    interaction = await world.imagine(user, prompt="another")
    message = await interaction.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(job_id, "succeeded")
    return message


def _text_inputs(modal):
    found = []

    def walk(components):
        for component in components:
            if component.get("type") == 4:
                found.append(component)
            walk(component.get("components", []))
            if "component" in component:
                walk([component["component"]])

    walk(modal["components"])
    return found


async def test_a_button_that_fails_unexpectedly_answers_with_a_logged_reference(
    world, caplog, monkeypatch
):
    message = await first_result(world)

    async def broken(*args, **kwargs):
        raise RuntimeError("queue on fire")

    monkeypatch.setattr(world.bot.jobs, "submit", broken)
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        click = await world.discord.click_button(message, "imagine:reroll:1", world.bob)
        answer = await click.wait_for_original()
    assert click.ephemeral
    assert "Something went wrong" in answer.content
    assert "queue on fire" not in answer.content
    reference = answer.content.split("ref `")[1].split("`")[0]
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)


async def test_results_keep_their_buttons_without_the_imagine_cog(world):
    """The buttons live with the jobs, not in a cog: a result cannot lose them."""
    message = await first_result(world)
    await world.bot.unload_extension("cogs.imagine")
    click = await world.discord.click_button(message, "imagine:reroll:1", world.bob)
    second = await click.wait_for_original(has_image, timeout=10)
    assert button_ids(second) == four_buttons(2)
