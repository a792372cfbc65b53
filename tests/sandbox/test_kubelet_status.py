"""The fake kubelet's pure status computation: what a pod reports in each mode, and stability of re-syncs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ray_operator.sandbox.kubelet.agent import allocate_ip, merge_patch_for
from ray_operator.sandbox.kubelet.fake import desired_status, image_id, qualified_image

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:05:00Z"


def pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "head", "namespace": "default", "uid": "u-1"},
        "spec": {
            "nodeName": "sandbox-node",
            "initContainers": [{"name": "wait-gcs", "image": "busybox"}],
            "containers": [
                {"name": "ray-head", "image": "rayproject/ray:2.41.0"},
                {"name": "autoscaler", "image": "quay.io/x/autoscaler@sha256:abc"},
            ],
        },
        "status": {"phase": "Pending", "qosClass": "Burstable", **status},
    }


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_running_pod_reports_what_a_kubelet_reports() -> None:
    status = desired_status(pod(), mode="running", pod_ip="10.244.0.2", host_ip="172.18.0.2", now=T0)
    assert status["phase"] == "Running"
    assert (status["podIP"], status["podIPs"], status["hostIP"]) == ("10.244.0.2", [{"ip": "10.244.0.2"}], "172.18.0.2")
    assert status["startTime"] == T0 and status["qosClass"] == "Burstable"
    conds = conditions(status)
    assert set(conds) == {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}
    assert all(c["status"] == "True" and c["lastTransitionTime"] == T0 for c in conds.values())
    head, sidecar = status["containerStatuses"]
    assert head["name"] == "ray-head" and head["ready"] is True and head["started"] is True
    assert head["state"] == {"running": {"startedAt": T0}} and head["restartCount"] == 0
    assert head["image"] == "docker.io/rayproject/ray:2.41.0"
    assert head["imageID"].startswith("docker.io/rayproject/ray@sha256:")
    assert head["containerID"].startswith("containerd://") and head["containerID"] != sidecar["containerID"]
    assert sidecar["image"] == "quay.io/x/autoscaler@sha256:abc"
    [init] = status["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed" and init["state"]["terminated"]["exitCode"] == 0
    assert init["ready"] is True


def test_resync_keeps_timestamps_so_a_steady_pod_needs_no_write() -> None:
    first = desired_status(pod(), mode="running", pod_ip="10.244.0.2", host_ip="h", now=T0)
    again = desired_status(pod(**first), mode="running", pod_ip="10.244.0.2", host_ip="h", now=T1)
    assert again == first
    assert merge_patch_for(first, again) == {}


def test_unready_pod_keeps_running_but_flips_ready_conditions() -> None:
    running = desired_status(pod(), mode="running", pod_ip="10.244.0.2", host_ip="h", now=T0)
    status = desired_status(pod(**running), mode="unready", pod_ip="10.244.0.2", host_ip="h", now=T1)
    conds = conditions(status)
    assert status["phase"] == "Running"
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["lastTransitionTime"] == T1
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [ray-head autoscaler]"
    assert conds["PodScheduled"]["lastTransitionTime"] == T0
    assert [c["ready"] for c in status["containerStatuses"]] == [False, False]
    assert status["containerStatuses"][0]["state"] == {"running": {"startedAt": T0}}


def test_failed_pod_terminates_its_containers() -> None:
    running = desired_status(pod(), mode="running", pod_ip="10.244.0.2", host_ip="h", now=T0)
    status = desired_status(pod(**running), mode="failed", pod_ip="10.244.0.2", host_ip="h", now=T1, reason="OOMKilled")
    assert status["phase"] == "Failed"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 1 and terminated["reason"] == "OOMKilled"
    assert (terminated["startedAt"], terminated["finishedAt"]) == (T0, T1)
    assert conditions(status)["Ready"]["status"] == "False"


def test_creating_pod_is_pending_with_waiting_containers() -> None:
    status = desired_status(pod(), mode="creating", pod_ip="10.244.0.2", host_ip="h", now=T0)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        desired_status(pod(), mode="sleeping", pod_ip="x", host_ip="h", now=T0)


def test_merge_patch_names_removed_keys() -> None:
    assert merge_patch_for({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {"b": None, "c": 3}


def test_ip_allocation_skips_used_and_reserved_addresses() -> None:
    assert allocate_ip(set()) == "10.244.0.2"
    assert allocate_ip({"10.244.0.2", "10.244.0.3"}) == "10.244.0.4"


@pytest.mark.parametrize(
    ("image", "qualified"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("rayproject/ray", "docker.io/rayproject/ray:latest"),
        ("localhost:5000/ray:1", "localhost:5000/ray:1"),
        ("ghcr.io/a/b:2", "ghcr.io/a/b:2"),
    ],
)
def test_images_are_reported_fully_qualified(image: str, qualified: str) -> None:
    assert qualified_image(image) == qualified
    assert image_id(image).split("@sha256:")[0] == qualified.rsplit(":", 1)[0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "ray-head", "busybox", "Always"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "image",
                    "containers",
                    "initContainers",
                    "restartPolicy",
                    "state",
                    "running",
                    "startedAt",
                    "conditions",
                    "type",
                    "status",
                    "startTime",
                    "containerStatuses",
                    "uid",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    spec=json_values,
    status=json_values,
    meta=json_values,
    mode=st.sampled_from(["running", "unready", "failed", "creating"]),
)
def test_malformed_pods_still_get_a_well_formed_status(spec: Any, status: Any, meta: Any, mode: str) -> None:
    result = desired_status(
        {"metadata": meta, "spec": spec, "status": status}, mode=mode, pod_ip="10.244.0.2", host_ip="h", now=T0
    )
    assert result["podIP"] == "10.244.0.2" and isinstance(result["conditions"], list)
    assert all(isinstance(c["name"], str) for c in result["containerStatuses"])
