"""The work queue: which RayCluster keys (``namespace/name``) need a reconcile, and when.

It follows client-go's workqueue, which controller-runtime builds on, because its guarantees are what
make a level-based reconciler safe:

* **deduplicated**: a key added any number of times before a worker takes it is handed out once;
* **one key, one worker**: a key added while a worker is reconciling it is not handed to a second
  worker; it is queued again when the first one calls ``done`` (so the change is not lost either);
* **delays**: ``add_after`` holds a key back (``requeue_after``); a key already waiting keeps the
  earlier of its two times;
* **per-key backoff**: ``add_rate_limited`` waits ``base * 2**failures`` (5 ms doubling up to 1000 s
  by default, controller-runtime's), ``forget`` resets it after a success.

Depth, adds, retries, queue latency and work duration go to a ``QueueObserver`` so the
controller-runtime ``workqueue_*`` metrics can be wired without this module knowing prometheus.
Time comes from an injected ``Clock``, so tests move time instead of sleeping.

``shutdown`` stops handing out keys at once and drops the queued and waiting ones: the next leader
lists everything again, so nothing is lost; keys being reconciled still finish and call ``done``.

Decided against: an ``asyncio.Queue`` (no dedup, no "not while processing"), a background timer task
for delays (``get`` itself sleeps until the earliest due key, so the queue has no lifecycle to manage),
and client-go's overall token bucket (controller-runtime dropped it from its default limiter; one
can be added as another ``RateLimiter``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from ray_operator.kube.clock import Clock, MonotonicClock

__all__ = [
    "BackoffConfig",
    "ItemExponentialRateLimiter",
    "NullQueueObserver",
    "QueueObserver",
    "RateLimiter",
    "WorkQueue",
]


class QueueObserver(Protocol):
    """Hooks for the ``workqueue_*`` metrics; every method is called synchronously and must not block."""

    def on_depth(self, depth: int) -> None:
        """``workqueue_depth``: keys waiting for a worker (delayed keys are not counted until due)."""

    def on_add(self) -> None:
        """``workqueue_adds_total``: a key was accepted (a duplicate add is not counted)."""

    def on_retry(self) -> None:
        """``workqueue_retries_total``: ``add_rate_limited`` was called."""

    def on_queue_latency(self, seconds: float) -> None:
        """``workqueue_queue_duration_seconds``: from a key's add to a worker taking it."""

    def on_work_duration(self, seconds: float) -> None:
        """``workqueue_work_duration_seconds``: from a worker taking a key to its ``done``."""


class NullQueueObserver:
    def on_depth(self, depth: int) -> None:
        pass

    def on_add(self) -> None:
        pass

    def on_retry(self) -> None:
        pass

    def on_queue_latency(self, seconds: float) -> None:
        pass

    def on_work_duration(self, seconds: float) -> None:
        pass


class RateLimiter(Protocol):
    def when(self, key: str) -> float:
        """How long to wait before retrying ``key``; counts one more failure."""
        ...

    def forget(self, key: str) -> None:
        """Stop tracking ``key``: its next failure starts from the base delay again."""
        ...

    def num_requeues(self, key: str) -> int:
        """Failures counted for ``key`` since it was last forgotten."""
        ...


@dataclass(frozen=True, kw_only=True)
class BackoffConfig:
    base_delay_seconds: float = 0.005
    """The first retry's delay; each further failure doubles it. Default 5 ms (controller-runtime's)."""

    max_delay_seconds: float = 1000.0
    """No retry waits longer. Default 1000 s (controller-runtime's)."""

    def __post_init__(self) -> None:
        if not 0 < self.base_delay_seconds <= self.max_delay_seconds:
            raise ValueError("backoff needs 0 < base_delay_seconds <= max_delay_seconds")


class ItemExponentialRateLimiter:
    """client-go's ``ItemExponentialFailureRateLimiter``: ``base * 2**failures``, capped, per key."""

    def __init__(self, *, config: BackoffConfig | None = None) -> None:
        self._config = config or BackoffConfig()
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        cfg = self._config
        if failures >= 64:  # 2**64 * base is far past any cap; avoids float overflow for a key failing forever
            return cfg.max_delay_seconds
        return float(min(cfg.base_delay_seconds * (2**failures), cfg.max_delay_seconds))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)


