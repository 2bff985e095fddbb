"""Logging, configured once by the entry point: plain lines to stdout."""

from __future__ import annotations

import logging
import sys

import discord

# discord.py warns at every start that its voice libraries (PyNaCl, davey) are
# missing (discord/client.py, Client.__init__); an image bot has no voice.
VOICE_WARNING = "voice will NOT be supported"


class _NoVoiceWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return VOICE_WARNING not in record.getMessage()


def setup_logging(level: int) -> None:
    """Log to stdout at ``level``, in plain lines.

    No colours: escape codes would litter journald and `docker logs`.
    """
    discord.utils.setup_logging(
        handler=logging.StreamHandler(sys.stdout),
        formatter=logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"),
        level=level,
        root=True,
    )
    logging.getLogger("discord.client").addFilter(_NoVoiceWarnings())
