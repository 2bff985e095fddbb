"""Gateway (websocket) side of the fake Discord server.

Implements HELLO / IDENTIFY / READY / GUILD_CREATE / HEARTBEAT / RESUME with
``zlib-stream`` transport compression (or none), sequence numbers, per-shard guild
distribution and resumable sessions with event replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .models import FakeGuild, Intents, iso

if TYPE_CHECKING:
    from .server import FakeDiscord

_log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_UNKNOWN_ERROR = 4000
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SHARD = 4010
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014


@dataclass(eq=False)
class GatewayFrame:
    """A payload sent to (``direction="send"``) or received from the client."""

    direction: str
    payload: dict[str, Any]
    time: float


class GatewayConnection:
    """One websocket connection; frames are sent in order by a writer task."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        compress: str | None,
        latency: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.ws = ws
        self.compress = compress
        self._compressor = zlib.compressobj() if compress == "zlib-stream" else None
        # (due time, payload): with latency, each frame leaves that long after it was
        # queued, in order, without holding up the ones behind it.
        self._queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self._latency = latency
        self._writer: asyncio.Task[None] | None = None
        self.session: GatewaySession | None = None
        self.frames: list[GatewayFrame] = []
        self.heartbeats = 0
        self.closed = False
        self.closed_by_server = False
        self.close_code: int | None = None

    def start(self) -> None:
        """Start the writer task."""
        self._writer = asyncio.create_task(self._write_loop(), name="fake-discord-gateway-writer")

    def enqueue(self, payload: dict[str, Any]) -> None:
        """Queue a payload to be sent."""
        if not self.closed:
            due = asyncio.get_running_loop().time() + self._latency()
            self._queue.put_nowait((due, payload))

    async def drain(self) -> None:
        """Wait until everything queued so far was written to the socket."""
        if not self.closed:
            await self._queue.join()

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, payload = await self._queue.get()
            try:
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not self.closed:
                    raw = json.dumps(payload, separators=(",", ":")).encode()
                    if self._compressor is not None:
                        data = self._compressor.compress(raw)
                        data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                        await self.ws.send_bytes(data)
                    else:
                        await self.ws.send_str(raw.decode())
                    self.frames.append(GatewayFrame("send", payload, loop.time()))
            except (ConnectionError, RuntimeError) as exc:
                _log.debug("fake gateway: send failed: %s", exc)
                self.closed = True
            finally:
                self._queue.task_done()

    async def close(self, code: int, message: str) -> None:
        """Flush pending frames and close the socket with ``code``."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.drain(), 1.0)
        self.closed = True
        self.closed_by_server = True
        self.close_code = code
        # A close frame's reason is limited to 123 bytes (125 minus the status code).
        reason = message.encode()[:123]
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason)
        await self.stop()

    async def stop(self) -> None:
        """Stop the writer task."""
        self.closed = True
        # Unblock drain() waiters.
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


@dataclass(eq=False)
class GatewaySession:
    """An identified gateway session (survives reconnects via RESUME)."""

    session_id: str
    shard_id: int
    shard_count: int
    sharded: bool
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    ready: bool = False
    guild_ids: set[int] = field(default_factory=set)
    presence: dict[str, Any] | None = None
    resumes: int = 0
    invalidated: bool = False

    @property
    def connected(self) -> bool:
        """Whether a live websocket is attached."""
        return self.connection is not None and not self.connection.closed

    def owns(self, guild: FakeGuild) -> bool:
        """Whether this session receives events for ``guild``."""
        return guild.shard_id(self.shard_count) == self.shard_id

    def has_intent(self, intent: int) -> bool:
        """Whether the session identified with ``intent``."""
        return bool(self.intents & intent)

    def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Queue a DISPATCH (op 0) event; returns its sequence number."""
        self.seq += 1
        payload = {"op": OP_DISPATCH, "d": data, "s": self.seq, "t": event}
        self.history.append(payload)
        if self.connection is not None:
            self.connection.enqueue(payload)
        return self.seq

    async def flush(self) -> None:
        """Wait until queued events were written."""
        if self.connection is not None:
            await self.connection.drain()


