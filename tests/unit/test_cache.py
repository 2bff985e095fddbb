"""GuildCache: one load per server however many ask at once; reload after invalidate."""

import asyncio

import pytest

from bot.cache import GuildCache, WordFilters
from bot.storage import moderation


async def test_concurrent_gets_share_one_load_and_invalidate_reloads():
    loads = []

    async def load(guild_id):
        loads.append(guild_id)
        await asyncio.sleep(0.01)
        return f"value {guild_id} #{len(loads)}"

    cache = GuildCache(load)
    values = await asyncio.gather(*(cache.get(1) for _ in range(50)))
    assert set(values) == {"value 1 #1"}
    assert loads == [1]
    assert await cache.get(2) == "value 2 #2"
    cache.invalidate(1)
    assert await cache.get(1) == "value 1 #3"


class FailsOnce:
    """A loader whose first load fails (the database busy), and every later one works."""

    def __init__(self) -> None:
        self.attempts = 0

    async def __call__(self, guild_id: int) -> str:
        self.attempts += 1
        if self.attempts == 1:
            raise RuntimeError("database busy")
        return "ok"


async def test_a_failed_load_is_retried_next_time():
    cache = GuildCache(FailsOnce())
    with pytest.raises(RuntimeError):
        await cache.get(1)
    assert await cache.get(1) == "ok"


async def test_word_filters_load_once_and_reload_after_invalidate(db):
    await moderation.add_blocked_word(db, 1, "apple", by=7, now=1.0)
    filters = WordFilters(db)
    first = await filters.get(1)
    assert first.find("an Apple pie") == "apple"
    assert first.find("a pear") is None
    assert (await filters.get(2)).find("an apple") is None  # another server's list

    await moderation.add_blocked_word(db, 1, "pear", by=7, now=2.0)
    assert await filters.get(1) is first  # cached: the change is not seen yet
    filters.invalidate(1)
    assert (await filters.get(1)).find("a pear") == "pear"


async def test_a_prefetched_load_is_the_one_get_waits_for():
    loads = []

    async def load(guild_id):
        loads.append(guild_id)
        await asyncio.sleep(0.01)
        return f"value {guild_id}"

    cache = GuildCache(load)
    cache.prefetch(1)
    cache.prefetch(1)
    await asyncio.sleep(0)
    assert loads == [1], "started before anyone waits, once"
    assert await cache.get(1) == "value 1"
    cache.prefetch(1)  # loaded: nothing to do
    assert loads == [1]


async def test_a_failed_prefetch_is_forgotten_and_tried_again():
    load = FailsOnce()
    cache = GuildCache(load)
    cache.prefetch(1)
    for _ in range(3):
        await asyncio.sleep(0)
    assert await cache.get(1) == "ok"
    assert load.attempts == 2
