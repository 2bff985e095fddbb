"""Admission decided in memory: each server's use in the last 24 hours, kept in step.

Discord sends every interaction of a server to the one shard, and so the one
process, that owns it: this process alone changes its servers' counts. So a
server's use is read from the database once, the first time the server is
seen, and from then on kept here and changed with every write that changes
it: a request admitted, a job started, requeued, succeeded, failed or
cancelled, a member's quota reset, old rows pruned. A decision is then a
synchronous look at memory, on the event loop: two requests for the last
slot cannot both win, and no member waits for a database round trip to
learn whether their request is taken. The refusal is still worded by
:func:`bot.limits.check`, over a :class:`~bot.limits.Usage` built here.

The counts follow the statement in :mod:`bot.storage.limits` exactly: a
member's charged requests (queued, running, succeeded) created after both
the window's start and their last reset; the server's charged requests in
the window; the server's waiting jobs, whatever their age.

Changes are applied after their write has completed. While a server is
being loaded they are kept and replayed on the loaded counts; every change
sets a state (never adds a difference), so one that the load already saw
changes nothing the second time.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import Enum, auto

from bot.cache import GuildCache
from bot.limits import DAY, Limits, RefusedError, Usage, check
from bot.storage.jobs import Job, Status
from bot.storage.limits import GuildUsageRows


class _State(Enum):
    QUEUED = auto()
    RUNNING = auto()
    SUCCEEDED = auto()
    FREE = auto()  # failed or cancelled: not charged


_FROM_STATUS = {
    Status.QUEUED: _State.QUEUED,
    Status.RUNNING: _State.RUNNING,
    Status.SUCCEEDED: _State.SUCCEEDED,
}


class Charge:
    """One admitted request as the counts see it (identity matters, not value)."""

    __slots__ = ("created_at", "state", "user_id")

    def __init__(self, user_id: int, created_at: float, state: _State) -> None:
        self.user_id = user_id
        self.created_at = created_at
        self.state = state


def _insert(line: deque[Charge], charge: Charge) -> None:
    """Add in time order (the clock may step back; the newest is then not last)."""
    if not line or line[-1].created_at <= charge.created_at:
        line.append(charge)
    else:
        line.insert(
            bisect.bisect_right(line, charge.created_at, key=lambda c: c.created_at), charge
        )


def _discard(line: deque[Charge] | None, charge: Charge) -> None:
    """Take a charge out of a line if it is still there (it may have left the window)."""
    if line is None:
        return
    for index, held in enumerate(line):
        if held is charge:
            del line[index]
            return


class GuildUsage:
    """One server's use: charged requests in the window, per member and in all, and its queue."""

    def __init__(self) -> None:
        # Charged requests, oldest first; old ones are dropped as the window moves.
        self._server: deque[Charge] = deque()
        # Each member's charged requests since the later of the window's start
        # and their last reset.
        self._members: dict[int, deque[Charge]] = {}
        self._resets: dict[int, float] = {}
        # Jobs whose state can still change (waiting or running), by id.
        self._live: dict[int, Charge] = {}
        self.queued = 0

    @classmethod
    def from_rows(cls, rows: GuildUsageRows) -> GuildUsage:
        """The counts of what is stored (rows in time order)."""
        usage = cls()
        usage._resets = dict(rows.resets)
        for stored in rows.requests:
            charge = Charge(stored.user_id, stored.created_at, _FROM_STATUS[stored.status])
            usage._count(charge)
            if charge.state is not _State.SUCCEEDED:
                usage._live[stored.job_id] = charge
        return usage

    # -- reading -----------------------------------------------------------------

    def usage(self, user_id: int, *, now: float) -> Usage:
        """A member's and the server's use at ``now``, as :func:`bot.limits.check` needs it."""
        since = now - DAY
        server = self._server
        while server and server[0].created_at <= since:
            server.popleft()
        mine = self._member_line(user_id, since)
        return Usage(
            user_count=len(mine),
            user_oldest=mine[0].created_at if mine else None,
            user_latest=mine[-1].created_at if mine else None,
            guild_count=len(server),
            guild_oldest=server[0].created_at if server else None,
            queued=self.queued,
        )

    def is_idle(self) -> bool:
        """Nothing counted: the server may be forgotten and loaded again when next seen."""
        return not (self._server or self._live or self._members or self._resets)

    # -- changing ----------------------------------------------------------------

    def admit(
        self, user_id: int, limits: Limits, *, now: float, queue_wait: float = 60.0
    ) -> Charge:
        """Charge a new request if every limit allows it; raise :class:`RefusedError` if not.

        Synchronous: nothing can come between the check and the charge.
        """
        refusal = check(limits, self.usage(user_id, now=now), now=now, queue_wait=queue_wait)
        if refusal is not None:
            raise RefusedError(refusal)
        charge = Charge(user_id, now, _State.QUEUED)
        self._count(charge)
        return charge

    def stored(self, charge: Charge, job_id: int) -> None:
        """The admitted request's row is stored as job ``job_id``."""
        self._live[job_id] = charge

    def withdraw(self, charge: Charge) -> None:
        """The admitted request could not be stored: it never happened."""
        self._set(charge, _State.FREE)

    def set_state(self, job_id: int, status: Status) -> None:
        """A job's stored status changed (the same status twice changes nothing)."""
        charge = self._live.get(job_id)
        if charge is None:
            return  # ended already, or ended before the load: nothing to change
        state = _FROM_STATUS.get(status, _State.FREE)
        self._set(charge, state)
        if state in (_State.SUCCEEDED, _State.FREE):
            del self._live[job_id]

    def reset(self, user_id: int, at: float) -> None:
        """A moderator reset the member's use at ``at`` (quota and cooldown)."""
        self._resets[user_id] = max(at, self._resets.get(user_id, at))
        self._member_line(user_id, self._resets[user_id])

    def forget_before(self, moment: float) -> None:
        """Drop what can no longer count: everything created before ``moment`` (at most
        the window's start) that is not waiting or running, and resets before it."""
        server = self._server
        while server and server[0].created_at < moment:
            server.popleft()
        for user_id in list(self._members):
            self._member_line(user_id, moment)
        self._resets = {user: at for user, at in self._resets.items() if at >= moment}

    # -- internals -----------------------------------------------------------------

    def _count(self, charge: Charge) -> None:
        """Add a charge to the lines it belongs in, and to the queue if it waits."""
        if charge.state is _State.QUEUED:
            self.queued += 1
        _insert(self._server, charge)
        if charge.created_at > self._resets.get(charge.user_id, float("-inf")):
            _insert(self._members.setdefault(charge.user_id, deque()), charge)

    def _set(self, charge: Charge, state: _State) -> None:
        if charge.state is state:
            return
        if charge.state is _State.QUEUED:
            self.queued -= 1
        if state is _State.QUEUED:
            self.queued += 1
        if state is _State.FREE:
            _discard(self._server, charge)
            line = self._members.get(charge.user_id)
            _discard(line, charge)
            if line is not None and not line:
                del self._members[charge.user_id]
        charge.state = state

    def _member_line(self, user_id: int, since: float) -> deque[Charge]:
        """The member's line with everything at or before ``since`` (or their reset) gone."""
        line = self._members.get(user_id)
        if line is None:
            return deque()
        start = max(since, self._resets.get(user_id, since))
        while line and line[0].created_at <= start:
            line.popleft()
        if not line:
            del self._members[user_id]
        return line