class WorkQueue:
    """A deduplicating, delaying, rate-limited queue of string keys; see the module docstring."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
        observer: QueueObserver | None = None,
    ) -> None:
        self._clock: Clock = clock or MonotonicClock()
        self._limiter: RateLimiter = rate_limiter or ItemExponentialRateLimiter()
        self._observer: QueueObserver = observer or NullQueueObserver()
        self._ready: deque[str] = deque()
        """Keys a worker may take, in order; each is also in ``_dirty`` and never in ``_processing``."""
        self._dirty: set[str] = set()
        """Keys that need a reconcile: the ready ones plus those re-added while being processed."""
        self._processing: set[str] = set()
        self._added_at: dict[str, float] = {}
        self._started_at: dict[str, float] = {}
        self._waiting: list[tuple[float, int, str]] = []
        """A heap of (due time, tie-breaker, key); entries whose time is not ``_due[key]`` are stale."""
        self._due: dict[str, float] = {}
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._shutting_down = False

    # ---------------------------------------------------------------------------------------- adds

    def add(self, key: str) -> None:
        """Queue ``key`` now (a no-op if it is already queued, or after ``shutdown``)."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self._added_at.setdefault(key, self._clock.now())
        self._observer.on_add()
        if key not in self._processing:  # otherwise ``done`` queues it, so two workers never share a key
            self._ready.append(key)
            self._wakeup.set()
        self._observer.on_depth(len(self._dirty))

    def add_after(self, key: str, delay: float) -> None:
        """Queue ``key`` once ``delay`` seconds have passed; an earlier pending time for it wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        due = self._clock.now() + delay
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._waiting, (due, next(self._seq), key))
        self._wakeup.set()  # a waiting ``get`` recomputes how long to sleep

    def add_rate_limited(self, key: str) -> None:
        """Queue ``key`` after its backoff delay, counting one more failure for it."""
        if self._shutting_down:
            return
        self._observer.on_retry()
        self.add_after(key, self._limiter.when(key))

    def forget(self, key: str) -> None:
        """Reset ``key``'s backoff (after a successful reconcile); it does not remove a queued key."""
        self._limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self._limiter.num_requeues(key)

    # --------------------------------------------------------------------------------------- taking

    async def get(self) -> str | None:
        """The next key to reconcile, waiting as long as needed; ``None`` once the queue is shut down.

        The caller owns the key until it calls ``done(key)``.
        """
        while True:
            if self._shutting_down:
                return None
            self._promote_due()
            if self._ready:
                key = self._ready.popleft()
                self._dirty.discard(key)
                self._processing.add(key)
                now = self._clock.now()
                self._observer.on_queue_latency(now - self._added_at.pop(key, now))
                self._started_at[key] = now
                self._observer.on_depth(len(self._dirty))
                return key
            self._wakeup.clear()
            await self._wait()

    def done(self, key: str) -> None:
        """The worker finished ``key``; if it was added meanwhile, it is queued again now."""
        if key not in self._processing:
            return
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if started is not None:
            self._observer.on_work_duration(self._clock.now() - started)
        if key in self._dirty and not self._shutting_down:
            self._ready.append(key)
            self._wakeup.set()

    def shutdown(self) -> None:
        """Hand out no more keys (``get`` returns ``None``) and drop the queued and delayed ones."""
        self._shutting_down = True
        self._ready.clear()
        self._dirty.clear()
        self._added_at.clear()
        self._waiting.clear()
        self._due.clear()
        self._wakeup.set()
        self._observer.on_depth(0)

    # --------------------------------------------------------------------------------------- state

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Keys waiting for a worker: what ``workqueue_depth`` reports."""
        return len(self._dirty)

    @property
    def delayed(self) -> int:
        """Keys held back by ``add_after``/``add_rate_limited`` and not yet due."""
        return len(self._due)

    @property
    def in_flight(self) -> int:
        """Keys a worker has taken and not yet marked ``done``."""
        return len(self._processing)

    def is_processing(self, key: str) -> bool:
        return key in self._processing

    def unfinished_work_seconds(self) -> float:
        """``workqueue_unfinished_work_seconds``: the summed age of every key in flight."""
        now = self._clock.now()
        return sum(now - t for t in self._started_at.values())

    def longest_running_seconds(self) -> float:
        """``workqueue_longest_running_processor_seconds``: the age of the oldest key in flight."""
        now = self._clock.now()
        return max((now - t for t in self._started_at.values()), default=0.0)

    # ------------------------------------------------------------------------------------ internals

    def _promote_due(self) -> None:
        now = self._clock.now()
        while self._waiting and self._waiting[0][0] <= now:
            due, _, key = heapq.heappop(self._waiting)
            if self._due.get(key) != due:
                continue  # superseded by an earlier add_after of the same key
            del self._due[key]
            self.add(key)

    def _next_due(self) -> float | None:
        while self._waiting and self._due.get(self._waiting[0][2]) != self._waiting[0][0]:
            heapq.heappop(self._waiting)  # drop stale heads so the sleep is not cut short for nothing
        return self._waiting[0][0] if self._waiting else None

    async def _wait(self) -> None:
        """Until something is added (or shutdown) or the earliest delayed key is due."""
        due = self._next_due()
        if due is None:
            await self._wakeup.wait()
            return
        woken = asyncio.ensure_future(self._wakeup.wait())
        slept = asyncio.ensure_future(self._clock.sleep(due - self._clock.now()))
        try:
            await asyncio.wait({woken, slept}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            slept.cancel()
