"""``/healthz`` and ``/readyz`` as a kubelet sees them: the event-loop watchdog, failing and passing checks."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ray_operator.kube.clock import ManualClock
from ray_operator.probes import Check, Passed, Watchdog, build_probe_app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def client_for(checks: dict[str, Check], watchdog: Watchdog | None = None) -> TestClient:  # type: ignore[type-arg]
    client = TestClient(TestServer(build_probe_app(checks=checks, watchdog=watchdog)))
    await client.start_server()
    return client


async def test_healthz_fails_once_the_watchdog_tick_is_older_than_the_threshold(clock: ManualClock) -> None:
    watchdog = Watchdog(threshold_seconds=20.0, clock=clock)  # not ticking yet: as if the loop never ran it
    client = await client_for({}, watchdog)
    try:
        assert (await client.get("/healthz")).status == 200
        clock.advance(19.0)
        assert (await client.get("/healthz")).status == 200
        clock.advance(2.0)
        resp = await client.get("/healthz")
        assert resp.status == 500
        assert await resp.text() == (
            "[-]eventloop failed: the event loop watchdog last ticked 21.0s ago (threshold 20s)\nhealthz check failed\n"
        )
        ticking = asyncio.create_task(watchdog.run())
        try:
            await asyncio.sleep(0)
            assert (await client.get("/healthz")).status == 200, "healthy again as soon as the tick runs"
            clock.advance(1.0)
            await asyncio.sleep(0)
            assert watchdog.last_tick == clock.now(), "it ticks every second"
        finally:
            ticking.cancel()
    finally:
        await client.close()


def test_the_tick_interval_never_exceeds_half_the_threshold(clock: ManualClock) -> None:
    assert Watchdog(threshold_seconds=20.0, clock=clock).interval_seconds == 1.0
    assert Watchdog(threshold_seconds=0.5, clock=clock).interval_seconds == 0.25


async def test_readyz_shows_details_of_passing_checks_and_every_failure() -> None:
    async def standby() -> Passed:
        return Passed("standby (leader: a_1)")

    async def ok() -> None:
        return None

    async def not_synced() -> str:
        return "leader: the controller's caches have not synced yet"

    async def broken() -> None:
        raise RuntimeError("boom")

    client = await client_for({"shutdown": ok, "leader": standby})
    try:
        resp = await client.get("/readyz")
        assert resp.status == 200
        assert await resp.text() == "[+]shutdown ok\n[+]leader ok: standby (leader: a_1)\nreadyz check passed\n"
    finally:
        await client.close()
    client = await client_for({"shutdown": ok, "leader": not_synced, "other": broken})
    try:
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert await resp.text() == (
            "[+]shutdown ok\n[-]leader failed: leader: the controller's caches have not synced yet\n"
            "[-]other failed: RuntimeError: boom\nreadyz check failed\n"
        )
    finally:
        await client.close()
