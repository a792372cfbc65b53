"""Scale expectations: don't act on a pod group again until the cache has seen our last creates and deletes.

The reconciler reads pods from the reflector's cache, which lags behind its own writes. Right after it
creates a worker pod, a reconcile triggered by some other event still sees the old pod count and
would create the pod again; right after it deletes one, it would delete another. KubeRay hit exactly
this (issue #105: a second head pod after a manual delete) and fixed it with expectations
(``controllers/ray/expectations/scale_expectations.go``), which this module follows:

* after each successful pod create or delete the reconciler records
  ``(cluster key, group, pod name, action)`` with the time; the head uses group ``""``;
* before reconciling a group it asks ``satisfied(cluster_key, group, lookup)``, where ``lookup(name)``
  reads the cache: a create is satisfied once the pod is there, a delete once it is gone; satisfied
  records are dropped;
* a record older than ``timeout`` (default 30 s, KubeRay's ``ExpectationsTimeout``) counts as satisfied
  and is dropped with a warning, so a lost watch event cannot freeze a group forever;
* ``forget_cluster`` drops every record of a cluster (the RayCluster is gone, or is recreated).

Records live in this process's memory only: a new leader starts with an empty cache it lists
completely before reconciling, so it has nothing to wait for.

Decided against: counting expected adds/deletes per group as client-go's ``ControllerExpectations``
does (names tell *which* pod is missing, and a pod deleted by someone else cannot be mistaken for the
one we created), and matching by UID (a create's UID is known only from the response, names always).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from ray_operator.kube.clock import Clock, MonotonicClock

__all__ = ["Action", "Expectation", "ScaleExpectations"]

DEFAULT_TIMEOUT_SECONDS = 30.0


class Action(enum.Enum):
    CREATE = "create"
    DELETE = "delete"


@dataclass(frozen=True)
class Expectation:
    cluster_key: str
    """``namespace/name`` of the RayCluster."""
    group: str
    """The worker group's name, ``""`` for the head."""
    pod_name: str
    action: Action
    recorded_at: float
    """The clock's ``now()`` when the write succeeded."""


Lookup = Callable[[str], Any]
"""Given a pod name, the cached pod (or anything not ``None``) if the cache has it, else ``None``."""


class ScaleExpectations:
    """Pending pod creates and deletes per (cluster, group); see the module docstring."""

    def __init__(
        self, *, clock: Clock | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS, logger: Any = None
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._clock: Clock = clock or MonotonicClock()
        self._timeout = timeout
        self._log = logger if logger is not None else structlog.get_logger("ray_operator.controller.expectations")
        self._records: dict[str, dict[str, dict[str, Expectation]]] = {}
        """cluster key → group → pod name → the latest expectation for that pod."""

    def expect_create(self, cluster_key: str, group: str, pod_name: str) -> None:
        """Record a successful pod create (call it after the API answered 201)."""
        self._record(cluster_key, group, pod_name, Action.CREATE)

    def expect_delete(self, cluster_key: str, group: str, pod_name: str) -> None:
        """Record a successful pod delete (call it after the API answered, a 404 included)."""
        self._record(cluster_key, group, pod_name, Action.DELETE)

    def _record(self, cluster_key: str, group: str, pod_name: str, action: Action) -> None:
        groups = self._records.setdefault(cluster_key, {})
        groups.setdefault(group, {})[pod_name] = Expectation(
            cluster_key=cluster_key, group=group, pod_name=pod_name, action=action, recorded_at=self._clock.now()
        )

    def satisfied(self, cluster_key: str, group: str, lookup: Lookup) -> bool:
        """Whether the cache reflects every recorded write of this group; satisfied records are dropped."""
        pods = self._records.get(cluster_key, {}).get(group)
        if not pods:
            return True
        now = self._clock.now()
        for name, expectation in list(pods.items()):
            present = lookup(name) is not None
            if (expectation.action is Action.CREATE) == present:
                del pods[name]
            elif now - expectation.recorded_at >= self._timeout:
                self._log.warning(
                    "expectation_timed_out",
                    raycluster=cluster_key,
                    group=group,
                    pod=name,
                    action=expectation.action.value,
                    waited_seconds=round(now - expectation.recorded_at, 3),
                    message="the cache never showed this write; acting on the cache as it is",
                )
                del pods[name]
        if not pods:
            self._drop_group(cluster_key, group)
            return True
        return False

    def pending(self, cluster_key: str, group: str | None = None) -> list[Expectation]:
        """The unsatisfied records of a cluster (or of one group), for logs and tests; nothing is evaluated."""
        groups = self._records.get(cluster_key, {})
        selected = [groups.get(group, {})] if group is not None else list(groups.values())
        return sorted((e for pods in selected for e in pods.values()), key=lambda e: (e.group, e.pod_name))

    def forget_cluster(self, cluster_key: str) -> None:
        """Drop every record of a cluster (it was deleted, or is about to be recreated)."""
        self._records.pop(cluster_key, None)

    def forget_group(self, cluster_key: str, group: str) -> None:
        """Drop the records of one group (it was removed from the spec)."""
        self._drop_group(cluster_key, group)

    def _drop_group(self, cluster_key: str, group: str) -> None:
        groups = self._records.get(cluster_key)
        if groups is None:
            return
        groups.pop(group, None)
        if not groups:
            del self._records[cluster_key]
