"""Shared fixtures: every test gets its own temporary database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.storage.database import Database
from tests.support.fake_onemin import FakeOneMin


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database file of the test's own."""
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    """An opened, migrated database."""
    database = await Database.open(db_path)
    yield database
    await database.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client session, closed after the test."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def onemin() -> AsyncIterator[FakeOneMin]:
    """A local 1min.ai that serves real images."""
    fake = FakeOneMin()
    await fake.start()
    yield fake
    await fake.close()
