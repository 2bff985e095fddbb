"""The one long-lived aiosqlite connection, WAL mode, numbered migrations."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Params = Sequence[Any] | dict[str, Any]


def migration_files() -> list[tuple[int, str, str]]:
    """Every bundled migration as ``(version, name, sql)``, in order."""
    found = []
    for entry in resources.files("bot.storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


class Database:
    """A single aiosqlite connection shared by the whole bot.

    aiosqlite runs every statement, in order, on one background thread. A
    statement needs no lock of its own: it is queued there at once. Only an
    open transaction must keep other tasks' statements out (they would become
    part of it); so while one is open, other tasks wait for it to end, and
    :meth:`transaction` itself (``BEGIN IMMEDIATE``) is taken by one task at
    a time, so a check-then-write inside it cannot race another one.
    """

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._conn = connection
        self.path = path
        self._lock = asyncio.Lock()
        self._closed = False
        # The task whose transaction is open: only it may use the connection
        # meanwhile (a ContextVar would leak into tasks created inside it).
        self._owner: asyncio.Task[Any] | None = None
        self._no_transaction = asyncio.Event()
        self._no_transaction.set()

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, once no other task's transaction is open."""
        current = asyncio.current_task()
        while self._owner is not None and self._owner is not current:
            await self._no_transaction.wait()
        # No await between this check and the caller queueing its statement,
        # so a transaction cannot begin in between.
        yield self._conn

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Open (creating its folder) and migrate the database at ``path``."""
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await db.migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        """Checkpoint the WAL and close the connection (again is a no-op)."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await self._conn.close()

    async def schema_version(self) -> int:
        """The number of the last migration applied."""
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        """Apply every migration newer than the stored schema version, each atomically."""
        current = await self.schema_version()
        for version, name, sql in migration_files():
            if version <= current:
                continue
            log.info("Applying database migration %s", name)
            # executescript would commit on its own; wrap it so a failing
            # migration leaves the previous schema intact.
            await self._conn.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version:d};\nCOMMIT;"
            )

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the last inserted row id (or 0)."""
        async with self._turn() as conn, conn.execute(sql, params) as cursor:
            return cursor.lastrowid or 0

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        async with self._turn() as conn, conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        """The first row of a query, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """Every row of a query."""
        # One trip to aiosqlite's thread: the statement runs to its end there, so
        # no other task's statement (or transaction) can come in between.
        async with self._turn() as conn:
            return list(await conn.execute_fetchall(sql, params))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """A write transaction: committed on success, rolled back on any error."""
        if self._owner is not None and self._owner is asyncio.current_task():
            raise RuntimeError("transactions do not nest")
        async with self._lock:
            self._owner = asyncio.current_task()
            self._no_transaction.clear()
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")
            finally:
                self._owner = None
                self._no_transaction.set()

    async def get_meta(self, key: str) -> str | None:
        """A value from the key/value ``meta`` table."""
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        """Store a value in the ``meta`` table."""
        await self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def size_bytes(self) -> int:
        """The database's size on disk, write-ahead log included."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(OSError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    async def backup_to(self, target: Path) -> None:
        """A consistent copy of the live database through SQLite's online backup."""
        target.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(target) as dest, self._turn() as conn:
            await conn.backup(dest)
