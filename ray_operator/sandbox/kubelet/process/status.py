"""A pod's ``status`` from what its processes are doing: the kubelet's rules for phase and conditions.

Pure: it reads ``ContainerView`` records (state, lastState, restarts, readiness, as the runtime tracks
them) and the pod's spec. Phase: ``Pending`` until the init containers have finished and a container
has started; ``Running`` while any container runs or will be restarted; ``Succeeded`` when all have
exited 0 and none will restart, ``Failed`` when all have exited and one failed (or an init container
failed under ``restartPolicy: Never``). Conditions: PodReadyToStartContainers (the pod's namespace
exists), Initialized, ContainersReady and Ready (every container ready), PodScheduled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ray_operator.sandbox.kubelet.fake import _by_type, _condition, container_id


@dataclass
class ContainerView:
    name: str
    image: str
    init: bool
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    ready: bool = False
    started: bool = False
    will_restart: bool = True
    """False once the container has exited for good (restartPolicy says no more runs)."""

    def as_status(self, uid: str) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "state": self.state,
            "lastState": self.last_state,
            "ready": self.ready,
            "restartCount": self.restarts,
            "started": self.started,
        }
        if "waiting" not in self.state or self.restarts:
            status["containerID"] = container_id(uid, f"{self.name}/{self.restarts}")
        return status


def _running(view: ContainerView) -> bool:
    return "running" in view.state


def _exited(view: ContainerView) -> bool:
    return "terminated" in view.state and not view.will_restart


def _succeeded(view: ContainerView) -> bool:
    return _exited(view) and view.state["terminated"].get("exitCode") == 0


def phase(inits: Sequence[ContainerView], containers: Sequence[ContainerView], *, init_failed: bool) -> str:
    if init_failed:
        return "Failed"
    if not all(_succeeded(v) for v in inits):
        return "Pending"
    if containers and all(_exited(v) for v in containers):
        return "Succeeded" if all(_succeeded(v) for v in containers) else "Failed"
    if any(_running(v) or v.restarts > 0 or "terminated" in v.state for v in containers):
        return "Running"
    return "Pending"


def pod_status(
    pod: Mapping[str, Any],
    *,
    pod_ip: str,
    host_ip: str,
    now: str,
    sandbox_ready: bool,
    inits: Sequence[ContainerView],
    containers: Sequence[ContainerView],
    init_failed: bool,
    message: str = "",
) -> dict[str, Any]:
    meta: dict[str, Any] = pod["metadata"] if isinstance(pod.get("metadata"), dict) else {}
    current: dict[str, Any] = pod["status"] if isinstance(pod.get("status"), dict) else {}
    uid = str(meta.get("uid") or meta.get("name"))
    previous = _by_type(current.get("conditions"))
    initialized = all(_succeeded(v) for v in inits)
    ready = bool(containers) and all(v.ready for v in containers)
    unready = " ".join(v.name for v in containers if not v.ready)
    pending_inits = " ".join(v.name for v in inits if not _exited(v))
    reason, text = ("", "") if ready else ("ContainersNotReady", f"containers with unready status: [{unready}]")
    the_phase = phase(inits, containers, init_failed=init_failed)
    if the_phase in ("Succeeded", "Failed"):
        reason, text = "PodCompleted" if the_phase == "Succeeded" else "PodFailed", ""
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready, now, previous),
        _condition(
            "Initialized",
            initialized,
            now,
            previous,
            "" if initialized else "ContainersNotInitialized",
            "" if initialized else f"containers with incomplete status: [{pending_inits}]",
        ),
        _condition("Ready", ready, now, previous, reason, text),
        _condition("ContainersReady", ready, now, previous, reason, text),
        _condition("PodScheduled", True, now, previous),
    ]
    status: dict[str, Any] = {
        "phase": the_phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": current.get("startTime") if isinstance(current.get("startTime"), str) else now,
        "containerStatuses": [v.as_status(uid) for v in containers],
    }
    if inits:
        status["initContainerStatuses"] = [v.as_status(uid) for v in inits]
    if message:
        status["message"] = message
    if isinstance(current.get("qosClass"), str):
        status["qosClass"] = current["qosClass"]
    return status
