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
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {"name": c["name"], "ready": True, "restartCount": 0, "state": {"running": {}}}
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
    assert slim["status"] == pod["status"]
    assert slim["spec"]["restartPolicy"] == pod["spec"]["restartPolicy"]
    assert slim["spec"]["nodeName"] == "sandbox-node"
    assert [c["name"] for c in slim["spec"]["containers"]] == [c["name"] for c in pod["spec"]["containers"]]
    assert [c["image"] for c in slim["spec"]["containers"]] == [c["image"] for c in pod["spec"]["containers"]]
    assert [c["name"] for c in slim["spec"].get("initContainers", [])] == [
        c["name"] for c in pod["spec"].get("initContainers", [])
    ]


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
