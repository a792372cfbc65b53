"""The seam between the kubelet's API-client loop and what runs a node's pods.

The loop (``agent.Kubelet``) does what every kubelet does through the API: list and watch pods, bind
unscheduled ones to its node, allocate pod IPs, write ``pods/status`` and delete finished pods after
their grace period. What a pod's status *is* depends on the runtime behind it: the ``fake`` runtime
computes it (containers "run" the moment they are scheduled); a ``process`` runtime runs each pod's
containers as local processes and reports what they do. A runtime answers three questions: the
status to report now (and when to look again), how to stop a pod being deleted, and what to forget
when a pod is gone; it may add a few fields to the kubelet's control-API state. Two optional hooks,
looked up by name: ``attach(kubelet)`` when the loop starts (the kubelet's ``api_request``, ``resync`` and
``known_pods`` - how the process runtime reads Services and Secrets and reports a process exit at once)
and ``close()`` when it stops (stop every process).
Decided against: a runtime that talks to the API itself (one loop keeps binding, status writes and
retries identical whatever runs the pods) and a sync-only seam (a process runtime has to await its
processes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

PodKey = tuple[str, str]
"""(namespace, name)."""


@dataclass(frozen=True)
class PodReport:
    """A runtime's answer for one pod: the status to report, and when to ask again."""

    status: dict[str, Any] | None
    """The full ``status`` to converge to, or ``None`` to leave what is stored (a finished pod)."""
    recheck_after: float | None = None
    """Seconds after which the pod is synced again although nothing changed (a container starting)."""


class PodRuntime(Protocol):
    """What runs the pods of one node, as the kubelet loop sees it."""

    async def sync_pod(
        self, key: PodKey, pod: Mapping[str, Any], *, host_ip: str, now: str, allocate_ip: Callable[[], str]
    ) -> PodReport:
        """The status ``pod`` (bound to this node, not being deleted) should report at ``now`` (RFC 3339).

        ``allocate_ip`` gives a free address of the node's pod CIDR, for a pod that has none yet.
        """
        ...

    async def terminate(self, key: PodKey, pod: Mapping[str, Any], *, grace_seconds: float) -> None:
        """Stop a pod being deleted, within ``grace_seconds``; the loop then deletes it with grace 0."""
        ...

    def forget(self, key: PodKey) -> None:
        """The pod is gone from the API: drop whatever the runtime keeps for it."""
        ...

    def state(self) -> dict[str, Any]:
        """Extra fields for the kubelet's control-API state (``GET /_sandbox/kubelet/``)."""
        ...
