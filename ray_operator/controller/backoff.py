"""Replacement back-off: a head or worker group whose pods keep dying is replaced ever more slowly.

KubeRay deletes a failed pod and creates its replacement on the next pass, however often that
happens: a head whose container cannot start (a bad image, a missing volume, a crash at import) is
replaced as fast as the API server answers, hundreds of pods a minute, each one an API write, an
Event and a scheduling attempt. This module does what the kubelet does for a crashing container
(CrashLoopBackOff) at the level of pods:

* every pass that deletes a group's unhealthy pods records one *failure* of that group (the head is
  group ``""``); the first ``free_failures`` (2) are replaced at once, so a one-off failure is repaired
  exactly as KubeRay repairs it;
* after that, the group's creates wait ``base_seconds`` (10 s) after the last failure, doubling with
  each further failure up to ``max_seconds`` (300 s), the kubelet's own numbers;
* a pass that sees the group whole and Ready (every desired pod live, none unhealthy, all Ready)
  forgets its failures, so a group that recovered starts again from no delay;
* records live in this process only, like the expectations: a new leader starts with none.

Only the timing is decided here (pure bookkeeping on a monotonic clock); ``podsync`` skips a waiting
group's creates, requeues for when the wait ends and says so in a Warning event.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReplacementBackoff"]


@dataclass
class _Failures:
    count: int
    last: float


class ReplacementBackoff:
    """Consecutive replacement failures per ``(cluster key, group)`` and the wait they impose."""

    def __init__(self, *, free_failures: int = 2, base_seconds: float = 10.0, max_seconds: float = 300.0) -> None:
        self.free_failures = free_failures
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self._failures: dict[tuple[str, str], _Failures] = {}

    def failed(self, cluster_key: str, group: str, now: float) -> int:
        """Record that this pass deleted unhealthy pods of ``group``; the number of failures in a row."""
        record = self._failures.get((cluster_key, group))
        if record is None:
            record = self._failures[(cluster_key, group)] = _Failures(count=0, last=now)
        record.count += 1
        record.last = now
        return record.count

    def delay(self, count: int) -> float:
        """The wait after the ``count``-th failure in a row before the replacement is created."""
        if count <= self.free_failures:
            return 0.0
        return float(min(self.base_seconds * 2 ** (count - self.free_failures - 1), self.max_seconds))

    def remaining(self, cluster_key: str, group: str, now: float) -> float:
        """Seconds until ``group`` may create pods again (0 when it may now)."""
        record = self._failures.get((cluster_key, group))
        if record is None:
            return 0.0
        return max(record.last + self.delay(record.count) - now, 0.0)

    def failures(self, cluster_key: str, group: str) -> int:
        record = self._failures.get((cluster_key, group))
        return record.count if record is not None else 0

    def healthy(self, cluster_key: str, group: str) -> None:
        """The group was seen whole and Ready: its failures are forgotten."""
        self._failures.pop((cluster_key, group), None)

    def forget_cluster(self, cluster_key: str) -> None:
        """The RayCluster is gone: drop every record of it."""
        for key in [key for key in self._failures if key[0] == cluster_key]:
            del self._failures[key]
