"""Moderation end to end: blocked words, the audit channel, role limits, /stats, /history."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from bot.storage import moderation
from tests.support.fake_discord import Permissions
from tests.support.fake_discord.ratelimits import rule
from tests.support.harness import MANAGE_GUILD


def has_image(message) -> bool:
    return bool(message.attachments)


async def mod_command(world, name, options=None):
    interaction = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, name, options or {}
    )
    message = await interaction.wait_for_original()
    assert interaction.ephemeral
    return message


async def test_blocked_words_refuse_disguised_prompts_without_calling_the_api(world):
    answer = await mod_command(world, "moderation blocked add", {"word": "NSFW"})
    assert "nsfw" in answer.content
    for prompt in ["some nsfw art", "N.S.F.W poster", "nsfẃ please", "ｎｓｆｗ"]:
        interaction = await world.imagine(prompt=prompt)
        message = await interaction.wait_for_original()
        assert interaction.ephemeral, prompt
        assert "blocked" in message.content
        assert "nsfw" not in message.content.lower(), "names no word lists"
    assert world.api.requests == []
    rows = await world.bot.db.fetchall("SELECT status, error_kind FROM requests")
    assert {tuple(r) for r in rows} == {("refused", "blocked")}
    assert len(rows) == 4

    await mod_command(world, "moderation blocked add", {"word": "ass"})
    innocent = await world.imagine(prompt="a class of assistants")
    await innocent.wait_for_original(has_image, timeout=10)

    listing = await mod_command(world, "moderation blocked list")
    assert "`ass`" in listing.embeds[0]["description"]
    await mod_command(world, "moderation blocked remove", {"word": "nsfw"})
    allowed = await world.imagine(world.bob, prompt="nsfw now allowed")
    await allowed.wait_for_original(has_image, timeout=10)


async def test_audit_channel_gets_generations_and_blocks_without_pings(world, discord_server):
    audit = discord_server.add_channel(world.guild, name="audit")
    await mod_command(world, "moderation audit-channel set", {"channel": audit})
    await mod_command(world, "moderation blocked add", {"word": "gore"})

    done = await world.imagine(prompt=f"a bunny <@{world.bob.id}> @everyone")
    result = await done.wait_for_original(has_image, timeout=10)
    blocked = await world.imagine(prompt="lots of gore")
    await blocked.wait_for_original()
    posts = await discord_server.wait_until(
        lambda: ((p := discord_server.channel_messages(audit)) and len(p) >= 2 and p) or None,
        5,
        "two audit posts",
    )
    # The generation's audit post runs in the background (it must not hold a
    # delivery slot), so the two may arrive in either order.
    by_title = {post.embeds[0]["title"]: post for post in posts}
    assert sorted(by_title) == ["Image generated", "Prompt blocked"]
    generated = by_title["Image generated"]
    assert str(result.id) in generated.embeds[0]["fields"][2]["value"]
    for post in posts:
        assert post.mentions == [] and not post.mention_everyone


async def test_audit_turns_itself_off_when_forbidden_and_tells_a_moderator(world, discord_server):
    audit = discord_server.add_channel(world.guild, name="audit", forbidden=True)
    await mod_command(world, "moderation audit-channel set", {"channel": audit})
    done = await world.imagine(prompt="a bunny")
    await done.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(1, "succeeded")
    # The audit post comes after the result is stored, and its 403 a round trip later.
    for _ in range(500):
        if (await moderation.audit_channel(world.bot.db, world.guild.id))[0] is None:
            break
        await asyncio.sleep(0.01)
    shown = await mod_command(world, "limits show")
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields["Audit channel"] == "off"
    assert "turned off" in fields["⚠️ Auditing turned itself off"]


async def test_role_limit_raises_a_members_quota(world, discord_server):
    patron = discord_server.add_role(world.guild, "patron", 0)
    vip = discord_server.add_member(world.guild, "vip", roles=[patron])
    await mod_command(world, "limits set", {"user_daily": 1})
    answer = await mod_command(world, "limits role", {"role": patron, "user_daily": 3})
    assert answer.mentions == [] and answer.mention_roles == []
    for n in range(3):
        ok = await world.imagine(vip, prompt=f"vip {n}")
        await ok.wait_for_original(has_image, timeout=10)
    over = await world.imagine(vip, prompt="vip 4")
    assert "3 images" in (await over.wait_for_original()).content
    first = await world.imagine(prompt="plain 1")
    await first.wait_for_original(has_image, timeout=10)
    second = await world.imagine(prompt="plain 2")
    assert "1 images" in (await second.wait_for_original()).content

    await mod_command(world, "limits role-clear", {"role": patron})
    shown = await mod_command(world, "limits show")
    assert "Role limits" not in {f["name"] for f in shown.embeds[0]["fields"]}


async def test_stats_returns_an_embed_and_a_chart(world):
    for n in range(3):
        ok = await world.imagine(prompt=f"stat {n}")
        await ok.wait_for_original(has_image, timeout=10)
    for n in range(1, 4):
        await world.wait_for_row(n, "succeeded")
    stats = await world.discord.invoke_command(world.guild, world.channel, world.mod, "stats")
    message = await stats.wait_for_original(lambda m: bool(m.attachments), timeout=10)
    embed = message.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Last 24 hours"].startswith("3 images\n1 members")
    assert f"<@{world.alice.id}>: 3" in fields["Top members (30 days)"]
    [chart] = message.attachments
    image = Image.open(io.BytesIO(chart.data))
    assert image.format == "PNG"
    assert embed["image"]["url"] == "attachment://images-per-day.png"


async def test_history_pages_and_guards_other_members(world):
    for n in range(7):
        ok = await world.imagine(prompt=f"history {n}")
        await ok.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(7, "succeeded")
    mine = await world.discord.invoke_command(world.guild, world.channel, world.alice, "history")
    page = await mine.wait_for_original()
    assert mine.ephemeral
    names = [f["name"] for f in page.embeds[0]["fields"]]
    assert names[0].endswith("job #7 · succeeded")
    assert len(names) == 5
    assert page.embeds[0]["footer"]["text"].startswith("page 1 of 2")
    next_id = next(c["custom_id"] for c in page.iter_components() if c.get("label") == "Next")
    turned = await world.discord.click_button(page, next_id, world.alice)
    await turned.wait_for_response()
    assert page.embeds[0]["footer"]["text"].startswith("page 2 of 2")
    assert len(page.embeds[0]["fields"]) == 2

    nosy = await world.discord.invoke_command(
        world.guild, world.channel, world.bob, "history", {"member": world.alice}
    )
    assert "Manage Messages" in (await nosy.wait_for_original()).content
    allowed = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "history", {"member": world.alice}
    )
    assert "alice" in (await allowed.wait_for_original()).embeds[0]["title"]


async def test_status_for_moderators(world):
    ok = await world.imagine(prompt="one")
    await ok.wait_for_original(has_image, timeout=10)
    await world.wait_for_row(1, "succeeded")
    status = await world.discord.invoke_command(world.guild, world.channel, world.mod, "status")
    fields = {f["name"]: f["value"] for f in (await status.wait_for_original()).embeds[0]["fields"]}
    assert fields["API, last hour"].startswith("1 jobs")
    assert "errors 0%" in fields["API, last hour"]
    assert fields["Database"].endswith("MiB")
    member = await world.discord.invoke_command(world.guild, world.channel, world.bob, "status")
    assert "Manage Server" in (await member.wait_for_original()).content


async def test_forty_role_limits_are_shown_over_several_fields(world, discord_server):
    roles = [discord_server.add_role(world.guild, f"tier-{n}") for n in range(40)]
    for n, role in enumerate(roles):
        await moderation.set_role_limit(world.bot.db, world.guild.id, role.id, 100 + n)
    world.bot.guild_limits.invalidate(world.guild.id)
    shown = await mod_command(world, "limits show")
    [embed] = shown.embeds
    role_fields = [f for f in embed["fields"] if f["name"].startswith("Role limits")]
    assert len(role_fields) >= 2
    lines = "\n".join(f["value"] for f in role_fields).splitlines()
    assert sorted(lines) == sorted(f"<@&{r.id}>: {100 + n}" for n, r in enumerate(roles))
    assert {f["name"] for f in embed["fields"]} >= {"Per member", "Audit channel"}
    assert shown.mention_roles == []


async def test_status_from_a_second_server_shows_nothing_of_the_first(world, discord_server):
    await world.harness.restart(MAX_CONCURRENT_JOBS="1")
    world.api.hold()  # one job runs, two wait, whatever the timing
    for n, member in enumerate([world.alice, world.bob, world.mod]):
        await (await world.imagine(member, prompt=f"first server {n}")).wait_for_response()
    await world.wait_for_row(1, "running")
    second = discord_server.add_guild(name="Second Server")
    moderator = discord_server.add_member(second, "other-mod", permissions=MANAGE_GUILD)
    status = await discord_server.invoke_command(second, second.text_channel, moderator, "status")
    embed = (await status.wait_for_original()).embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["This server's queue"] == "0 waiting, 0 running"
    assert fields["All servers"].startswith("2 waiting, 1 running")
    assert str(world.guild.id) not in str(embed)
    assert "Longest queues" not in fields

    # The bot's owner sees which servers wait.
    discord_server.join(second, discord_server.owner_user)
    owner = await discord_server.invoke_command(
        second, second.text_channel, discord_server.owner_user, "status"
    )
    fields = {f["name"]: f["value"] for f in (await owner.wait_for_original()).embeds[0]["fields"]}
    assert f"server {world.guild.id}: 2 waiting" in fields["Longest queues"]
    world.api.release()


async def test_audit_without_embed_links_turns_itself_off_naming_the_permission(
    world, discord_server
):
    audit = discord_server.add_channel(world.guild, name="audit")
    bot_role = next(r for r in world.guild.roles.values() if r.managed)
    discord_server.set_overwrite(audit, bot_role, deny=Permissions.EMBED_LINKS)
    await mod_command(world, "moderation audit-channel set", {"channel": audit})
    done = await world.imagine(prompt="a bunny")
    await done.wait_for_original(has_image, timeout=10)
    for _ in range(500):
        if (await moderation.audit_channel(world.bot.db, world.guild.id))[0] is None:
            break
        await asyncio.sleep(0.01)
    shown = await mod_command(world, "limits show")
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields["Audit channel"] == "off"
    assert "Embed Links" in fields["⚠️ Auditing turned itself off"]
    assert discord_server.channel_messages(audit) == []


async def test_audit_posts_paced_by_their_channel_never_hold_back_results(world, discord_server):
    await world.harness.restart(MAX_CONCURRENT_JOBS="2")
    audit = discord_server.add_channel(world.guild, name="audit")
    await mod_command(world, "moderation audit-channel set", {"channel": audit})
    # One channel message per 5 s: the audit posts queue up behind their channel.
    limits = discord_server.ratelimits
    limits.rules["POST /channels/{channel_id}/messages"] = rule(1, 5.0, "slow-channel")
    members = [discord_server.add_member(world.guild, f"m{n}") for n in range(6)]
    interactions = [await world.imagine(m, prompt=f"audited {n}") for n, m in enumerate(members)]
    for interaction in interactions:
        await interaction.wait_for_original(has_image, timeout=20)
    # Every result is out while the second audit post still waits for its turn.
    assert len(discord_server.channel_messages(audit)) <= 1
    assert limits.count_429() == 0
