"""What the pod cache keeps (``controller.kinds.slim_pod``): everything the reconciler reads, little else.

The reconciler's pod decisions read labels, annotations, owners, deletion and creation times, the
status, container names and the restart policy. A slimmed pod must give the same answers as the full
one, and be several times smaller, because thousands of pods sit in the cache.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from ray_operator.builders.health import should_delete_pod
from ray_operator.controller.kinds import CHILD_KINDS, slim_pod

GOLDEN = Path(__file__).resolve().parents[1] / "unit" / "builders" / "golden"


def running_worker() -> dict[str, Any]:
    """A golden worker pod as the API server would return it once the kubelet ran it."""
    pod: dict[str, Any] = yaml.safe_load((GOLDEN / "complete.worker-pod.yaml").read_text())
    meta = pod["metadata"]
    meta.update(
        name="raycluster-complete-small-group-worker-abcde",
        uid="11111111-0000-4000-8000-000000000000",
        resourceVersion="42",
        creationTimestamp="2026-01-01T00:00:00Z",
        managedFields=[{"manager": "ray-operator", "operation": "Update", "fieldsV1": {"f:metadata": {}}}],
    )
    pod["spec"]["nodeName"] = "sandbox-node"
    pod["spec"].setdefault("restartPolicy", "Always")  # the API server defaults it
    pod["status"] = {
        "phase": "Running",
        "podIP": "10.244.0.7",
        "podIPs": [{"ip": "10.244.0.7"}],
        "qosClass": "Guaranteed",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {
                "name": c["name"],
                "ready": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}},
                "image": c["image"],
                "imageID": f"{c['image']}@sha256:0123",
                "containerID": "containerd://4567",
            }
            for c in pod["spec"]["containers"]
        ],
    }
    return pod


def test_slim_pod_keeps_what_the_reconciler_reads() -> None:
    pod = running_worker()
    slim = slim_pod(copy.deepcopy(pod))
    meta = {k: v for k, v in pod["metadata"].items() if k != "managedFields"}
    assert slim["metadata"] == meta
    assert "managedFields" not in slim["metadata"]
    status = pod["status"]
    assert slim["status"]["phase"] == status["phase"] and slim["status"]["podIP"] == status["podIP"]
    assert slim["status"]["conditions"] == status["conditions"]
    # Running containers: their names only (a running state's start time is read by nothing).
    assert slim["status"]["containerStatuses"] == [{"name": c["name"]} for c in status["containerStatuses"]]
    assert slim["spec"] == {
        "restartPolicy": pod["spec"]["restartPolicy"],
        "containers": [{"name": c["name"], "image": c["image"]} for c in pod["spec"]["containers"]],
    }  # no placement, no init containers: nothing reads them


def test_slim_pod_keeps_why_a_container_waits_or_terminated() -> None:
    pod = running_worker()
    name = pod["spec"]["containers"][0]["name"]
    pod["status"]["containerStatuses"][0].update(
        state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting"}},
        lastState={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "t0", "finishedAt": "t1"}},
    )
    pod["status"]["initContainerStatuses"] = [{"name": "wait-gcs-ready", "state": {"terminated": {"exitCode": 0}}}]
    slim = slim_pod(copy.deepcopy(pod))
    assert slim["status"]["containerStatuses"][0] == {
        "name": name,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting"}},
    }
    assert "initContainerStatuses" not in slim["status"]
    pod["status"]["containerStatuses"][0]["state"] = {
        "terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled", "finishedAt": "t2", "containerID": "x"}
    }
    assert slim_pod(copy.deepcopy(pod))["status"]["containerStatuses"][0]["state"] == {
        "terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled"}
    }


def test_slim_pod_gives_the_same_health_decision() -> None:
    pod = running_worker()
    for state in ({"running": {}}, {"terminated": {"exitCode": 1, "reason": "Error"}}):
        pod["status"]["containerStatuses"][0]["state"] = state
        for policy in ("Always", "Never", "OnFailure"):
            pod["spec"]["restartPolicy"] = policy
            assert should_delete_pod(slim_pod(copy.deepcopy(pod))) == should_delete_pod(pod), (state, policy)


def test_slim_pod_is_several_times_smaller() -> None:
    pod = running_worker()
    full = len(json.dumps(pod))
    slim = len(json.dumps(slim_pod(copy.deepcopy(pod))))
    assert slim * 2 < full, (slim, full)


def test_only_the_pod_cache_is_slimmed() -> None:
    transforms = {kind.name: kind.transform for kind in CHILD_KINDS}
    assert transforms["pods"] is slim_pod
    # A Service's spec is read back (ports, type, clusterIP) for drift repair and status.
    assert transforms["services"] is not slim_pod


def test_slim_pod_keeps_ready_and_the_conditions_that_say_why_a_pod_is_stuck() -> None:
    pod = running_worker()
    pod["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized"},
        {
            "type": "Ready",
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unready status",
        },
    ]
    kept = slim_pod(copy.deepcopy(pod))["status"]["conditions"]
    assert kept == [
        {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized"},
        {
            "type": "Ready",
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unready status",
        },
    ]


def test_compact_keeps_the_whole_object_but_managed_fields_and_shares_repeated_strings() -> None:
    from ray_operator.controller.kinds import compact

    cluster: dict[str, Any] = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "samples" / "ray_v1_raycluster.complete.yaml").read_text()
    )
    cluster["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Update"}]
    wanted = copy.deepcopy(cluster)
    del wanted["metadata"]["managedFields"]
    first, second = compact(json.loads(json.dumps(cluster))), compact(json.loads(json.dumps(cluster)))
    assert first == wanted
    # Two clusters parsed apart share their strings once compacted: keys and values alike.
    first_spec, second_spec = first["spec"]["headGroupSpec"], second["spec"]["headGroupSpec"]
    assert next(k for k in first_spec if k == "template") is next(k for k in second_spec if k == "template")
    first_image = first_spec["template"]["spec"]["containers"][0]["image"]
    assert first_image is second_spec["template"]["spec"]["containers"][0]["image"]


def test_every_other_kind_is_cached_compact() -> None:
    from ray_operator.controller.kinds import compact

    assert {kind.name for kind in CHILD_KINDS if kind.transform is compact} == {
        kind.name for kind in CHILD_KINDS if kind.name != "pods"
    }
