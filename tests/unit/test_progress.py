"""The progress view's pure parts: what a person reads about each RayCluster."""

from __future__ import annotations

from typing import Any

from ray_operator.progress import ClusterView, GroupView, render, render_plain, summarize

GROUP = {"rayStartParams": {}, "template": {"spec": {"containers": [{"name": "ray-worker", "image": "ray"}]}}}


def cluster(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {
            "headGroupSpec": {},
            "workerGroupSpecs": [
                {"groupName": "small", "replicas": 5, "minReplicas": 1, "maxReplicas": 3, **GROUP},
                {"groupName": "gpu", "minReplicas": 1, "maxReplicas": 2, **GROUP},
            ],
        },
        "status": status,
    }


def pod(
    name: str, group: str, *, ready: bool, head: bool = False, ip: str = "", deleting: bool = False
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {"ray.io/cluster": "demo", "ray.io/group": group, "ray.io/node-type": "head" if head else "worker"},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": meta, "status": {"phase": "Running", "podIP": ip, "conditions": conditions}}


def event(reason: str, message: str, when: str, name: str = "demo") -> dict[str, Any]:
    return {
        "involvedObject": {"kind": "RayCluster", "name": name},
        "reason": reason,
        "message": message,
        "lastTimestamp": when,
    }


def test_summary_counts_ready_workers_per_group_against_the_clamped_desired_count() -> None:
    pods = [
        pod("h", "headgroup", ready=True, head=True, ip="10.0.0.5"),
        pod("s1", "small", ready=True),
        pod("s2", "small", ready=False),
        pod("s3", "small", ready=True, deleting=True),
        pod("g1", "gpu", ready=True),
    ]
    events = [
        event("CreatedWorkerPod", "Created worker Pod default/s2", "2026-01-01T00:00:02Z"),
        event("CreatedHeadPod", "Created head Pod default/h", "2026-01-01T00:00:01Z"),
        event("Unrelated", "about another cluster", "2026-01-01T00:00:09Z", name="other"),
    ]
    view = summarize(cluster(), pods, events)
    assert view == ClusterView(
        namespace="default",
        name="demo",
        state="pending",
        head_ready=True,
        head_ip="10.0.0.5",
        groups=(GroupView("small", 3, 1), GroupView("gpu", 1, 1)),
        last_event="CreatedWorkerPod: Created worker Pod default/s2",
    )
    assert summarize(cluster(state="ready", head={"podIP": "10.0.0.9"}), pods, []).head_ip == "10.0.0.9"


def test_a_suspended_cluster_wants_no_workers() -> None:
    body = cluster(state="suspended")
    body["spec"]["suspend"] = True
    assert [g.desired for g in summarize(body, [], []).groups] == [0, 0]


def test_render_lays_out_state_workers_head_and_last_event() -> None:
    view = ClusterView("default", "demo", "ready", True, "10.0.0.5", (GroupView("small", 2, 2),), "Created: ok")
    assert render([view]) == [
        "RayClusters (1):",
        "  default/demo  ready  head ready 10.0.0.5  workers: small 2/2",
        "    last event: Created: ok",
    ]
    assert render([]) == ["RayClusters: none yet"]
    assert render([view], width=30)[1] == "  default/demo  ready  head r…"
    assert render_plain(view) == (
        "raycluster default/demo state=ready head=ready head_ip=10.0.0.5 workers=small2/2 last_event='Created: ok'"
    )
