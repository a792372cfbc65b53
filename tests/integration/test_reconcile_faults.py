"""Faults and the steady state: the operator converges through API failures, never duplicates a pod,
never overwrites on a conflict, and costs zero writes once the cluster is steady."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from ray_operator.controller.manager import RayClusterController
from ray_operator.devstack import install
from ray_operator.runtime import reconciler_config
from ray_operator.sandbox.server import Sandbox
from tests.integration.conftest import StackFactory
from tests.integration.rayclusters import Api, by_group, fast_settings, sample, wait_until

pytestmark = pytest.mark.kubelet

MINI = "ray_v1_raycluster.mini.yaml"
NAME = "raycluster-mini"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def operator_writes(sandbox: Sandbox, since: int) -> list[dict[str, Any]]:
    log = sandbox.control.request_log()[since:]
    # Lease renewals are the price of leader election, not writes to the cluster the operator manages.
    return [
        r
        for r in log
        if r["method"] in WRITES and r["user_agent"].startswith("ray-operator") and "/leases/" not in r["path"]
    ]


async def converged_without_duplicates(api: Api, replicas: int) -> bool:
    everything = await api.pods(NAME, live_only=False)  # terminating ones too: nothing extra may exist
    groups = by_group(everything)
    return (
        len(groups.get("headgroup", [])) == 1
        and len(groups.get("workers", [])) == replicas
        and await api.ready(NAME, workers=replicas)
    )


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            {"method": "POST", "path": r"/namespaces/default/pods$", "status": 500, "count": 3}, id="500-on-pod-create"
        ),
        pytest.param(
            {"method": "POST", "path": r"/namespaces/default/pods$", "status": 429, "count": 2, "retry_after": 1},
            id="429-retry-after",
        ),
        pytest.param(
            {"method": "PUT", "path": r"/rayclusters/[^/]+/status$", "status": 409, "count": 3}, id="409-on-status"
        ),
        pytest.param(
            {"method": "GET", "path": r"^/api/v1/pods$", "drop": True, "status": None, "count": 3}, id="dropped-watch"
        ),
        pytest.param({"method": "GET", "path": r"^/api/v1/pods$", "status": 410, "count": 2}, id="410-on-watch"),
        pytest.param(
            {"method": "*", "path": r"^/api/v1/namespaces/default/services", "status": 500, "count": 2, "once": True},
            id="500-on-services",
        ),
    ],
)
async def test_the_cluster_converges_through_faults(
    fault: dict[str, Any], start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    # Watches end every 1-2 s, so the watch faults meet a reconnecting operator, not a stream opened earlier.
    await start_operator(settings=fast_settings(kubeconfig_path, watch_timeout_seconds=1.0))
    api = Api(api_client)
    since = len(sandbox.control.request_log())
    once = fault.pop("once", False)  # scaling touches no Service: that fault can only meet the create
    for replicas in (2, 3):  # create, then scale through the same kind of fault
        if replicas == 2 or not once:
            sandbox.control.inject_fault(**fault)
        if replicas == 2:
            body = sample(MINI)
            body["spec"]["workerGroupSpecs"][0]["replicas"] = 2
            await api.create_cluster(body)
        else:
            patch = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": replicas}]
            await api.patch_cluster(NAME, patch, json_patch=True)
        await wait_until(lambda: not sandbox.control.faults, what="the injected fault met")
        await wait_until(
            lambda n=replicas: converged_without_duplicates(api, n), seconds=30, what=f"{replicas} workers, 1 head"
        )
    met = [
        r
        for r in sandbox.control.request_log()[since:]
        if fault["method"] in ("*", r["method"])
        and re.search(fault["path"], r["path"])
        and r["user_agent"].startswith("ray-operator")
        and not 200 <= r["status"] < 300
    ]
    assert met, "the operator itself met the fault"


async def test_a_steady_cluster_costs_zero_writes_even_across_resyncs(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    stack = await start_operator(settings=fast_settings(kubeconfig_path, resync_seconds=0.5))
    api = Api(api_client)
    await api.create_cluster(sample("ray_v1_raycluster.mini.yaml"))
    await wait_until(lambda: api.ready(NAME, workers=1), what="ready")
    await asyncio.sleep(1.0)  # the last status write and events land
    controller = stack.state.controller
    assert controller is not None
    await controller.recorder.flush()
    since, passes = len(sandbox.control.request_log()), controller.reconciler.passes
    await asyncio.sleep(3.0)
    assert controller.reconciler.passes - passes >= 3, "the resync reconciled the cluster meanwhile"
    assert operator_writes(sandbox, since) == []


async def test_a_stale_cache_never_gets_a_second_head(kubeconfig_path: Path, api_client: Any, sandbox: Sandbox) -> None:
    """KubeRay issue #105: after creating the head, a reconcile that runs before the cache shows it must
    not create another. Here the caches are filled once and then frozen, the worst lag there is."""
    settings = fast_settings(kubeconfig_path)
    await install(api_client, settings, webhooks=False)
    api = Api(api_client)
    await api.create_cluster(sample(MINI))
    controller = RayClusterController(api_client=api_client, config=reconciler_config(settings), identity="test")
    reflecting = [asyncio.create_task(r.run()) for r in controller.reflectors]
    recorder = asyncio.create_task(controller.recorder.run())
    try:
        await asyncio.wait_for(asyncio.gather(*(r.synced.wait() for r in controller.reflectors)), 10)
        for task in reflecting:  # freeze every cache
            task.cancel()
        await asyncio.gather(*reflecting, return_exceptions=True)
        key = f"default/{NAME}"
        for _ in range(3):
            await controller.reconciler.reconcile(key)
        pods = await api.pods(NAME, live_only=False)
        assert sorted(p["metadata"]["labels"]["ray.io/node-type"] for p in pods) == ["head", "worker"]
        assert controller.caches.pods.list("default") == [], "the cache really was stale"
    finally:
        recorder.cancel()
        await asyncio.gather(recorder, return_exceptions=True)


async def test_status_writes_never_conflict_with_the_operators_own_writes(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    """Status moves several times while pods come up; a pass that runs before the cache has seen the
    previous status write must not send a resourceVersion it knows is outdated (a sure 409 and a retry)."""
    await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    body = sample("ray_v1_raycluster.heterogeneous.yaml")
    await api.create_cluster(body)
    name = body["metadata"]["name"]
    await wait_until(lambda: api.ready(name, workers=3), seconds=30, what="ready")
    status_puts = [
        r
        for r in sandbox.control.request_log(path=r"/rayclusters/[^/]+/status$", method="PUT")
        if r["user_agent"].startswith("ray-operator")
    ]
    assert len(status_puts) >= 2, "the status moved more than once on the way to ready"
    assert [r["status"] for r in status_puts if r["status"] == 409] == []
