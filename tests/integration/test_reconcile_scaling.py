"""Scaling and repair: replicas up and down, workersToDelete, failed workers, a deleted head, clamping, groups."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ray_operator.sandbox.server import Sandbox
from tests.integration.conftest import StackFactory
from tests.integration.rayclusters import Api, by_group, fast_settings, sample, wait_until

pytestmark = pytest.mark.kubelet

MINI = "ray_v1_raycluster.mini.yaml"


async def started(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, *, name: str = "raycluster-mini", **spec: Any
) -> Api:
    await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    body = sample(MINI)
    body["metadata"]["name"] = name
    body["spec"]["workerGroupSpecs"][0].update(spec)
    await api.create_cluster(body)
    workers = body["spec"]["workerGroupSpecs"][0].get("replicas", 1)
    await wait_until(lambda: api.ready(name, workers=workers), what=f"{name} ready")
    return api


def replicas_patch(count: int) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": count}]


async def worker_names(api: Api, name: str = "raycluster-mini") -> list[str]:
    return sorted(p["metadata"]["name"] for p in by_group(await api.pods(name)).get("workers", []))


async def test_scale_up_then_down(start_operator: StackFactory, kubeconfig_path: Path, api_client: Any) -> None:
    api = await started(start_operator, kubeconfig_path, api_client, maxReplicas=5)
    await api.patch_cluster("raycluster-mini", replicas_patch(4), json_patch=True)
    await wait_until(lambda: api.ready("raycluster-mini", workers=4), what="4 workers")
    pods = by_group(await api.pods("raycluster-mini"))["workers"]
    indexes = sorted(int(p["metadata"]["labels"]["ray.io/worker-group-replica-index"]) for p in pods)
    assert indexes == [0, 1, 2, 3]  # lowest free indexes (§2.2 multi-host indexing labels)
    await api.patch_cluster("raycluster-mini", replicas_patch(1), json_patch=True)
    await wait_until(lambda: api.ready("raycluster-mini", workers=1), what="back to 1 worker")
    assert len(await worker_names(api)) == 1


async def test_replicas_above_max_are_clamped_with_a_warning(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    api = await started(start_operator, kubeconfig_path, api_client)
    await api.patch_cluster("raycluster-mini", replicas_patch(9), json_patch=True)  # maxReplicas is 3
    await wait_until(lambda: api.ready("raycluster-mini", workers=3), what="3 workers (the maximum)")
    events = await wait_until(lambda: _events(api, "ReplicasClamped"), what="a ReplicasClamped warning")
    assert events[0]["type"] == "Warning" and "replicas 9 is outside" in events[0]["note"]


async def _events(api: Api, reason: str) -> list[dict[str, Any]]:
    return [e for e in await api.events() if e["reason"] == reason]


async def test_workers_to_delete_only_deletes_this_clusters_pods(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    api = await started(start_operator, kubeconfig_path, api_client, replicas=2)
    other = sample(MINI)
    other["metadata"]["name"] = "other"
    await api.create_cluster(other)
    await wait_until(lambda: api.ready("other", workers=1), what="the other cluster")
    (foreign,) = await worker_names(api, "other")
    victim, survivor = await worker_names(api)
    patch = [
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 1},
        {
            "op": "replace",
            "path": "/spec/workerGroupSpecs/0/scaleStrategy",
            "value": {"workersToDelete": [victim, foreign]},
        },
    ]
    await api.patch_cluster("raycluster-mini", patch, json_patch=True)
    await wait_until(lambda: _names_are(api, "raycluster-mini", [survivor]), what="exactly the listed pod deleted")
    # The name of another cluster's pod is ignored (KubeRay would delete it: §7.9).
    assert await worker_names(api, "other") == [foreign]
    assert await api.ready("other", workers=1)


async def _names_are(api: Api, name: str, wanted: list[str]) -> bool:
    return await worker_names(api, name) == wanted


async def test_a_failed_worker_is_replaced(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    api = await started(start_operator, kubeconfig_path, api_client)
    (failed,) = await worker_names(api)
    assert sandbox.kubelet is not None
    await sandbox.kubelet.fail_pod("default", failed)
    await wait_until(lambda: _replaced(api, failed), what="a new worker instead of the failed one")
    assert "DeletedWorkerPod" in await api.reasons()


async def _replaced(api: Api, old: str) -> bool:
    names = await worker_names(api)
    return len(names) == 1 and names[0] != old and await api.ready("raycluster-mini", workers=1)


async def test_a_deleted_head_is_recreated_once(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    api = await started(start_operator, kubeconfig_path, api_client)
    (head,) = by_group(await api.pods("raycluster-mini"))["headgroup"]
    before = len(sandbox.control.request_log(method="POST", path=r"/api/v1/namespaces/default/pods$"))
    await api.delete(f"/api/v1/namespaces/default/pods/{head['metadata']['name']}")
    await wait_until(lambda: api.ready("raycluster-mini", workers=1), what="ready again")
    heads = by_group(await api.pods("raycluster-mini", live_only=False))["headgroup"]
    assert len(heads) == 1 and heads[0]["metadata"]["name"] != head["metadata"]["name"]
    creates = sandbox.control.request_log(method="POST", path=r"/api/v1/namespaces/default/pods$")[before:]
    assert len(creates) == 1, "exactly one new head pod"


async def test_a_removed_group_loses_its_pods(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any
) -> None:
    api = await started(start_operator, kubeconfig_path, api_client)
    cluster = await api.cluster("raycluster-mini")
    assert cluster is not None
    renamed = dict(cluster["spec"]["workerGroupSpecs"][0], groupName="renamed")
    await api.patch_cluster("raycluster-mini", {"spec": {"workerGroupSpecs": [renamed]}})
    await wait_until(lambda: _groups_are(api, {"headgroup", "renamed"}), what="only the renamed group's pods")


async def _groups_are(api: Api, wanted: set[str]) -> bool:
    pods = await api.pods("raycluster-mini")
    return set(by_group(pods)) == wanted and await api.ready("raycluster-mini", workers=1)


@pytest.mark.parametrize("template", ["workerGroupSpecs/0", "headGroupSpec"])
async def test_pods_that_keep_failing_are_replaced_ever_more_slowly(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox, template: str
) -> None:
    """Two failures are replaced at once; the third waits 10 s (``controller.backoff``), then the group recovers."""
    assert sandbox.kubelet is not None
    crashing = "rayproject/ray:crashing"
    sandbox.kubelet.fake.set_image_mode(crashing, "failed")  # every pod of that image fails at once
    await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    body = sample(MINI)
    spec: Any = body["spec"]
    for step in template.split("/"):
        spec = spec[int(step)] if step.isdigit() else spec[step]
    spec["template"]["spec"]["containers"][0]["image"] = crashing
    before = len(sandbox.control.request_log(method="POST", path=r"/api/v1/namespaces/default/pods$"))
    await api.create_cluster(body)

    def creates() -> int:
        """Pods created for the failing group: every pod create but the other group's one."""
        return len(sandbox.control.request_log(method="POST", path=r"/api/v1/namespaces/default/pods$")) - before - 1

    warnings = await wait_until(lambda: _events(api, "ReplacementBackOff"), seconds=20, what="a back-off warning")
    assert warnings[0]["type"] == "Warning" and "failed 3 times in a row" in warnings[0]["note"]
    assert "waits 10s" in warnings[0]["note"]
    held = creates()
    assert held == 3  # the first pod and two immediate replacements
    await asyncio.sleep(5)
    assert creates() == held, "no replacement during the back-off"
    sandbox.kubelet.fake.set_image_mode(crashing, None)  # the image is fixed: the next replacement runs
    await wait_until(lambda: api.ready("raycluster-mini", workers=1), seconds=20, what="ready after the back-off")
    assert creates() == held + 1
