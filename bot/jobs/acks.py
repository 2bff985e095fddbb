"""Acknowledgements first: what keeps a burst's first answers as quick as a bare bot's.

Discord gives an interaction 3 seconds for its acknowledgement and 15 minutes
for everything after it. A request is answered once its row is committed
(bot.storage.writer); when that commit would wait behind another batch, or
takes longer than :data:`COMMIT_PATIENCE`, the interaction is acknowledged
first (:func:`acknowledge`: Discord shows the member that the bot is
thinking) and the answer replaces that message later.

Those later answers are requests of their own. Sent while other interactions
of the burst still wait for their acknowledgement, they share the event loop
and the connection pool with them and push the last acknowledgements towards
the 3 s. So they wait (:meth:`Acknowledgements.hold`) until no interaction has
been waiting for its acknowledgement for :data:`QUIET_SECONDS`, or
:data:`MAX_HOLD_SECONDS` at most, or until a worker is about to start the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import discord

# How long an answer may wait for its row's commit before the interaction is
# acknowledged first anyway: an idle commit takes a millisecond or two, but a
# WAL checkpoint's fsync on a slow disk, or a saturated loop, can take far longer.
COMMIT_PATIENCE = 0.05
# How long no acknowledgement must have been pending before held answers go:
# longer than the gaps between interactions of one burst as they arrive.
QUIET_SECONDS = 0.05
# The longest an answer waits behind acknowledgements (under a steady stream of
# them the quiet may never come); the member sees "thinking" meanwhile.
MAX_HOLD_SECONDS = 5.0


async def acknowledge(interaction: discord.Interaction[Any]) -> Exception | None:
    """Acknowledge an interaction whose answer is not ready yet; the error if that failed.

    ``thinking`` makes a button's or a modal's acknowledgement a new message,
    as its answer will be (a slash command's always is). The error is returned,
    not raised, so the caller can first settle what it stored meanwhile.
    """
    try:
        await interaction.response.defer(thinking=True)
    except Exception as error:
        return error
    return None


class Acknowledgements:
    """Counts the interactions waiting for their acknowledgement; holds answers meanwhile."""

    def __init__(self, *, quiet: float = QUIET_SECONDS, max_hold: float = MAX_HOLD_SECONDS) -> None:
        self._quiet = quiet
        self._max_hold = max_hold
        self._waiting = 0
        # When the last pending acknowledgement was sent (monotonic).
        self._last = 0.0
        self._held: set[asyncio.Future[None]] = set()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Interactions received and not acknowledged yet."""
        return self._waiting

    @contextlib.contextmanager
    def awaiting(self) -> Iterator[Callable[[], None]]:
        """Count one interaction until it is acknowledged: call what this yields
        when it is (leaving the block counts as that too)."""
        self._waiting += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        done = False

        def acknowledged() -> None:
            nonlocal done
            if done:
                return
            done = True
            self._waiting -= 1
            self._last = time.monotonic()
            if self._waiting == 0 and self._held:
                self._timer = asyncio.get_running_loop().call_later(self._quiet, self._release)

        try:
            yield acknowledged
        finally:
            acknowledged()

    def hold(self) -> asyncio.Future[None]:
        """A future done once the acknowledgements have been quiet a while (or at most
        ``max_hold`` s from now); whoever holds it may also set it done earlier."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self._waiting == 0 and time.monotonic() - self._last >= self._quiet:
            future.set_result(None)
            return future
        self._held.add(future)
        future.add_done_callback(self._held.discard)
        loop.call_later(self._max_hold, _settle, future)
        if self._waiting == 0 and self._timer is None:
            wait = self._last + self._quiet - time.monotonic()
            self._timer = loop.call_later(max(0.0, wait), self._release)
        return future

    def _release(self) -> None:
        self._timer = None
        for future in list(self._held):
            _settle(future)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
