"""The audit channel: what is posted for a generation or a blocked prompt, and failures."""

from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest

from bot.audit import AUDIT_COLOUR, BLOCKED_COLOUR, Auditor
from bot.storage import moderation
from bot.storage.jobs import Job, Status
from tests.support.jobs import make_job

GUILD, CHANNEL, AUDIT_CHANNEL = 100, 200, 300


class Channel(discord.abc.Messageable):
    """A text channel that records what is sent to it, or fails with ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error = error

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        if self.error is not None:
            raise self.error
        self.sent.append(kwargs)


class Client:
    """The two lookups the auditor makes: the cache, then the API."""

    def __init__(self, cached: object = None, fetched: object = None) -> None:
        self.cached = cached
        self.fetched = fetched
        self.lookups: list[tuple[str, int]] = []

    def get_channel(self, channel_id: int) -> object:
        self.lookups.append(("get", channel_id))
        return self.cached

    async def fetch_channel(self, channel_id: int) -> object:
        self.lookups.append(("fetch", channel_id))
        if isinstance(self.fetched, Exception):
            raise self.fetched
        return self.fetched


def http_error(cls: type[discord.HTTPException], status: int) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="no")
    return cls(cast(Any, response), {"code": 0, "message": "no"})


def auditor(client: Client, db) -> Auditor:
    return Auditor(cast(discord.Client, client), db)


def job(prompt: str = "a red fox", job_id: int = 7) -> Job:
    return make_job(
        id=job_id,
        guild_id=GUILD,
        channel_id=CHANNEL,
        user_id=42,
        prompt=prompt,
        status=Status.SUCCEEDED,
        attempts=1,
    )


def fields(embed: discord.Embed) -> list[tuple[str | None, str | None]]:
    return [(f.name, f.value) for f in embed.fields]


@pytest.fixture
async def audited(db):
    """A server whose audit channel is set."""
    await moderation.set_audit_channel(db, GUILD, AUDIT_CHANNEL)
    return db


async def test_nothing_is_posted_without_an_audit_channel(db):
    channel = Channel()
    client = Client(cached=channel)
    await auditor(client, db).generated(job(), channel_id=CHANNEL, message_id=9)
    await auditor(client, db).blocked(GUILD, CHANNEL, 42, "bad words")
    assert channel.sent == []
    assert client.lookups == []


async def test_a_generation_is_posted_with_a_link_and_no_pings(audited):
    channel = Channel()
    client = Client(cached=channel)
    await auditor(client, audited).generated(
        job("a *bold* fox @everyone"), channel_id=201, message_id=9
    )
    [sent] = channel.sent
    embed = sent["embed"]
    assert embed.title == "Image generated"
    # Markdown is escaped (so the prompt reads as typed); the mention is inert text.
    assert embed.description == "a \\*bold* fox @everyone"
    assert embed.colour == AUDIT_COLOUR
    assert fields(embed) == [
        ("Member", "<@42>"),
        ("Channel", f"<#{CHANNEL}>"),
        ("Result", f"[open](https://discord.com/channels/{GUILD}/201/9)"),
    ]
    assert embed.footer.text == "job #7"
    assert sent["allowed_mentions"].to_dict() == {"parse": []}
    assert client.lookups == [("get", AUDIT_CHANNEL)]


async def test_a_long_prompt_is_cut_to_a_thousand_characters(audited):
    channel = Channel()
    await auditor(Client(cached=channel), audited).generated(
        job("x" * 1500), channel_id=CHANNEL, message_id=9
    )
    description = channel.sent[0]["embed"].description
    assert description == "x" * 999 + "…"


async def test_a_blocked_prompt_is_posted(audited):
    channel = Channel()
    await auditor(Client(cached=channel), audited).blocked(GUILD, CHANNEL, 42, "some _bad_ words")
    [sent] = channel.sent
    embed = sent["embed"]
    assert embed.title == "Prompt blocked"
    assert embed.description == "some \\_bad_ words"
    assert fields(embed) == [("Member", "<@42>"), ("Channel", f"<#{CHANNEL}>")]
    assert embed.colour == BLOCKED_COLOUR != AUDIT_COLOUR
    assert sent["allowed_mentions"].to_dict() == {"parse": []}


async def test_a_channel_missing_from_the_cache_is_fetched(audited):
    channel = Channel()
    client = Client(cached=None, fetched=channel)
    await auditor(client, audited).blocked(GUILD, CHANNEL, 42, "bad")
    assert len(channel.sent) == 1
    assert client.lookups == [("get", AUDIT_CHANNEL), ("fetch", AUDIT_CHANNEL)]
    assert await moderation.audit_channel(audited, GUILD) == (AUDIT_CHANNEL, None)


@pytest.mark.parametrize(
    ("client", "cause"),
    [
        (Client(cached=Channel(http_error(discord.Forbidden, 403))), "403 no"),
        (Client(fetched=http_error(discord.NotFound, 404)), "404 no"),
        (Client(fetched=object()), "not a text channel"),
    ],
    ids=["forbidden", "deleted", "not-text"],
)
async def test_a_channel_the_bot_cannot_post_in_turns_auditing_off(audited, client, cause):
    await auditor(client, audited).generated(job(), channel_id=CHANNEL, message_id=9)
    channel_id, reason = await moderation.audit_channel(audited, GUILD)
    assert channel_id is None
    assert reason is not None
    assert reason.startswith(f"posting in <#{AUDIT_CHANNEL}> failed (")
    assert cause in reason
    assert reason.endswith("auditing was turned off")


async def test_a_passing_discord_error_keeps_auditing_on(audited):
    channel = Channel(http_error(discord.DiscordServerError, 503))
    await auditor(Client(cached=channel), audited).blocked(GUILD, CHANNEL, 42, "bad")
    assert await moderation.audit_channel(audited, GUILD) == (AUDIT_CHANNEL, None)
