"""The work queue's guarantees, driven by a manual clock: no test sleeps beyond a few loop turns."""

from __future__ import annotations

import asyncio

import pytest

from ray_operator.controller.queue import BackoffConfig, ItemExponentialRateLimiter, WorkQueue
from ray_operator.kube.clock import ManualClock


async def settle() -> None:
    """Let woken tasks run (the manual clock resolves sleepers synchronously; they run on later turns)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def take_now(queue: WorkQueue) -> str | None:
    """The next key if one is ready (or becomes ready within a few loop turns), else fail."""
    return await asyncio.wait_for(queue.get(), 0.5)


async def nothing_ready(queue: WorkQueue) -> bool:
    task = asyncio.create_task(queue.get())
    await settle()
    blocked = not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return blocked


class RecordingObserver:
    def __init__(self) -> None:
        self.depths: list[int] = []
        self.adds = 0
        self.retries = 0
        self.latencies: list[float] = []
        self.durations: list[float] = []

    def on_depth(self, depth: int) -> None:
        self.depths.append(depth)

    def on_add(self) -> None:
        self.adds += 1

    def on_retry(self) -> None:
        self.retries += 1

    def on_queue_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def on_work_duration(self, seconds: float) -> None:
        self.durations.append(seconds)


async def test_a_key_added_twice_before_it_is_taken_is_handed_out_once() -> None:
    queue = WorkQueue(clock=ManualClock())
    queue.add("ns/a")
    queue.add("ns/b")
    queue.add("ns/a")
    assert len(queue) == 2
    assert await take_now(queue) == "ns/a"
    assert await take_now(queue) == "ns/b"
    assert await nothing_ready(queue)


async def test_a_key_being_processed_is_not_handed_to_a_second_worker_and_comes_back_after_done() -> None:
    queue = WorkQueue(clock=ManualClock())
    queue.add("ns/a")
    assert await take_now(queue) == "ns/a"
    queue.add("ns/a")  # an event while the first worker reconciles it
    second_worker = asyncio.create_task(queue.get())
    await settle()
    assert not second_worker.done(), "a second worker got a key that is still being processed"
    assert queue.is_processing("ns/a")
    queue.done("ns/a")
    assert await asyncio.wait_for(second_worker, 0.5) == "ns/a"
    queue.done("ns/a")
    assert await nothing_ready(queue)


async def test_done_without_a_new_add_does_not_requeue() -> None:
    queue = WorkQueue(clock=ManualClock())
    queue.add("ns/a")
    assert await take_now(queue) == "ns/a"
    queue.done("ns/a")
    assert len(queue) == 0
    assert await nothing_ready(queue)


def test_backoff_doubles_from_the_base_and_stops_at_the_cap() -> None:
    limiter = ItemExponentialRateLimiter(config=BackoffConfig(base_delay_seconds=1, max_delay_seconds=8))
    assert [limiter.when("k") for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    assert limiter.num_requeues("k") == 6
    assert limiter.when("other") == 1, "backoff is per key"


def test_default_backoff_is_controller_runtimes_5ms_to_1000s() -> None:
    limiter = ItemExponentialRateLimiter()
    delays = [limiter.when("k") for _ in range(30)]
    assert delays[:3] == [0.005, 0.01, 0.02]
    assert delays[-1] == 1000.0
    for _ in range(1000):  # a key failing forever must not overflow
        limiter.when("k")
    assert limiter.when("k") == 1000.0


async def test_forget_resets_the_backoff() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock=clock, rate_limiter=ItemExponentialRateLimiter(config=BackoffConfig(base_delay_seconds=1)))
    for _ in range(3):
        queue.add_rate_limited("ns/a")
    assert queue.num_requeues("ns/a") == 3
    queue.forget("ns/a")
    assert queue.num_requeues("ns/a") == 0
    queue.add_rate_limited("ns/b")
    queue.forget("ns/b")
    queue.add_rate_limited("ns/b")
    assert queue.num_requeues("ns/b") == 1


async def test_a_rate_limited_key_waits_for_its_backoff() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock=clock, rate_limiter=ItemExponentialRateLimiter(config=BackoffConfig(base_delay_seconds=2)))
    queue.add_rate_limited("ns/a")  # 2 s
    getter = asyncio.create_task(queue.get())
    await settle()
    clock.advance(1.9)
    await settle()
    assert not getter.done()
    clock.advance(0.1)
    assert await asyncio.wait_for(getter, 0.5) == "ns/a"
    queue.done("ns/a")
    queue.add_rate_limited("ns/a")  # second failure: 4 s
    clock.advance(3.9)
    assert await nothing_ready(queue)
    clock.advance(0.1)
    assert await take_now(queue) == "ns/a"


async def test_delayed_keys_come_out_in_due_order_and_the_earlier_time_wins() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock=clock)
    queue.add_after("ns/c", 3)
    queue.add_after("ns/a", 10)
    queue.add_after("ns/b", 2)
    queue.add_after("ns/a", 1)  # earlier than the pending 10 s: wins
    queue.add_after("ns/b", 5)  # later than the pending 2 s: ignored
    assert queue.delayed == 3
    assert await nothing_ready(queue)
    clock.advance(1)
    assert await take_now(queue) == "ns/a"
    clock.advance(2)
    assert await take_now(queue) == "ns/b"
    assert await take_now(queue) == "ns/c"
    clock.advance(10)
    assert await nothing_ready(queue), "the superseded 10 s entry of ns/a must not fire again"


async def test_add_after_wakes_a_worker_that_is_already_waiting() -> None:
    clock = ManualClock()
    queue = WorkQueue(clock=clock)
    getter = asyncio.create_task(queue.get())
    await settle()
    queue.add_after("ns/a", 5)
    await settle()
    clock.advance(5)
    assert await asyncio.wait_for(getter, 0.5) == "ns/a"


async def test_add_after_with_no_delay_is_an_add() -> None:
    queue = WorkQueue(clock=ManualClock())
    queue.add_after("ns/a", 0)
    assert await take_now(queue) == "ns/a"


async def test_shutdown_releases_waiting_workers_and_drops_queued_and_delayed_keys() -> None:
    queue = WorkQueue(clock=ManualClock())
    waiting = asyncio.create_task(queue.get())
    await settle()
    queue.add_after("ns/later", 5)
    queue.shutdown()
    assert await asyncio.wait_for(waiting, 0.5) is None
    queue.add("ns/a")
    assert len(queue) == 0
    assert await queue.get() is None
    assert queue.delayed == 0


async def test_shutdown_lets_an_in_flight_key_finish() -> None:
    queue = WorkQueue(clock=ManualClock())
    queue.add("ns/a")
    assert await take_now(queue) == "ns/a"
    queue.add("ns/a")
    queue.shutdown()
    queue.done("ns/a")  # no error, and not handed out again
    assert queue.in_flight == 0
    assert await queue.get() is None


async def test_observer_sees_depth_adds_retries_latency_and_work_duration() -> None:
    clock = ManualClock()
    observer = RecordingObserver()
    queue = WorkQueue(clock=clock, observer=observer)
    queue.add("ns/a")
    queue.add("ns/a")  # deduplicated: not an add
    queue.add("ns/b")
    assert observer.adds == 2
    assert observer.depths[-1] == 2
    clock.advance(3)
    assert await take_now(queue) == "ns/a"
    assert observer.latencies == [3]
    assert observer.depths[-1] == 1
    clock.advance(0.25)
    assert queue.longest_running_seconds() == 0.25
    queue.done("ns/a")
    assert observer.durations == [0.25]
    queue.add_rate_limited("ns/c")
    assert observer.retries == 1