GuildLoader = Callable[[int, float], Awaitable[GuildUsageRows]]


class UsageBook:
    """Every server's :class:`GuildUsage`, loaded once each, and the changes to them."""

    def __init__(self, load: GuildLoader, *, clock: Callable[[], float] = time.time) -> None:
        self._read = load
        self._clock = clock
        self._guilds: dict[int, GuildUsage] = {}
        # Changes that came while a server was being loaded, to replay on it.
        self._loading: dict[int, list[Callable[[GuildUsage], None]]] = {}
        # One load per server however many requests ask at once.
        self._loads: GuildCache[GuildUsage] = GuildCache(self._load)

    async def guild(self, guild_id: int) -> GuildUsage:
        """A server's counts, loading them the first time (no await once loaded)."""
        usage = self._guilds.get(guild_id)
        if usage is not None:
            return usage
        return await self._loads.get(guild_id)

    def prefetch(self, guild_id: int) -> None:
        """Start loading a server's counts if they are not in memory yet."""
        if guild_id not in self._guilds:
            self._loads.prefetch(guild_id)

    async def usage(self, guild_id: int, user_id: int, *, now: float) -> Usage:
        """A member's and the server's use, as /usage shows it."""
        return (await self.guild(guild_id)).usage(user_id, now=now)

    def loaded(self, guild_id: int) -> bool:
        """Whether a server's counts are in memory."""
        return guild_id in self._guilds

    # -- changes, each after its write completed -------------------------------------

    def started(self, job: Job) -> None:
        """A worker took the job (it no longer waits; still charged)."""
        self._apply(job.guild_id, lambda usage: usage.set_state(job.id, Status.RUNNING))

    def requeued(self, job: Job) -> None:
        """The job was cut off and waits again."""
        self._apply(job.guild_id, lambda usage: usage.set_state(job.id, Status.QUEUED))

    def succeeded(self, job: Job) -> None:
        """The job delivered its image: it stays charged for its 24 hours."""
        self._apply(job.guild_id, lambda usage: usage.set_state(job.id, Status.SUCCEEDED))

    def refunded(self, job: Job) -> None:
        """The job failed or was cancelled: it is not charged."""
        self._apply(job.guild_id, lambda usage: usage.set_state(job.id, Status.FAILED))

    def reset(self, guild_id: int, user_id: int, at: float) -> None:
        """A moderator reset a member's use (``/limits reset``)."""
        self._apply(guild_id, lambda usage: usage.reset(user_id, at))

    def pruned(self, older_than: float) -> None:
        """Rows created before ``older_than`` were deleted; forget what no longer counts.

        Pruning never reaches into the 24-hour window, so no count changes;
        servers with nothing left to count are forgotten (loaded again when
        next seen), so memory holds only the servers active in the last day.
        """
        moment = max(older_than, self._clock() - DAY)
        for guild_id, usage in list(self._guilds.items()):
            usage.forget_before(moment)
            if usage.is_idle():
                del self._guilds[guild_id]
                self._loads.invalidate(guild_id)

    # -- internals -----------------------------------------------------------------

    def _apply(self, guild_id: int, change: Callable[[GuildUsage], None]) -> None:
        usage = self._guilds.get(guild_id)
        if usage is not None:
            change(usage)
            return
        pending = self._loading.get(guild_id)
        if pending is not None:
            pending.append(change)
        # Otherwise the server is not in memory: its load, later, reads the
        # change from the database, whose write has completed.

    async def _load(self, guild_id: int) -> GuildUsage:
        pending: list[Callable[[GuildUsage], None]] = []
        self._loading[guild_id] = pending
        try:
            rows = await self._read(guild_id, self._clock() - DAY)
            usage = GuildUsage.from_rows(rows)
            for change in pending:
                change(usage)
            self._guilds[guild_id] = usage
            return usage
        finally:
            del self._loading[guild_id]
