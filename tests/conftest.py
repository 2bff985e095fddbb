"""Shared fixtures: every test gets its own temporary database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.storage.database import Database
from tests.support.fake_onemin import FakeOneMin


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--discord-latency=SECONDS``: the local Discord's delay each way (tests/e2e)."""
    parser.addoption(
        "--discord-latency",
        type=float,
        default=0.0,
        help="seconds the local Discord delays every REST request, REST answer and gateway "
        "frame in the end-to-end tests (e.g. 0.15: a round trip of 300 ms)",
    )


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