class GatewayServer:
    """aiohttp websocket handler implementing the Discord gateway protocol."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: list[GatewaySession] = []
        self.connections: list[GatewayConnection] = []

    # -- helpers -------------------------------------------------------------------
    def _protocol_error(self, message: str) -> None:
        self.fake.protocol_errors.append(f"gateway: {message}")
        self.fake._notify()

    async def _reject(self, conn: GatewayConnection, code: int, message: str) -> None:
        self.fake.gateway_closes.append((code, message))
        await conn.close(code, message)

    def sessions_for(self, guild: FakeGuild, *, live: bool = True) -> list[GatewaySession]:
        """Sessions that receive ``guild``'s events.

        ``live=True``: only connected sessions that finished READY (for interactions).
        ``live=False``: every resumable session; events for a disconnected one are kept in
        its history and replayed on RESUME, as Discord does.
        """
        if live:
            return [s for s in self.sessions if s.connected and s.ready and s.owns(guild)]
        return [s for s in self.sessions if not s.invalidated and s.owns(guild)]

    # -- handler -------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one gateway websocket connection."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0, compress=False)
        await ws.prepare(request)
        compress = request.query.get("compress")
        conn = GatewayConnection(
            ws,
            compress=compress if compress == "zlib-stream" else None,
            latency=lambda: self.fake.latency,
        )
        conn.start()
        self.connections.append(conn)
        try:
            version = request.query.get("v")
            encoding = request.query.get("encoding", "json")
            if version is not None and version != "10":
                await self._reject(conn, CLOSE_INVALID_API_VERSION, "Invalid API version.")
                return ws
            if encoding != "json":
                msg = f"fake gateway supports encoding=json only, got encoding={encoding}"
                self._protocol_error(msg)
                await self._reject(conn, CLOSE_UNKNOWN_ERROR, msg)
                return ws
            if compress is not None and compress != "zlib-stream":
                self._protocol_error(
                    f"fake gateway cannot do compress={compress!r} (supported: zlib-stream or "
                    "none); discord.py picks zstd-stream when 'zstandard' is installed - "
                    "uninstall it or add zstd support to tests/support/fake_discord/gateway.py"
                )
                await self._reject(
                    conn, CLOSE_UNKNOWN_ERROR, f"fake gateway: compress={compress} unsupported"
                )
                return ws
            conn.enqueue(
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": self.fake.heartbeat_interval},
                    "s": None,
                    "t": None,
                }
            )
            await self._read_loop(conn)
        finally:
            conn.closed = True
            conn.close_code = conn.close_code or ws.close_code
            await conn.stop()
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                # A client closing with 1000/1001 ends its session (no RESUME possible).
                if not conn.closed_by_server and ws.close_code in (1000, 1001):
                    session.invalidated = True
            self.fake._notify()
        return ws

    async def _read_loop(self, conn: GatewayConnection) -> None:
        loop = asyncio.get_running_loop()
        async for msg in conn.ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    payload = json.loads(msg.data)
                    if not isinstance(payload, dict):
                        raise ValueError("payload is not an object")
                except ValueError:
                    await self._reject(conn, CLOSE_DECODE_ERROR, "Error while decoding payload.")
                    return
            elif msg.type == WSMsgType.BINARY:
                await self._reject(conn, CLOSE_DECODE_ERROR, "Error while decoding payload.")
                return
            else:
                return
            arrived = loop.time()
            if self.fake.latency:
                # The frame's way to Discord; frames sent together arrive together.
                await asyncio.sleep(max(arrived + self.fake.latency - loop.time(), 0.0))
            conn.frames.append(GatewayFrame("recv", payload, loop.time()))
            self.fake.gateway_received.append(payload)
            if not await self._handle_payload(conn, payload):
                return

    async def _handle_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> bool:
        op = payload.get("op")
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            conn.heartbeats += 1
            conn.enqueue({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            return True
        if op == OP_IDENTIFY:
            return await self._identify(conn, data)
        if op == OP_RESUME:
            return await self._resume(conn, data)
        if op not in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE, OP_REQUEST_GUILD_MEMBERS):
            await self._reject(conn, CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")
            return False
        if conn.session is None:
            await self._reject(conn, CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
            return False
        if op == OP_PRESENCE_UPDATE and isinstance(data, dict):
            conn.session.presence = data
        elif op == OP_REQUEST_GUILD_MEMBERS:
            # Valid for Discord, but the fake has no member chunks to answer with.
            self._protocol_error("fake gateway does not serve REQUEST_GUILD_MEMBERS (op 8)")
        return True

    def _check_token(self, token: Any) -> bool:
        return isinstance(token, str) and token.removeprefix("Bot ") == self.fake.token

    async def _identify(self, conn: GatewayConnection, data: Any) -> bool:
        fake = self.fake
        if conn.session is not None:
            await self._reject(conn, CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return False
        if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
            await self._reject(conn, CLOSE_DECODE_ERROR, "Error while decoding payload.")
            return False
        fake.identifies.append(data)
        if not self._check_token(data.get("token")):
            await self._reject(conn, CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        intents = data.get("intents")
        if not isinstance(intents, int) or isinstance(intents, bool) or intents < 0:
            await self._reject(conn, CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return False
        if intents & ~Intents.ALL_VALID:
            await self._reject(conn, CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return False
        # The fake's application is not approved for any privileged intent.
        if intents & Intents.PRIVILEGED:
            await self._reject(conn, CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return False
        shard = data.get("shard")
        sharded = shard is not None
        if shard is None:
            shard_id, shard_count = 0, 1
        else:
            valid = (
                isinstance(shard, list)
                and len(shard) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in shard)
                and shard[1] >= 1
                and 0 <= shard[0] < shard[1]
            )
            if not valid:
                await self._reject(conn, CLOSE_INVALID_SHARD, "Invalid shard.")
                return False
            shard_id, shard_count = shard
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            shard_id=shard_id,
            shard_count=shard_count,
            sharded=sharded,
            intents=intents,
            identify=data,
            presence=data.get("presence"),
        )
        session.connection = conn
        conn.session = session
        self.sessions.append(session)
        guilds = [g for g in fake.guilds.values() if session.owns(g)]
        ready: dict[str, Any] = {
            "v": 10,
            "user": fake._bot_user_payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": fake.gateway_url,
            "application": {"id": str(fake.application_id), "flags": 0},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "user_settings": {},
            "auth": {},
            "_trace": ['["fake-discord-gateway",{"micros":0}]'],
        }
        if sharded:
            ready["shard"] = [shard_id, shard_count]
        session.dispatch("READY", ready)
        for guild in guilds:
            session.dispatch("GUILD_CREATE", self.guild_create_payload(guild, session))
            session.guild_ids.add(guild.id)
        await session.flush()
        session.ready = True
        fake._notify()
        return True

    async def _resume(self, conn: GatewayConnection, data: Any) -> bool:
        if conn.session is not None:
            await self._reject(conn, CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return False
        if not isinstance(data, dict):
            await self._reject(conn, CLOSE_DECODE_ERROR, "Error while decoding payload.")
            return False
        if not self._check_token(data.get("token")):
            await self._reject(conn, CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        session = next(
            (
                s
                for s in self.sessions
                if s.session_id == data.get("session_id") and not s.invalidated
            ),
            None,
        )
        if session is None:
            conn.enqueue({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return True
        old = session.connection
        if old is not None and old is not conn:
            await old.close(CLOSE_UNKNOWN_ERROR, "Session resumed elsewhere.")
        session.connection = conn
        conn.session = session
        session.resumes += 1
        seq = data.get("seq")
        for payload in session.history:
            if seq is None or payload["s"] > seq:
                conn.enqueue(payload)
        session.dispatch("RESUMED", {"_trace": ['["fake-discord-gateway",{"micros":0}]']})
        await session.flush()
        self.fake._notify()
        return True

    def guild_create_payload(
        self, guild: FakeGuild, session: GatewaySession, *, joined: bool = False
    ) -> dict[str, Any]:
        """GUILD_CREATE payload for ``guild`` as seen by ``session``.

        Backfill after READY carries ``unavailable: false``; a guild joined later omits
        the key (that is how clients tell "available again" from "joined").
        """
        fake = self.fake
        bot_id = fake.bot_user.id
        # Without GUILD_PRESENCES (privileged, never granted): the bot's own member only.
        members = [m for m in guild.members.values() if m.user.id == bot_id]
        large_threshold = session.identify.get("large_threshold") or 50
        data = guild.to_dict()
        data.update(
            joined_at=iso(guild.joined_at),
            large=len(guild.members) > large_threshold,
            member_count=len(guild.members),
            voice_states=[],
            members=[m.to_dict() for m in members],
            channels=[c.to_dict() for c in guild.channels.values()],
            threads=[t.to_dict() for t in guild.threads.values() if not t.archived],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
            embedded_activities=[],
            application_command_counts={},
            lazy=True,
        )
        if not joined:
            data["unavailable"] = False
        return data

    async def close_all(self) -> None:
        """Close every open connection (server shutdown)."""
        for conn in list(self.connections):
            if not conn.closed:
                await conn.close(1001, "fake discord shutting down")
