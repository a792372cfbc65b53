"""Every sample, applied with kubectl, converges: pods per group, their contents, the head Service, status, events.

The whole operator runs in ``--mode all`` against the emulator with the fake kubelet, so pods become
Running and Ready through the API exactly as on a cluster. What is checked here is what a user reads
with ``kubectl get`` and ``kubectl describe``; the builders' golden tests pin every field of the pods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ray_operator.sandbox.testing import Kubectl
from tests.integration.conftest import StackFactory
from tests.integration.rayclusters import SAMPLES, Api, by_group, fast_settings, sample, wait_until

pytestmark = pytest.mark.kubelet

CASES = [
    # sample file, cluster name, worker pods per group
    ("ray_v1_raycluster.mini.yaml", "raycluster-mini", {"workers": 1}),
    ("ray_v1_raycluster.heterogeneous.yaml", "raycluster-heterogeneous", {"small-group": 2, "large-group": 1}),
    ("ray_v1_raycluster.complete.yaml", "raycluster-complete", {"small-group": 1}),
    ("ray_v1_raycluster.autoscaler.yaml", "raycluster-autoscaler", {}),
    ("ray_v1_raycluster.gcs-ft-redis.yaml", "raycluster-external-redis", {"small-group": 1}),
    ("ray_v1_raycluster.rolling-update.yaml", "raycluster-rolling", {"workers": 4}),
]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize(("file", "name", "groups"), CASES, ids=[case[1] for case in CASES])
async def test_sample_converges(
    file: str,
    name: str,
    groups: dict[str, int],
    start_operator: StackFactory,
    kubeconfig_path: Path,
    kubectl: Kubectl,
    api_client: Any,
) -> None:
    await start_operator(settings=fast_settings(kubeconfig_path))
    applied = await kubectl("apply", "-f", str(SAMPLES / file))
    assert applied.returncode == 0, applied.stderr
    api = Api(api_client)
    workers = sum(groups.values())
    await wait_until(lambda: api.ready(name, workers=workers), what=f"{name} ready with {workers} workers")

    pods = await api.pods(name)
    grouped = by_group(pods)
    assert {group: len(members) for group, members in grouped.items() if group != "headgroup"} == groups
    (head,) = grouped["headgroup"]
    spec = sample(file)
    for pod in pods:
        labels = pod["metadata"]["labels"]
        # §2.2: the labels Ray's tooling and the autoscaler select by.
        assert labels["ray.io/cluster"] == name and labels["ray.io/is-ray-node"] == "yes"
        assert labels["app.kubernetes.io/created-by"] == "kuberay-operator"
        owner = pod["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("RayCluster", name, True)
        ray = pod["spec"]["containers"][0]
        # §2.3: the generated command; block is always forced.
        assert "ray start" in ray["args"][0] and "--block" in ray["args"][0]
        env = env_of(ray)
        assert env["RAY_CLUSTER_NAME"] == {
            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['ray.io/cluster']"}
        }
        assert "KUBERAY_GEN_RAY_START_CMD" in env
        # §2.8: probes injected when the user gave none.
        assert "readinessProbe" in ray and "livenessProbe" in ray
        # §2.10: /dev/shm from a memory-backed emptyDir.
        assert any(m["mountPath"] == "/dev/shm" for m in ray["volumeMounts"])
    assert "--head" in head["spec"]["containers"][0]["args"][0]
    for group, members in grouped.items():
        if group == "headgroup":
            continue
        worker = members[0]
        assert worker["metadata"]["labels"]["ray.io/node-type"] == "worker"
        # §2.9: workers wait for the GCS before starting Ray.
        assert [c["name"] for c in worker["spec"]["initContainers"]][-1] == "wait-gcs-ready"
        assert f"{name}-head-svc.default.svc.cluster.local:6379" in worker["spec"]["containers"][0]["args"][0]

    service = next(s for s in await api.services() if s["metadata"]["name"] == f"{name}-head-svc")
    assert service["spec"]["clusterIP"] == "None"  # §2.4: headless by default
    port_names = {p["name"] for p in service["spec"]["ports"]}
    assert {"gcs-server", "dashboard", "client", "metrics"} <= port_names

    cluster = await api.cluster(name)
    assert cluster is not None
    status = cluster["status"]
    assert status["desiredWorkerReplicas"] == workers == status["readyWorkerReplicas"]
    assert status["availableWorkerReplicas"] == workers
    assert status["endpoints"]["dashboard"] == "8265"
    assert status["head"]["podIP"] == head["status"]["podIP"] == status["head"]["serviceIP"]
    assert status["head"]["podName"] == head["metadata"]["name"]
    assert status["observedGeneration"] == cluster["metadata"]["generation"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["HeadPodReady"] == "True" and conditions["RayClusterProvisioned"] == "True"
    assert "ReplicaFailure" not in conditions

    reasons = await wait_until(
        lambda: _reasons_include(
            api, {"CreatedHeadPod", "CreatedService"} | ({"CreatedWorkerPod"} if workers else set())
        ),
        what="the creation events",
    )
    assert reasons

    if spec["spec"].get("enableInTreeAutoscaling"):
        # §2.6: the autoscaler sidecar and its RBAC.
        assert [c["name"] for c in head["spec"]["containers"]] == ["ray-head", "autoscaler"]
        assert head["spec"]["serviceAccountName"] == name
        for kind in ("serviceaccounts", "roles", "rolebindings"):
            group = "/api/v1" if kind == "serviceaccounts" else "/apis/rbac.authorization.k8s.io/v1"
            assert (await api.get(f"{group}/namespaces/default/{kind}/{name}"))["metadata"]["name"] == name
    if spec["spec"].get("gcsFaultToleranceOptions"):
        # §2.11: the cleanup finalizer, and the head's Redis settings.
        assert "ray.io/gcs-ft-redis-cleanup-finalizer" in cluster["metadata"]["finalizers"]
        assert head["metadata"]["annotations"]["ray.io/ft-enabled"] == "true"
        assert env_of(head["spec"]["containers"][0])["RAY_REDIS_ADDRESS"] == "redis:6379"


async def _reasons_include(api: Api, wanted: set[str]) -> set[str] | None:
    reasons = set(await api.reasons())
    return reasons if wanted <= reasons else None
