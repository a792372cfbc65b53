"""Workers: errors back off, requeue_after comes back, one key never runs twice at once, stop is graceful."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import structlog

from ray_operator.controller.queue import BackoffConfig, ItemExponentialRateLimiter, WorkQueue
from ray_operator.controller.workers import Result, Workers
from ray_operator.kube.clock import ManualClock


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Outcomes:
    def __init__(self) -> None:
        self.results: list[str] = []

    def on_reconcile(self, *, result: str, seconds: float) -> None:
        self.results.append(result)


def make_queue(clock: ManualClock, base: float = 1.0) -> WorkQueue:
    limiter = ItemExponentialRateLimiter(config=BackoffConfig(base_delay_seconds=base))
    return WorkQueue(clock=clock, rate_limiter=limiter)


async def test_a_failing_reconcile_is_retried_after_its_backoff_and_success_forgets_it() -> None:
    clock = ManualClock()
    queue = make_queue(clock, base=2.0)
    calls: list[str] = []
    outcomes = Outcomes()

    async def reconcile(key: str) -> Result | None:
        calls.append(key)
        if len(calls) < 3:
            raise RuntimeError("API said no")
        return None

    workers = Workers(queue=queue, reconcile=reconcile, clock=clock, observer=outcomes)
    run = asyncio.create_task(workers.run())
    queue.add("ns/a")
    await settle()
    assert calls == ["ns/a"]
    clock.advance(1.9)
    await settle()
    assert calls == ["ns/a"], "retried before its 2 s backoff"
    clock.advance(0.1)
    await settle()
    assert len(calls) == 2
    assert queue.num_requeues("ns/a") == 2
    clock.advance(4)  # the second failure doubled the delay
    await settle()
    assert len(calls) == 3
    assert queue.num_requeues("ns/a") == 0, "a success must reset the backoff"
    assert outcomes.results == ["error", "error", "success"]
    await workers.stop()
    await run


async def test_requeue_after_brings_the_key_back_after_that_delay_only() -> None:
    clock = ManualClock()
    queue = make_queue(clock)
    calls: list[float] = []

    async def reconcile(key: str) -> Result:
        calls.append(clock.now())
        return Result(requeue_after=300)

    workers = Workers(queue=queue, reconcile=reconcile, clock=clock)
    run = asyncio.create_task(workers.run())
    queue.add("ns/a")
    await settle()
    clock.advance(299)
    await settle()
    assert len(calls) == 1
    clock.advance(1)
    await settle()
    assert len(calls) == 2
    assert calls[1] - calls[0] == 300
    await workers.stop()
    await run


async def test_one_key_is_never_reconciled_by_two_workers_at_once() -> None:
    clock = ManualClock()
    queue = make_queue(clock)
    running: Counter[str] = Counter()
    most_at_once: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    release = asyncio.Event()

    async def reconcile(key: str) -> None:
        running[key] += 1
        calls[key] += 1
        most_at_once[key] = max(most_at_once[key], running[key])
        await release.wait()
        running[key] -= 1

    workers = Workers(queue=queue, reconcile=reconcile, concurrency=4, clock=clock)
    run = asyncio.create_task(workers.run())
    queue.add("ns/a")
    queue.add("ns/b")
    await settle()
    for _ in range(5):  # events for both keys while they are being reconciled
        queue.add("ns/a")
        queue.add("ns/b")
        await settle()
    assert sorted(workers.in_flight) == ["ns/a", "ns/b"], "different keys run in parallel"
    release.set()
    await settle()
    assert most_at_once == {"ns/a": 1, "ns/b": 1}
    assert calls == {"ns/a": 2, "ns/b": 2}, "the adds during the first run give exactly one more run"
    await workers.stop()
    await run


async def test_stop_waits_for_an_in_flight_reconcile_to_finish() -> None:
    clock = ManualClock()
    queue = make_queue(clock)
    release = asyncio.Event()
    finished: list[str] = []

    async def reconcile(key: str) -> None:
        await release.wait()
        finished.append(key)

    workers = Workers(queue=queue, reconcile=reconcile, clock=clock)
    run = asyncio.create_task(workers.run())
    queue.add("ns/a")
    queue.add("ns/b")
    await settle()
    stopping = asyncio.create_task(workers.stop(timeout=5))
    await settle()
    assert not stopping.done(), "stop returned while a reconcile was still running"
    release.set()
    await asyncio.wait_for(stopping, 1)
    await asyncio.wait_for(run, 1)
    assert finished == ["ns/a"], "the in-flight reconcile finishes; the queued key is not started after stop"


async def test_stop_cancels_a_reconcile_that_outlives_the_grace_period() -> None:
    queue = WorkQueue()
    cancelled = asyncio.Event()

    async def reconcile(key: str) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    workers = Workers(queue=queue, reconcile=reconcile)
    run = asyncio.create_task(workers.run())
    queue.add("ns/a")
    await settle()
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(workers.stop(timeout=0.01), 1)
    assert cancelled.is_set()
    assert any(e["event"] == "reconcile_stop_timeout" and e["in_flight"] == ["ns/a"] for e in logs)
    await asyncio.wait_for(run, 1)


async def test_reconcile_runs_with_key_and_reconcile_id_bound_for_its_logs() -> None:
    queue = WorkQueue()
    seen: list[dict[str, object]] = []

    async def reconcile(key: str) -> None:
        seen.append(dict(structlog.contextvars.get_contextvars()))

    workers = Workers(queue=queue, reconcile=reconcile)
    run = asyncio.create_task(workers.run())
    queue.add("ns/a")
    queue.add("ns/b")
    await settle()
    await workers.stop()
    await run
    assert [s["key"] for s in seen] == ["ns/a", "ns/b"]
    assert seen[0]["reconcile_id"] != seen[1]["reconcile_id"]


def test_concurrency_below_one_is_refused() -> None:
    async def reconcile(key: str) -> None:
        return None

    with pytest.raises(ValueError, match="concurrency"):
        Workers(queue=WorkQueue(), reconcile=reconcile, concurrency=0)
