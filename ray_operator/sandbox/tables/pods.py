"""The pod printer: kubectl's READY, STATUS and RESTARTS logic, with the ``-o wide`` columns.

STATUS is the one column users read most and the hardest to get right: it follows kubectl's
``printPod`` (init-container progress ``Init:1/2``, waiting and terminated reasons, sidecar
containers, ``NotReady``, ``Terminating``, ``SchedulingGated``...), and RESTARTS adds how long ago
the last restart was. Rows of finished pods carry upstream's ``Completed`` row condition.
Decided against: a simplified STATUS (``phase`` alone), which hides exactly the states operators debug.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ray_operator.sandbox.tables.columns import (
    Cells,
    Obj,
    age,
    age_column,
    as_int,
    as_list,
    define_column,
    human_duration,
    metadata_of,
    named,
    parse_time,
    path_get,
)

POD_COLUMNS = named(
    define_column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    define_column("Status", description="The aggregate status of the containers in this pod."),
    define_column(
        "Restarts",
        description="The number of times the containers in this pod have been restarted "
        "and when the last container in this pod has restarted.",
    ),
    age_column(),
    define_column("IP", description="IP address allocated to the pod.", priority=1),
    define_column("Node", description="The node the pod is scheduled on.", priority=1),
    define_column("Nominated Node", description="The node the scheduler nominated for the pod.", priority=1),
    define_column("Readiness Gates", description="Pod readiness gates that are true, of all.", priority=1),
)


def print_pod(pod: Obj, now: datetime) -> tuple[Cells, list[dict[str, Any]]]:
    spec = path_get(pod, "spec") or {}
    status = path_get(pod, "status") or {}
    containers = as_list(spec.get("containers"))
    init_specs = {c.get("name"): c for c in as_list(spec.get("initContainers")) if isinstance(c, Mapping)}
    total = len(containers) + sum(1 for c in init_specs.values() if c.get("restartPolicy") == "Always")
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    sidecar_last_restart: datetime | None = None
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    conditions = [c for c in as_list(status.get("conditions")) if isinstance(c, Mapping)]
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"

    def later(current: datetime | None, container: Mapping[str, Any]) -> datetime | None:
        finished = parse_time(path_get(container, "lastState", "terminated", "finishedAt"))
        if finished and (current is None or finished > current):
            return finished
        return current

    initializing = False
    init_statuses = [c for c in as_list(status.get("initContainerStatuses")) if isinstance(c, Mapping)]
    for index, cs in enumerate(init_statuses):
        restarts += as_int(cs.get("restartCount"))
        last_restart = later(last_restart, cs)
        sidecar = path_get(init_specs.get(cs.get("name")), "restartPolicy") == "Always"
        if sidecar:
            sidecar_restarts += as_int(cs.get("restartCount"))
            sidecar_last_restart = later(sidecar_last_restart, cs)
        terminated = path_get(cs, "state", "terminated")
        waiting = path_get(cs, "state", "waiting")
        if isinstance(terminated, Mapping) and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started") is True:
            ready += 1 if cs.get("ready") else 0
            continue
        if isinstance(terminated, Mapping):
            if terminated.get("reason"):
                reason = f"Init:{terminated['reason']}"
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif isinstance(waiting, Mapping) and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts = sidecar_restarts
        last_restart = sidecar_last_restart
        has_running = False
        for cs in reversed([c for c in as_list(status.get("containerStatuses")) if isinstance(c, Mapping)]):
            restarts += as_int(cs.get("restartCount"))
            last_restart = later(last_restart, cs)
            waiting = path_get(cs, "state", "waiting")
            terminated = path_get(cs, "state", "terminated")
            if isinstance(waiting, Mapping) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, Mapping) and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif isinstance(terminated, Mapping):
                reason = (
                    f"Signal:{terminated['signal']}"
                    if terminated.get("signal")
                    else f"ExitCode:{terminated.get('exitCode', 0)}"
                )
            elif cs.get("ready") and isinstance(path_get(cs, "state", "running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    deleting = metadata_of(pod).get("deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"

    pod_ips = [p.get("ip") for p in as_list(status.get("podIPs")) if isinstance(p, Mapping)]
    ip = pod_ips[0] if pod_ips and pod_ips[0] else status.get("podIP") or "<none>"
    gates = as_list(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        by_type = {c.get("type"): c.get("status") for c in conditions}
        true_count = sum(1 for g in gates if isinstance(g, Mapping) and by_type.get(g.get("conditionType")) == "True")
        gates_text = f"{true_count}/{len(gates)}"
    cells: Cells = [
        metadata_of(pod).get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_text,
        age(metadata_of(pod).get("creationTimestamp"), now),
        ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]
    row_conditions: list[dict[str, Any]] = []
    if phase == "Succeeded":
        row_conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    elif phase == "Failed":
        row_conditions = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return cells, row_conditions
