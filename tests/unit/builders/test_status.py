"""Status computation and the write decision (reference §1.5, §1.6, §2.19)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders.status import ReconcileError, compute_status, status_changed
from tests.unit.builders.helpers import cluster, worker

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)
STAMP0, STAMP1, STAMP2 = "2026-01-01T12:00:00Z", "2026-01-01T12:01:00Z", "2026-01-01T12:02:00Z"


def pod(
    name: str,
    node_type: str = "worker",
    *,
    phase: str = "Running",
    ready: bool | None = True,
    ip: str = "10.1.0.5",
    ready_reason: str | None = None,
    containers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "podIP": ip}
    if ready is not None:
        condition: dict[str, Any] = {"type": "Ready", "status": "True" if ready else "False"}
        if ready_reason:
            condition["reason"] = ready_reason
        status["conditions"] = [condition]
    if containers is not None:
        status["containerStatuses"] = containers
    labels = {"ray.io/cluster": "demo", "ray.io/node-type": node_type}
    return {"metadata": {"name": name, "labels": labels}, "status": status}


HEAD = pod("demo-head-x", "head", ip="10.1.0.1")
WORKER = pod("demo-small-worker-a")
SERVICE = {
    "metadata": {"name": "demo-head-svc"},
    "spec": {
        "clusterIP": "None",
        "ports": [
            {"name": "dashboard", "port": 8265, "targetPort": 8265},
            {"name": "client", "port": 10001, "targetPort": "client"},
            {"name": "gcs-server", "port": 6379, "nodePort": 31000, "targetPort": 6379},
            {"port": 1234, "targetPort": 1234},
        ],
    },
}


def compute(
    built: RayCluster,
    pods: list[dict[str, Any]],
    *,
    now: datetime = T0,
    service: dict[str, Any] | None = SERVICE,
    error: ReconcileError | None = None,
) -> dict[str, Any]:
    return compute_status(cluster=built, pods=pods, head_service=service, now=now, reconcile_error=error)


def after(built: RayCluster, status: dict[str, Any], edit: Any = None) -> RayCluster:
    """The cluster as stored after ``status`` was written (optionally with a spec edit)."""
    raw = built.to_dict()
    raw["status"] = status
    if edit is not None:
        edit(raw)
    return RayCluster.model_validate(raw)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(cond for cond in status["conditions"] if cond["type"] == kind)


# --- counters, resources, endpoints, head ---------------------------------------------------------------


def test_worker_counters() -> None:
    status = compute(
        cluster(lambda raw: worker(raw).update(replicas=3)),
        [
            HEAD,
            WORKER,
            pod("w2", ready=False),
            pod("w3", phase="Pending", ready=None),
        ],
    )
    assert (status["readyWorkerReplicas"], status["availableWorkerReplicas"]) == (1, 2)
    assert (status["desiredWorkerReplicas"], status["minWorkerReplicas"], status["maxWorkerReplicas"]) == (3, 0, 5)


def test_pods_of_other_clusters_and_cleanup_pods_are_ignored() -> None:
    other = pod("x")
    other["metadata"]["labels"]["ray.io/cluster"] = "other"
    cleanup = pod("c", "redis-cleanup")
    status = compute(cluster(), [HEAD, WORKER, other, cleanup])
    assert status["availableWorkerReplicas"] == 1
    assert status["state"] == "ready"


def test_desired_resources_sum_head_and_desired_workers() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker(raw).update(replicas=0, minReplicas=2)  # clamped to 2 workers
        container = worker(raw)["template"]["spec"]["containers"][0]
        container["resources"] = {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "2", "google.com/tpu": "4"},
        }

    status = compute(cluster(edit), [])
    # head: 1 CPU / 2Gi (limits); workers: requests win (500m, 1Gi), x2.
    assert (status["desiredCPU"], status["desiredMemory"], status["desiredGPU"], status["desiredTPU"]) == (
        "2",
        "4Gi",
        "4",
        "8",
    )


def test_desired_resources_without_gpus_are_zero_and_skip_suspended_groups() -> None:
    status = compute(cluster(lambda raw: worker(raw).update(suspend=True)), [])
    assert (status["desiredCPU"], status["desiredMemory"], status["desiredGPU"], status["desiredTPU"]) == (
        "1",
        "2Gi",
        "0",
        "0",
    )


def test_endpoints_prefer_node_port_then_target_port_and_skip_unnamed_ports() -> None:
    assert compute(cluster(), [HEAD])["endpoints"] == {"dashboard": "8265", "client": "client", "gcs-server": "31000"}
    assert "endpoints" not in compute(cluster(), [HEAD], service=None)


def _addresses(head: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in head.items() if key not in ("revision", "targetRevision")}


def test_headless_service_ip_is_the_head_pod_ip() -> None:
    assert _addresses(compute(cluster(), [HEAD])["head"]) == {
        "podName": "demo-head-x",
        "podIP": "10.1.0.1",
        "serviceName": "demo-head-svc",
        "serviceIP": "10.1.0.1",
    }
    with_ip = {**SERVICE, "spec": {**SERVICE["spec"], "clusterIP": "10.96.0.7"}}
    assert _addresses(compute(cluster(), [], service=with_ip)["head"]) == {
        "serviceName": "demo-head-svc",
        "serviceIP": "10.96.0.7",
    }
    assert _addresses(compute(cluster(), [], service=None)["head"]) == {}


def test_observed_generation_and_last_update_time() -> None:
    status = compute(cluster(lambda raw: raw["metadata"].update(generation=7)), [], now=T1)
    assert (status["observedGeneration"], status["lastUpdateTime"]) == (7, STAMP1)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        compute(cluster(), [], now=datetime(2026, 1, 1))


# --- conditions -----------------------------------------------------------------------------------------


def test_head_pod_ready_reasons() -> None:
    assert condition(compute(cluster(), []), "HeadPodReady") == {
        "type": "HeadPodReady",
        "status": "False",
        "reason": "HeadPodNotFound",
        "message": "Head Pod not found",
        "lastTransitionTime": STAMP0,
        "observedGeneration": 1,
    }
    ready = condition(compute(cluster(), [HEAD]), "HeadPodReady")
    assert (ready["status"], ready["reason"]) == ("True", "HeadPodRunningAndReady")
    unknown = condition(compute(cluster(), [pod("h", "head", ready=None)]), "HeadPodReady")
    assert (unknown["status"], unknown["reason"]) == ("False", "Unknown")


def test_containers_not_ready_is_replaced_by_the_containers_own_reason() -> None:
    crashing = pod(
        "h",
        "head",
        ready=False,
        ready_reason="ContainersNotReady",
        containers=[
            {"name": "ray-head", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}
        ],
    )
    crashing["status"]["conditions"][0]["message"] = "containers with unready status: [ray-head]"
    cond = condition(compute(cluster(), [crashing]), "HeadPodReady")
    assert (cond["reason"], cond["message"]) == (
        "CrashLoopBackOff",
        "containers with unready status: [ray-head]; ray-head: back-off 5m0s",
    )


def test_multiple_head_pods() -> None:
    status = compute(cluster(), [HEAD, pod("demo-head-y", "head")])
    cond = condition(status, "HeadPodReady")
    assert (cond["status"], cond["reason"]) == ("False", "MultipleHeadPods")
    assert "podName" not in status["head"]


def test_last_transition_time_is_kept_while_the_status_does_not_change() -> None:
    built = cluster()
    first = compute(built, [HEAD, WORKER], now=T0)
    second = compute(after(built, first), [HEAD, WORKER], now=T1)
    assert condition(second, "HeadPodReady")["lastTransitionTime"] == STAMP0
    third = compute(after(built, second), [WORKER], now=T2)
    assert condition(third, "HeadPodReady")["lastTransitionTime"] == STAMP2


def test_provisioned_becomes_true_once_and_never_flips_back() -> None:
    built = cluster()
    first = compute(built, [HEAD, pod("w", ready=False)])
    cond = condition(first, "RayClusterProvisioned")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "RayClusterPodsProvisioning",
        "RayCluster Pods are being provisioned for first time",
    )
    second = compute(after(built, first), [HEAD, WORKER], now=T1)
    cond = condition(second, "RayClusterProvisioned")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True",
        "AllPodRunningAndReadyFirstTime",
        "All Ray Pods are ready for the first time",
    )
    third = compute(after(built, second), [], now=T2)
    assert condition(third, "RayClusterProvisioned")["status"] == "True"


def test_replica_failure_is_set_by_a_marked_error_kept_by_an_unmarked_one_and_removed_on_success() -> None:
    built = cluster()
    failed = compute(
        built, [HEAD], error=ReconcileError(reason=c.ConditionReason.FAILED_CREATE_WORKER_POD, message="quota")
    )
    cond = condition(failed, "ReplicaFailure")
    assert (cond["status"], cond["reason"], cond["message"]) == ("True", "FailedCreateWorkerPod", "quota")
    unmarked = compute(after(built, failed), [HEAD], error=ReconcileError(message="conflict"))
    assert condition(unmarked, "ReplicaFailure")["reason"] == "FailedCreateWorkerPod"
    ok = compute(after(built, unmarked), [HEAD])
    assert all(cond["type"] != "ReplicaFailure" for cond in ok["conditions"])


def suspend(value: bool | None) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        if value is None:
            raw["spec"].pop("suspend", None)
        else:
            raw["spec"]["suspend"] = value

    return edit


def test_suspend_sequence() -> None:
    built = cluster()
    running = compute(built, [HEAD, WORKER], now=T0)
    assert condition(running, "RayClusterSuspending")["status"] == "False"
    assert condition(running, "RayClusterSuspended")["status"] == "False"

    asked = after(built, running, suspend(True))
    suspending = compute(asked, [HEAD, WORKER], now=T1)
    assert condition(suspending, "RayClusterSuspending")["status"] == "True"
    assert suspending["state"] == "ready"  # pods are still there

    # Flipping suspend back does not stop a suspension under way (atomic suspend).
    flipped = after(asked, suspending, suspend(False))
    still = compute(flipped, [WORKER], now=T1)
    assert condition(still, "RayClusterSuspending")["status"] == "True"

    done = compute(after(asked, suspending), [], now=T2)
    assert condition(done, "RayClusterSuspending")["status"] == "False"
    assert condition(done, "RayClusterSuspended")["status"] == "True"
    provisioned = condition(done, "RayClusterProvisioned")
    assert (provisioned["status"], provisioned["message"]) == ("False", "RayCluster has been suspended")
    assert done["state"] == "suspended"
    assert done["stateTransitionTimes"]["suspended"] == STAMP2

    stays = compute(after(asked, done), [], now=T2)
    assert condition(stays, "RayClusterSuspended")["status"] == "True"
    assert condition(stays, "RayClusterProvisioned")["status"] == "False"


@pytest.mark.parametrize("resume", [False, None])
def test_resuming_by_false_or_by_removing_the_field(resume: bool | None) -> None:
    built = cluster(suspend(True))
    done = compute(after(built, compute(built, [], now=T0)), [], now=T1)
    assert done["state"] == "suspended"
    resumed = compute(after(built, done, suspend(resume)), [], now=T2)
    assert condition(resumed, "RayClusterSuspended")["status"] == "False"
    assert "state" not in resumed


# --- state ----------------------------------------------------------------------------------------------


def test_state_becomes_ready_when_all_desired_pods_run_and_are_ready() -> None:
    built = cluster()
    status = compute(built, [HEAD, WORKER])
    assert status["state"] == "ready" and "reason" not in status
    assert status["stateTransitionTimes"] == {"ready": STAMP0}
    assert "state" not in compute(built, [HEAD])  # a worker is missing
    assert "state" not in compute(built, [HEAD, pod("w", ready=False)])
    assert "state" not in compute(built, [HEAD, WORKER], error=ReconcileError(message="boom"))


def test_multi_host_desired_count_lets_the_state_become_ready() -> None:
    built = cluster(lambda raw: worker(raw).update(numOfHosts=2))
    assert compute(built, [HEAD, WORKER, pod("w2")])["state"] == "ready"


def test_state_stays_ready_through_worker_churn() -> None:
    built = cluster()
    ready = compute(built, [HEAD, WORKER], now=T0)
    scaled = after(built, ready, lambda raw: raw["spec"]["workerGroupSpecs"][0].update(replicas=3))
    status = compute(scaled, [HEAD, WORKER, pod("w2", phase="Pending", ready=None)], now=T1)
    assert status["state"] == "ready"
    assert status["stateTransitionTimes"] == {"ready": STAMP0}


def test_state_leaves_ready_when_the_head_is_not_ready_and_comes_back() -> None:
    built = cluster()
    ready = compute(built, [HEAD, WORKER], now=T0)
    crashed = compute(after(built, ready), [pod("demo-head-x", "head", ready=False), WORKER], now=T1)
    assert "state" not in crashed
    assert crashed["reason"] == "Unknown"  # the pod's Ready condition gives no reason
    gone = compute(after(built, crashed), [WORKER], now=T1)
    assert gone["reason"] == "HeadPodNotFound"
    back = compute(after(built, gone), [pod("demo-head-z", "head"), pod("w", ready=False)], now=T2)
    assert back["state"] == "ready" and "reason" not in back
    assert back["stateTransitionTimes"]["ready"] == STAMP2


def test_head_not_ready_before_first_provisioning_gives_no_reason() -> None:
    assert "reason" not in compute(cluster(), [pod("h", "head", ready=False)])


# --- status_changed (§2.19) ------------------------------------------------------------------------------


def steady() -> tuple[RayCluster, dict[str, Any]]:
    built = cluster()
    first = compute(built, [HEAD, WORKER], now=T0)
    return after(built, first), first


def test_only_last_update_time_changed_is_no_write() -> None:
    stored, first = steady()
    second = compute(stored, [HEAD, WORKER], now=T1)
    assert second["lastUpdateTime"] != first["lastUpdateTime"]
    assert not status_changed(first, second)


def test_desired_resources_or_transition_times_alone_are_no_write() -> None:
    _, first = steady()
    assert not status_changed(first, {**first, "desiredCPU": "99", "stateTransitionTimes": {"ready": STAMP2}})


def test_generation_change_is_written() -> None:
    stored, first = steady()
    bumped = after(stored, first, lambda raw: raw["metadata"].update(generation=2))
    assert status_changed(first, compute(bumped, [HEAD, WORKER], now=T1))


@pytest.mark.parametrize(
    "change",
    [
        {"readyWorkerReplicas": 0},
        {"state": None},
        {"reason": "X"},
        {"endpoints": {"dashboard": "1"}},
        {"head": {"podName": "other"}},
    ],
)
def test_watched_fields_are_written(change: dict[str, Any]) -> None:
    _, first = steady()
    assert status_changed(first, {**first, **change})


def test_condition_change_is_written() -> None:
    stored, first = steady()
    assert status_changed(first, compute(stored, [HEAD], now=T1))


def test_missing_counters_equal_zero_and_no_old_status_is_a_change() -> None:
    new = {"readyWorkerReplicas": 0, "availableWorkerReplicas": 0, "head": {}, "conditions": []}
    assert not status_changed({}, new)
    _, first = steady()
    assert status_changed(None, first)
