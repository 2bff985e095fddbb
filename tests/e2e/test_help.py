"""/help: private, and only the commands this member may use."""

from __future__ import annotations

from tests.support.harness import MANAGE_MESSAGES

MODERATOR_COMMANDS = ("`/limits`", "`/moderation`", "`/stats`", "`/status`")


async def help_for(world, user) -> dict[str, str]:
    interaction = await world.discord.invoke_command(world.guild, world.channel, user, "help")
    callback = await interaction.wait_for_response()
    assert callback.ephemeral, "help is private"
    message = await interaction.wait_for_original()
    [embed] = message.embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    fields["description"] = embed["description"]
    return fields


async def test_a_member_sees_member_commands_limits_and_where_moderators_decide(world):
    shown = await help_for(world, world.alice)
    assert "/imagine" in shown["description"]
    commands = shown["Commands"]
    for name in ("`/imagine`", "`/usage`", "`/history`"):
        assert name in commands
    assert "(someone else's needs Manage Messages)" in commands
    assert "For moderators" not in shown
    everything = "\n".join(shown.values())
    for name in MODERATOR_COMMANDS:
        assert name not in everything
    assert shown["Limits here"] == (
        "You: 20 images per 24 h · the server: 500 per 24 h · no wait between requests"
        " · up to 25 may wait in the queue."
    )
    assert "Server Settings → Integrations" in shown["Who may use what"]


async def test_a_moderator_also_sees_the_moderator_commands(world):
    shown = await help_for(world, world.mod)
    moderators = shown["For moderators"]
    for name in MODERATOR_COMMANDS:
        assert name in moderators
    assert "`set`" in moderators, "a group lists its subcommands"
    assert "needs Manage Messages" not in shown["Commands"]


async def test_manage_messages_alone_shows_others_history_but_no_moderator_commands(world):
    helper = world.discord.add_member(world.guild, "helper", permissions=MANAGE_MESSAGES)
    shown = await help_for(world, helper)
    assert "`/history`" in shown["Commands"]
    assert "needs Manage Messages" not in shown["Commands"]
    assert "For moderators" not in shown


async def test_limits_follow_the_server_settings(world):
    setting = await world.discord.invoke_command(
        world.guild,
        world.channel,
        world.mod,
        "limits set",
        {"user_daily": 3, "cooldown_seconds": 30},
    )
    await setting.wait_for_original()
    shown = await help_for(world, world.bob)
    assert shown["Limits here"].startswith("You: 3 images per 24 h")
    assert "30 s between your requests" in shown["Limits here"]

    off = await world.discord.invoke_command(
        world.guild, world.channel, world.mod, "limits set", {"guild_daily": 0}
    )
    await off.wait_for_original()
    shown = await help_for(world, world.bob)
    assert shown["Limits here"].startswith("Image making is turned off in this server")
