"""Whether a Ray pod is beyond repair and must be replaced (reference §2.12).

Why here: the decision reads only the pod, so it is a pure function the reconciler calls per pod,
and the same rule serves head and workers. KubeRay's rule, kept:

* phase ``Failed`` or ``Succeeded``: the pod will never run again — delete it (it is recreated later);
* phase ``Running`` with the Ray container (found by *name* in ``containerStatuses``, whose order is
  not the spec's) terminated and ``restartPolicy: Never``: nothing will restart it — delete it;
  with ``Always``/``OnFailure`` (or unset, which means Always) the kubelet restarts it — keep it;
* anything else: keep it. Restart counts are not considered (a crash-looping container is the
  kubelet's to back off, and deleting a head without GCS FT loses the cluster).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.api import constants as c

__all__ = ["PodVerdict", "should_delete_pod"]


@dataclass(frozen=True, kw_only=True)
class PodVerdict:
    delete: bool
    reason: str
    """Why, in words fit for a log line or an event."""


def _ray_container_terminated(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    if not containers:
        return None
    name = containers[c.RAY_CONTAINER_INDEX].get("name")
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        if isinstance(status, Mapping) and status.get("name") == name:
            terminated = (status.get("state") or {}).get("terminated")
            return terminated if isinstance(terminated, Mapping) else None
    return None


def should_delete_pod(pod: Mapping[str, Any]) -> PodVerdict:
    name = (pod.get("metadata") or {}).get("name")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Failed", "Succeeded"):
        return PodVerdict(delete=True, reason=f"Pod {name} is {phase}, a terminal phase; it will be replaced")
    terminated = _ray_container_terminated(pod)
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if phase == "Running" and terminated is not None:
        if policy == "Never":
            return PodVerdict(
                delete=True,
                reason=f"the Ray container of Pod {name} terminated ({terminated.get('reason') or 'no reason'}) "
                "and restartPolicy Never keeps it down; it will be replaced",
            )
        return PodVerdict(
            delete=False, reason=f"the Ray container of Pod {name} terminated; restartPolicy {policy} restarts it"
        )
    return PodVerdict(delete=False, reason=f"Pod {name} is {phase or 'not started'}; nothing to do")
