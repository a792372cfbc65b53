"""``ray-operator sandbox`` confines the operator to ``config/rbac``: a missing rule fails as in a cluster.

The RBAC objects the sandbox applies are exactly what ``kubectl kustomize config/default`` renders, the
operator's requests carry its ServiceAccount's identity, and with the ``pods`` ``delete`` verb taken out
of the ClusterRole a scale-down is refused with a 403 that the operator logs and reports as a Warning
event on the RayCluster.
"""

from __future__ import annotations

import asyncio
import copy
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from ray_operator.devstack import operator_settings, run_devstack
from ray_operator.kube.client import kube_api_client, request_json
from ray_operator.sandbox.testing import kubectl_path
from ray_operator.sandbox_rbac import CONFIG, rbac_manifests, service_account_of
from tests.integration.rayclusters import Api, sample, wait_until

RBAC_KINDS = {"ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
OPERATOR = "system:serviceaccount:ray-system:ray-operator-controller-manager"


def kustomized_rbac(tmp: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(kubectl_path()), "kustomize", str(CONFIG / "default"), "--cache-dir", str(tmp / "kc")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] in RBAC_KINDS]


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def test_the_sandbox_applies_what_kustomize_renders_for_config_default(tmp_path: Path) -> None:
    ours = rbac_manifests()
    assert ours is not None
    assert sorted(ours, key=key) == sorted(kustomized_rbac(tmp_path), key=key)
    assert service_account_of(ours) == ("ray-system", "ray-operator-controller-manager")


def without_pod_delete(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """config/rbac with ``delete`` (and ``deletecollection``) taken off the ClusterRole's pods rule."""
    out = copy.deepcopy(objects)
    role = next(o for o in out if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith("manager-role"))
    rule = next(r for r in role["rules"] if r.get("apiGroups") == [""] and r.get("resources") == ["pods"])
    rule["verbs"] = [v for v in rule["verbs"] if v not in ("delete", "deletecollection")]
    return out


@pytest.fixture
async def confined_sandbox(tmp_path: Path) -> AsyncIterator[tuple[Path, asyncio.Task[int]]]:
    objects = rbac_manifests()
    assert objects is not None
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_devstack(kubeconfig=kubeconfig, mode="controller", stop=stop, handle_signals=False,
                     rbac=without_pod_delete(objects))
    )  # fmt: skip
    async with asyncio.timeout(60):
        while not kubeconfig.exists():
            assert not task.done(), f"the sandbox exited early with {task.result()}"
            await asyncio.sleep(0.02)
    yield kubeconfig, task
    stop.set()
    async with asyncio.timeout(30):
        assert await task == 0


async def test_without_the_pods_delete_rule_scale_down_is_forbidden_logged_and_an_event(
    confined_sandbox: tuple[Path, asyncio.Task[int]],
) -> None:
    kubeconfig, _ = confined_sandbox
    cluster = sample("ray_v1_raycluster.mini.yaml")
    cluster["spec"]["workerGroupSpecs"][0].update(replicas=2, minReplicas=0)
    name = cluster["metadata"]["name"]
    with structlog.testing.capture_logs() as logs:
        async with kube_api_client(operator_settings(kubeconfig=kubeconfig)) as client:
            api = Api(client)
            await api.create_cluster(cluster)
            await wait_until(lambda: api.ready(name, workers=2), seconds=30, what="2 ready workers")
            await api.patch_cluster(name, {"spec": {"workerGroupSpecs": [{**cluster["spec"]["workerGroupSpecs"][0],
                                                                          "replicas": 1}]}})  # fmt: skip

            async def refused() -> list[dict[str, Any]]:
                return [e for e in await api.events() if e["reason"] == "FailedToDeleteWorkerPod"]

            events = await wait_until(refused, seconds=30, what="a FailedToDeleteWorkerPod event")
            assert events[0]["type"] == "Warning" and events[0]["regarding"]["name"] == name
            assert f'is forbidden: User "{OPERATOR}" cannot delete resource "pods" in API group ""' in events[0]["note"]
            assert len(await api.pods(name)) == 3  # nothing was deleted
            log = await request_json(client, "GET", "/_sandbox/requests", timeout=10, query=[("method", "DELETE")])
            denied = [e for e in log.body["items"] if "/pods/" in e["path"]]
            assert denied and all(e["status"] == 403 and e["user"] == OPERATOR for e in denied)
            everything = (await request_json(client, "GET", "/_sandbox/requests", timeout=10)).body["items"]
            # Every pod write of the operator ran as its ServiceAccount, none as the admin.
            pod_writes = [e for e in everything if e["method"] == "POST" and e["path"].endswith("/pods")]
            assert pod_writes and {e["user"] for e in pod_writes} == {OPERATOR}
    failures = [entry for entry in logs if entry.get("event") in ("reconcile_failed", "reconcile_retrying")]
    assert any("forbidden" in str(entry.get("error", "")).lower() for entry in failures), failures[-3:]
