"""Workers: take keys from the ``WorkQueue`` and call ``reconcile(key)``, with controller-runtime's rules.

* an exception → the key is retried with its per-key backoff (``add_rate_limited``); a
  ``RetryableError`` (a conflict, a failed step the status already reports) is logged as one warning
  line, anything else as an error with its traceback (a bug);
* ``Result(requeue_after=s)`` → backoff reset (``forget``) and the key comes back after ``s`` seconds;
* ``Result()`` or ``None`` → backoff reset; the key comes back only when an event adds it again.

``concurrency`` workers (default 1, controller-runtime's ``MaxConcurrentReconciles``) share one
queue; the queue guarantees that no two of them ever hold the same key. Each reconcile runs with
``key`` and a fresh ``reconcile_id`` (a UUID, as controller-runtime logs) bound as structlog context
variables, so every line the reconciler logs carries them without passing a logger around.

``stop()`` shuts the queue down, lets in-flight reconciles finish (up to a timeout, then cancels them)
and returns when every worker has exited. Cancelling ``run()`` cancels in-flight reconciles at once
(losing leadership must stop writes immediately).

Decided against: retrying inside the worker (the queue's backoff already spreads retries and lets
other keys through), and a per-reconcile timeout here (the reconciler knows which calls may be slow;
every API call already has a client timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from ray_operator.controller.queue import WorkQueue
from ray_operator.kube.clock import Clock, MonotonicClock

__all__ = [
    "NullReconcileObserver",
    "Reconcile",
    "ReconcileObserver",
    "Result",
    "RetryableError",
    "Workers",
    "current_key",
]

_CURRENT_KEY: ContextVar[str | None] = ContextVar("ray_operator_reconcile_key", default=None)


def current_key() -> str | None:
    """The key (``namespace/name``) being reconciled by the calling task, or ``None`` outside a reconcile.

    Tasks a reconcile starts inherit it, so the writer can say which RayCluster each write was for
    (the per-cluster pod counters) without every call passing it along.
    """
    return _CURRENT_KEY.get()


class RetryableError(Exception):
    """A reconcile that failed for a reason the reconciler understands: retry with backoff, no traceback."""


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None
    """Reconcile this key again after this many seconds (periodic work); ``None``: only on the next event."""


Reconcile = Callable[[str], Awaitable[Result | None]]


class ReconcileObserver(Protocol):
    def on_reconcile(self, *, result: str, seconds: float) -> None:
        """One reconcile ended; ``result`` is ``success``, ``error`` or ``requeue_after``, as
        ``controller_runtime_reconcile_total`` labels it."""


class NullReconcileObserver:
    def on_reconcile(self, *, result: str, seconds: float) -> None:
        pass


class Workers:
    """``concurrency`` tasks feeding ``reconcile`` from ``queue``; run with ``run()``, stop with ``stop()``."""

    def __init__(
        self,
        *,
        queue: WorkQueue,
        reconcile: Reconcile,
        concurrency: int = 1,
        clock: Clock | None = None,
        logger: Any = None,
        observer: ReconcileObserver | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._queue = queue
        self._reconcile = reconcile
        self._concurrency = concurrency
        self._clock: Clock = clock or MonotonicClock()
        self._log = logger if logger is not None else structlog.get_logger("ray_operator.controller.workers")
        self._observer: ReconcileObserver = observer or NullReconcileObserver()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Run the workers until the queue is shut down (``stop``) or this task is cancelled."""
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"reconcile-worker-{i}") for i in range(self._concurrency)
        ]
        try:
            # Not gather: workers that ``stop`` cancelled after its grace period are a normal end of run.
            await asyncio.wait(self._tasks)
            for task in self._tasks:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    raise error
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def stop(self, *, timeout: float | None = 30.0) -> None:  # noqa: ASYNC109 - a grace period, not a call timeout
        """Stop taking keys and wait for in-flight reconciles; after ``timeout`` seconds, cancel them."""
        self._queue.shutdown()
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return
        _, still_running = await asyncio.wait(pending, timeout=timeout)
        if still_running:
            self._log.warning("reconcile_stop_timeout", in_flight=sorted(self._in_flight), timeout_seconds=timeout)
            for task in still_running:
                task.cancel()
            await asyncio.wait(still_running)

    @property
    def in_flight(self) -> list[str]:
        """Keys being reconciled right now."""
        return sorted(self._in_flight)

    async def _worker(self) -> None:
        while (key := await self._queue.get()) is not None:
            try:
                await self._process(key)
            finally:
                self._queue.done(key)

    async def _process(self, key: str) -> None:
        reconcile_id = str(uuid.uuid4())
        started = self._clock.now()
        current = asyncio.current_task()
        if current is not None:
            self._in_flight[key] = current
        token = _CURRENT_KEY.set(key)
        try:
            with structlog.contextvars.bound_contextvars(key=key, reconcile_id=reconcile_id):
                result = await self._reconcile(key)
        except asyncio.CancelledError:
            raise
        except RetryableError as exc:
            self._log.warning(
                "reconcile_retrying",
                error=str(exc),
                key=key,
                reconcile_id=reconcile_id,
                retries=self._queue.num_requeues(key),
            )
            self._queue.add_rate_limited(key)
            self._observer.on_reconcile(result="error", seconds=self._clock.now() - started)
            return
        except Exception as exc:
            self._log.error(
                "reconcile_failed",
                error=f"{type(exc).__name__}: {exc}",
                key=key,
                reconcile_id=reconcile_id,
                retries=self._queue.num_requeues(key),
                exc_info=True,
            )
            self._queue.add_rate_limited(key)
            self._observer.on_reconcile(result="error", seconds=self._clock.now() - started)
            return
        finally:
            _CURRENT_KEY.reset(token)
            self._in_flight.pop(key, None)
        self._queue.forget(key)
        requeue_after = result.requeue_after if result is not None else None
        if requeue_after is not None and requeue_after > 0:
            self._queue.add_after(key, requeue_after)
            self._observer.on_reconcile(result="requeue_after", seconds=self._clock.now() - started)
        else:
            self._observer.on_reconcile(result="success", seconds=self._clock.now() - started)
