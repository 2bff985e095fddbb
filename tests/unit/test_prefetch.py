"""GuildCache.prefetch: a server's first request starts its loads at once, not in turn."""

import asyncio

from bot.cache import GuildCache


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
    attempts = 0

    async def load(guild_id):
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("database busy")
        return "ok"

    cache = GuildCache(load)
    cache.prefetch(1)
    for _ in range(3):
        await asyncio.sleep(0)
    assert await cache.get(1) == "ok"
    assert attempts == 2
