"""A strict local Discord (REST + gateway) for driving the real discord.py in tests.

Modules: ``server`` (:class:`FakeDiscord`, the test-facing control API), ``models`` (data
classes), ``validate`` (Discord's limits and error bodies), ``rest`` (HTTP routes, one
module per resource), ``gateway`` (websocket protocol) and ``interactions`` (payload
builders). The public names are re-exported here.
"""

from .models import (
    CallbackType,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Intents,
    InteractionCallback,
    InteractionType,
    MessageFlags,
    Permissions,
    RecordedRequest,
)
from .server import FakeDiscord, FakeDiscordTimeout

__all__ = [
    "CallbackType",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordTimeout",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "Intents",
    "InteractionCallback",
    "InteractionType",
    "MessageFlags",
    "Permissions",
    "RecordedRequest",
]
