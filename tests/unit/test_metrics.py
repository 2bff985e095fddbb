"""The metrics server on its own: health verdicts, and one registry per bot."""

from __future__ import annotations

from bot.metrics import Metrics, MetricsServer


async def ok() -> None:
    return None


async def serve(session, *, gateway_up: bool) -> tuple[int, str]:
    server = MetricsServer(Metrics(), gateway_up=lambda: gateway_up, database_ping=ok)
    await server.start("127.0.0.1", 0)
    try:
        assert server.address is not None
        host, port = server.address
        async with session.get(f"http://{host}:{port}/healthz") as resp:
            return resp.status, await resp.text()
    finally:
        await server.stop()


async def test_healthz_is_503_while_the_gateway_is_not_connected(session):
    assert await serve(session, gateway_up=False) == (
        503,
        "gateway: not connected\ndatabase: ok\n",
    )
    assert await serve(session, gateway_up=True) == (200, "gateway: connected\ndatabase: ok\n")


def test_each_bot_has_its_own_registry():
    # With the library's global registry the second set of metrics would be refused.
    first, second = Metrics(), Metrics()
    first.job_finished("generate", "succeeded")
    assert (
        first.registry.get_sample_value(
            "imagine_jobs_total", {"kind": "generate", "outcome": "succeeded"}
        )
        == 1
    )
    assert (
        second.registry.get_sample_value(
            "imagine_jobs_total", {"kind": "generate", "outcome": "succeeded"}
        )
        == 0
    )
