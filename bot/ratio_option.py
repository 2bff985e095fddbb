"""/imagine's ``aspect_ratio`` option follows the generation model.

discord.py fixes a command's choices when the class body runs (decorators), but
the ratios depend on ``ONEMIN_MODEL`` and ``ONEMIN_ASPECT_RATIO_FIELD``. The cog
calls :func:`fit_aspect_ratio_option` on its own copy of the command when it is
created, before the command reaches the tree, so the tree, its hash and what is
synced all follow the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from discord import app_commands

# Discord allows at most 25 choices per option (discord-api-docs, Application Commands).
MAX_CHOICES = 25


def fit_aspect_ratio_option(
    command: app_commands.Command[Any, ..., Any],
    ratios: Sequence[str],
    *,
    name: str = "aspect_ratio",
) -> None:
    """Offer exactly ``ratios`` on ``command``'s optional ``name`` option; none: drop it.

    ``command`` must be the cog instance's own copy (discord.py copies each
    command per cog instance, with its own parameter mapping), never the
    class-level one. Without the option the callback gets its default (None).
    """
    if len(ratios) > MAX_CHOICES:
        raise ValueError(f"{len(ratios)} ratios: Discord allows {MAX_CHOICES} choices")
    # discord.py 2.x keeps the parameters in ``Command._params`` and offers no
    # public way to change them after the decorators ran; the e2e tests cover
    # what Discord receives, so a change there fails loudly.
    params = command._params
    param = params.get(name)
    if param is None or param.required:
        raise ValueError(f"/{command.name} has no optional {name!r} option")
    if not ratios:
        del params[name]
        return
    choices: list[app_commands.Choice[str | int | float]] = [
        app_commands.Choice(name=ratio, value=ratio) for ratio in ratios
    ]
    # A new parameter object: the old one is shared with the class-level command.
    params[name] = dataclasses.replace(param, choices=choices)
