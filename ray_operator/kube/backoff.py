"""Jittered, capped exponential backoff for reconnecting to the API server.

After an API-server restart every watcher of every operator reconnects at once; without jitter they
all retry in lock-step. Each delay is drawn from ``(1 - jitter) * d .. d`` where ``d`` doubles from
``initial`` to ``maximum`` (client-go's reflector starts at 800 ms and caps at 30 s), so a delay never
exceeds the cap and consecutive retries of many clients spread out.

Decided against: client-go's "jitter adds up to 100 %" (the cap would not be a cap), and a backoff
that resets on a timer (the caller resets it after a success, which is what "healthy again" means).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff", "BackoffPolicy"]


@dataclass(frozen=True, kw_only=True)
class BackoffPolicy:
    initial_seconds: float = 0.8
    """The first delay. Default 0.8 s (client-go's reflector)."""
    max_seconds: float = 30.0
    """No delay is longer. Default 30 s (client-go's reflector)."""
    factor: float = 2.0
    """Growth per failure. Default 2."""
    jitter: float = 0.5
    """Fraction of a delay that is random: 0.5 (default) draws from [d/2, d]; 0 disables jitter."""

    def __post_init__(self) -> None:
        if not 0 < self.initial_seconds <= self.max_seconds:
            raise ValueError("backoff needs 0 < initial_seconds <= max_seconds")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs factor >= 1 and 0 <= jitter < 1")


class Backoff:
    """The delays of one retry loop; ``reset`` after a success."""

    def __init__(self, policy: BackoffPolicy, *, rng: random.Random | None = None) -> None:
        self._policy = policy
        self._rng = rng or random.Random()
        self._current = policy.initial_seconds
        self.failures = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; grows the one after it."""
        delay = min(self._current, self._policy.max_seconds)
        self._current = min(self._current * self._policy.factor, self._policy.max_seconds)
        self.failures += 1
        return delay * (1 - self._policy.jitter * self._rng.random())

    def reset(self) -> None:
        self._current = self._policy.initial_seconds
        self.failures = 0
