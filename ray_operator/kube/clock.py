"""Time as a dependency: a monotonic ``now``, an awaitable ``sleep`` and the wall clock, swappable in tests.

The work queue's delays and backoff, the expectations' timeouts and the events recorder's series
windows all read time through a ``Clock`` so that tests drive them with ``ManualClock.advance`` instead
of sleeping. It lives in ``kube`` (the lower layer) so that ``kube`` and ``controller`` share it.

Decided against: patching ``time.monotonic``/``asyncio.sleep`` in tests (hidden global state), and a
fake event-loop clock (it would also fake the time of the real network I/O the emulator tests do).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds: only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time (at once for zero or less)."""
        ...

    def wall(self) -> datetime:
        """The current UTC time, for timestamps written to the API server."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic``, ``asyncio.sleep``, ``datetime.now(UTC)``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def wall(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when ``advance`` is called; sleepers wake when their deadline is reached.

    ``advance`` wakes the sleepers synchronously (their futures resolve); they run at the loop's next
    turn, so a test awaits ``asyncio.sleep(0)`` (or the thing it expects) after advancing.
    """

    def __init__(self, *, start: float = 1000.0, wall_start: datetime | None = None) -> None:
        self._now = start
        self._start = start
        self._wall_start = wall_start or datetime(2025, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._start)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():  # a cancelled sleeper is simply dropped
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending (cancelled ones included until their deadline passes)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())
