"""/imagine end to end: real bot and discord.py against the local Discord and 1min.ai."""

from __future__ import annotations

import io

from PIL import Image

RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]


def has_image(message) -> bool:
    return bool(message.attachments)


async def test_registered_commands_match_the_spec(world):
    commands = {c["name"]: c for c in world.discord.commands}
    assert {"imagine", "usage", "limits", "moderation", "stats", "history", "status"} <= set(
        commands
    )
    imagine = commands["imagine"]
    options = {o["name"]: o for o in imagine["options"]}
    assert options["prompt"]["required"] is True
    assert (options["prompt"]["min_length"], options["prompt"]["max_length"]) == (1, 1500)
    assert [c["value"] for c in options["aspect_ratio"]["choices"]] == RATIOS
    assert not options["aspect_ratio"].get("required", False)
    # Guild-only everywhere: usable in servers (context 0) only.
    assert all(c.get("contexts") == [0] for c in commands.values())
    limits = commands["limits"]
    assert limits["default_member_permissions"] == str(1 << 5)  # Manage Server
    assert {o["name"] for o in limits["options"]} >= {"show", "set", "reset"}
    assert commands["imagine"].get("default_member_permissions") is None


async def test_imagine_posts_exactly_the_served_image(world):
    interaction = await world.imagine(prompt="a red fox in snow", aspect_ratio="16:9")
    callback = await interaction.wait_for_response()
    assert interaction.ack_latency < 3
    assert not callback.ephemeral
    message = await interaction.wait_for_original(has_image, timeout=10)

    # The API got the vendor doc's request, with the ratio the member chose.
    call = world.api.requests[-1]
    assert call.headers["API-KEY"] == world.api.api_key
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.json == {
        "type": "IMAGE_GENERATOR",
        "model": "gemini-2.5-flash-image",
        "promptObject": {"prompt": "a red fox in snow", "aspect_ratio": "16:9"},
    }

    # One attachment whose pixels are exactly what the API served.
    [attachment] = message.attachments
    served = Image.open(io.BytesIO(world.api.served_images[-1]))
    posted = Image.open(io.BytesIO(attachment.data))
    assert served.format is not None
    assert attachment.filename.endswith("." + served.format.lower().replace("jpeg", "jpg"))
    assert posted.size == served.size == (1344, 768)
    assert posted.convert("RGB").tobytes() == served.convert("RGB").tobytes()

    # The embed shows the prompt, the requester, the ratio and the time taken.
    [embed] = message.embeds
    assert "a red fox in snow" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Requested by"] == f"<@{world.alice.id}>"
    assert fields["Aspect ratio"] == "16:9"
    assert fields["Time"].endswith(" s")
    assert embed["image"]["url"] == f"attachment://{attachment.filename}"

    job = await world.wait_for_row(1, "succeeded")
    assert job["result_message_id"] == message.id
    assert job["interaction_token"] is None  # not kept once it is no longer needed


async def test_no_ratio_sends_no_aspect_ratio_field(world):
    interaction = await world.imagine(prompt="a lighthouse")
    await interaction.wait_for_original(has_image, timeout=10)
    assert "aspect_ratio" not in world.api.requests[-1].json["promptObject"]
    fields = {f["name"]: f["value"] for f in interaction.original_message.embeds[0]["fields"]}
    assert fields["Aspect ratio"].startswith("1:1")


async def test_api_error_shows_a_clear_message_and_the_next_request_works(world):
    from tests.support.fake_onemin import Scripted

    world.api.script(Scripted.unauthorized())
    failed = await world.imagine(prompt="first try")
    message = await failed.wait_for_original(lambda m: bool(m.embeds), timeout=10)
    await world.wait_for_row(1, "failed")
    text = message.embeds[0]["description"]
    assert "key" in text.lower()
    assert "Traceback" not in text
    assert not message.attachments
    rows = await world.bot.db.fetchall("SELECT status, error_kind FROM requests ORDER BY id")
    assert [tuple(r) for r in rows] == [("failed", "auth")]

    ok = await world.imagine(prompt="second try")
    await ok.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(2, "succeeded")


async def test_prompt_mentions_ping_no_one(world):
    prompt = f"@everyone @here <@{world.bob.id}> <@&{world.guild.id}> party"
    interaction = await world.imagine(prompt=prompt)
    message = await interaction.wait_for_original(has_image, timeout=10)
    # What Discord resolved: nobody was mentioned.
    assert not message.mention_everyone
    assert message.mentions == []
    assert message.mention_roles == []
    # And every message payload the bot sent forbade all mentions.
    payloads = []
    for request in world.discord.requests:
        body = request.json if isinstance(request.json, dict) else {}
        if request.route.endswith("/callback"):
            body = body.get("data") or {}
        if "content" in body or "embeds" in body:
            payloads.append(body)
    assert len(payloads) >= 2  # the queued answer and the result
    assert all(p.get("allowed_mentions") == {"parse": []} for p in payloads), payloads
