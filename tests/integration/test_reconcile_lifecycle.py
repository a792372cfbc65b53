"""Lifecycle: suspend and resume, Recreate, deletion and GC, GCS FT cleanup, invalid specs, repaired drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ray_operator.sandbox.server import Sandbox
from tests.integration.conftest import StackFactory
from tests.integration.rayclusters import Api, by_group, fast_settings, sample, sample_documents, wait_until

pytestmark = pytest.mark.kubelet

MINI = "ray_v1_raycluster.mini.yaml"
NAME = "raycluster-mini"


async def mini(start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, **spec: Any) -> Api:
    await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    body = sample(MINI)
    body["spec"].update(spec)
    await api.create_cluster(body)
    await wait_until(lambda: api.ready(NAME, workers=1), what="the mini cluster ready")
    return api


def condition(cluster: dict[str, Any] | None, kind: str) -> str | None:
    for cond in ((cluster or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return str(cond["status"])
    return None


async def names(api: Api) -> set[str]:
    return {p["metadata"]["name"] for p in await api.pods(NAME)}


async def test_suspend_deletes_every_pod_then_resume_recreates_them(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    api = await mini(start_operator, kubeconfig_path, api_client)
    await api.patch_cluster(NAME, {"spec": {"suspend": True}})
    await wait_until(lambda: _suspended(api), what="suspended with no pod left")
    cluster = await api.cluster(NAME)
    assert condition(cluster, "RayClusterSuspending") == "False"
    assert condition(cluster, "RayClusterProvisioned") == "False"
    assert "DeletedPod" in await api.reasons()
    await api.patch_cluster(NAME, {"spec": {"suspend": False}})
    await wait_until(lambda: api.ready(NAME, workers=1), what="resumed and ready")
    assert condition(await api.cluster(NAME), "RayClusterSuspended") == "False"


async def _suspended(api: Api) -> bool:
    cluster = await api.cluster(NAME)
    return (
        not await api.pods(NAME, live_only=False)
        and await api.state(NAME) == "suspended"
        and condition(cluster, "RayClusterSuspended") == "True"
    )


async def test_recreate_replaces_every_pod_on_a_template_change(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    api = await mini(start_operator, kubeconfig_path, api_client, upgradeStrategy={"type": "Recreate"})
    before = await names(api)
    # A replicas change is not a template change: nothing is recreated.
    await api.patch_cluster(
        NAME, [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}], json_patch=True
    )
    await wait_until(lambda: api.ready(NAME, workers=2), what="scaled to 2")
    assert before <= await names(api)
    image = [
        {
            "op": "replace",
            "path": "/spec/workerGroupSpecs/0/template/spec/containers/0/image",
            "value": "rayproject/ray:2.53.0",
        }
    ]
    await api.patch_cluster(NAME, image, json_patch=True)
    await wait_until(lambda: _all_new(api, before), what="every pod recreated")
    workers = by_group(await api.pods(NAME))["workers"]
    assert {p["spec"]["containers"][0]["image"] for p in workers} == {"rayproject/ray:2.53.0"}


async def _all_new(api: Api, before: set[str]) -> bool:
    now = await names(api)
    return not (now & before) and await api.ready(NAME, workers=2)


async def test_without_recreate_running_pods_are_not_replaced(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    api = await mini(start_operator, kubeconfig_path, api_client)
    before = await names(api)
    image = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/template/spec/containers/0/image", "value": "x:1"}]
    await api.patch_cluster(NAME, image, json_patch=True)
    await wait_until(lambda: _generation_observed(api), what="the new generation observed")
    assert await names(api) == before


async def _generation_observed(api: Api) -> bool:
    cluster = await api.cluster(NAME)
    assert cluster is not None
    return bool(cluster.get("status", {}).get("observedGeneration") == cluster["metadata"]["generation"])


async def test_deleting_the_cluster_garbage_collects_every_child(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    api = await mini(start_operator, kubeconfig_path, api_client, enableInTreeAutoscaling=True)
    await api.delete(f"/apis/ray.io/v1/namespaces/default/rayclusters/{NAME}")
    await wait_until(lambda: _nothing_left(api), what="every child gone")


async def _nothing_left(api: Api) -> bool:
    if await api.cluster(NAME) is not None or await api.pods(NAME, live_only=False):
        return False
    if any(s["metadata"]["name"].startswith(NAME) for s in await api.services()):
        return False
    for path in (
        "/api/v1/namespaces/default/serviceaccounts",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
    ):
        if any(o["metadata"]["name"] == NAME for o in (await api.get(path))["items"]):
            return False
    return True


async def test_gcs_ft_deletion_runs_the_cleanup_job_then_releases_the_finalizer(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    for doc in sample_documents("ray_v1_raycluster.gcs-ft-redis.yaml"):
        if doc["kind"] == "Secret":
            await api.send("POST", "/api/v1/namespaces/default/secrets", doc)
    name = "raycluster-external-redis"
    await api.create_cluster(sample("ray_v1_raycluster.gcs-ft-redis.yaml"))
    await wait_until(lambda: api.ready(name, workers=1), what="the FT cluster ready")
    await api.delete(f"/apis/ray.io/v1/namespaces/default/rayclusters/{name}")
    job_path = f"/apis/batch/v1/namespaces/default/jobs/{name}-redis-cleanup"
    job = await wait_until(lambda: api.get_or_none(job_path), what="the Redis cleanup Job")
    assert await api.pods(name, live_only=False) == [], "the pods go before the cleanup runs"
    assert await api.cluster(name) is not None, "the finalizer holds the RayCluster meanwhile"
    assert job["spec"]["template"]["spec"]["containers"][0]["env"]
    # Act as the Job controller: the cleanup finished.
    done = {"status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}}
    await api.send("PATCH", f"{job_path}/status", done, content_type="application/merge-patch+json")
    await wait_until(lambda: api.gone(name), what="the RayCluster gone once the cleanup finished")
    assert "CreatedRedisCleanupJob" in await api.reasons()




async def test_an_invalid_spec_stored_without_webhooks_leaves_running_pods_alone(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    api = await mini(start_operator, kubeconfig_path, api_client)
    before = await names(api)
    # The webhooks are off (uninstalled), so the API server stores what its schema allows.
    await api.delete(
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/ray-operator-validating-webhook-configuration"
    )
    await api.delete(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/ray-operator-mutating-webhook-configuration"
    )
    broken = [
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/minReplicas", "value": 5},
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 0},
    ]
    await api.patch_cluster(NAME, broken, json_patch=True)
    events = await wait_until(lambda: _warnings(api, "InvalidRayClusterSpec"), what="the InvalidRayClusterSpec warning")
    assert "minReplicas 5 greater than maxReplicas 3" in events[0]["note"]
    assert await names(api) == before, "no pod was created or deleted"
    fixed = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/minReplicas", "value": 1}]
    await api.patch_cluster(NAME, fixed, json_patch=True)
    await wait_until(lambda: _generation_observed(api), what="reconciled again once fixed")


async def _warnings(api: Api, reason: str) -> list[dict[str, Any]]:
    return [e for e in await api.events() if e["reason"] == reason and e["type"] == "Warning"]


async def test_drift_is_repaired(start_operator: StackFactory, kubeconfig_path: Path, api_client: Any) -> None:
    api = await mini(start_operator, kubeconfig_path, api_client)
    service_path = f"/api/v1/namespaces/default/services/{NAME}-head-svc"
    await api.delete(service_path)
    await wait_until(lambda: api.get_or_none(service_path), what="the head Service recreated")
    # A label removed by hand from a worker comes back, and the pod is not replaced.
    worker = by_group(await api.pods(NAME))["workers"][0]
    pod_path = f"/api/v1/namespaces/default/pods/{worker['metadata']['name']}"
    await api.send(
        "PATCH", pod_path, {"metadata": {"labels": {"ray.io/group": None}}}, content_type="application/merge-patch+json"
    )
    await wait_until(lambda: _label(api, pod_path, "ray.io/group", "workers"), what="the label restored")
    assert worker["metadata"]["name"] in await names(api) and len(await names(api)) == 2
    # Unlike KubeRay, the head Service follows the spec after creation.
    await api.patch_cluster(NAME, {"spec": {"headServiceAnnotations": {"team": "ray"}}})
    await wait_until(lambda: _annotation(api, service_path, "team", "ray"), what="the new head Service annotation")


async def _label(api: Api, path: str, key: str, value: str) -> bool:
    return bool((await api.get(path))["metadata"].get("labels", {}).get(key) == value)


async def _annotation(api: Api, path: str, key: str, value: str) -> bool:
    return bool(((await api.get(path))["metadata"].get("annotations") or {}).get(key) == value)
