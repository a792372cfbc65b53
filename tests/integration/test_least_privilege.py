"""Least privilege, proven: the integration scenarios run under ``config/rbac`` and use every rule it grants.

The operator runs in ``--mode all`` with its ServiceAccount's token (``sandbox_rbac``) against a sandbox
that enforces RBAC, through: webhook certificate bootstrap, every sample converging (the autoscaler's
ServiceAccount/Role/RoleBinding, GCS FT with its Redis Secret), a generated auth-token Secret, the
dashboard Ingress, scaling up and down, suspend and resume, and deletion (the GCS FT cleanup Job, then
garbage collection). Then ``rbac_audit`` checks the request log: every call the operator made is
granted by ``config/rbac`` (no 403 anywhere), and every verb it grants was used by some call or is
marked ``# untested: <verbs> - <feature>`` in the YAML. Removing a rule makes the first check fail,
adding an unused one the second (``test_the_comparison_catches_...`` shows both on modified sets).
"""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest

from ray_operator.runtime import RuntimeState
from ray_operator.sandbox.auth.bootstrap import bootstrap_objects
from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox_rbac import CONFIG, rbac_manifests, service_account_of
from tests.integration.rayclusters import Api, by_group, sample, sample_documents, wait_until
from tests.integration.rbac_audit import (
    Call,
    atoms,
    bound_roles,
    calls_of,
    unexplained,
    ungranted,
    untested_marks,
)

pytestmark = pytest.mark.kubelet

PREFIX = "ray-operator-"
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:ray-system", "system:authenticated")


def operator_user(objects: list[dict[str, Any]]) -> str:
    namespace, name = service_account_of(objects)
    return f"system:serviceaccount:{namespace}:{name}"


async def scrape(port: int, token: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"https://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, ssl=False
        ) as resp,
    ):
        return resp.status


async def scrape_metrics(api: Api, sandbox: Sandbox, port: int) -> None:
    """Secure metrics: Prometheus' token (bound to metrics-reader) is served, another is refused."""
    await api.send("POST", "/api/v1/namespaces", {"metadata": {"name": "monitoring"}})
    for name in ("prometheus-k8s", "nosy"):
        await api.send("POST", "/api/v1/namespaces/monitoring/serviceaccounts", {"metadata": {"name": name}})
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "prometheus-reads-ray-operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": PREFIX + "metrics-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}],
    }
    await api.send("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
    assert await scrape(port, sandbox.service_account_token("monitoring", "prometheus-k8s")) == 200
    assert await scrape(port, sandbox.service_account_token("monitoring", "nosy")) == 403


async def run_scenarios(api: Api) -> None:
    """The integration scenarios, one after another in one cluster."""
    # Every sample converges (autoscaler RBAC objects, GCS FT with its Redis password Secret).
    for doc in sample_documents("ray_v1_raycluster.gcs-ft-redis.yaml"):
        if doc["kind"] == "Secret":
            await api.send("POST", "/api/v1/namespaces/default/secrets", doc)
    expected = {
        "ray_v1_raycluster.mini.yaml": ("raycluster-mini", 1),
        "ray_v1_raycluster.heterogeneous.yaml": ("raycluster-heterogeneous", 3),
        "ray_v1_raycluster.complete.yaml": ("raycluster-complete", 1),
        "ray_v1_raycluster.autoscaler.yaml": ("raycluster-autoscaler", 0),
        "ray_v1_raycluster.gcs-ft-redis.yaml": ("raycluster-external-redis", 1),
    }
    for file in expected:
        await api.create_cluster(sample(file))
    for name, workers in expected.values():
        await wait_until(lambda n=name, w=workers: api.ready(n, workers=w), seconds=60, what=f"{name} ready")
    # A generated auth token (authOptions.mode token) and the dashboard Ingress.
    extra = sample("ray_v1_raycluster.mini.yaml")
    extra["metadata"]["name"] = "raycluster-extras"
    extra["spec"]["rayVersion"] = "2.52.0"
    extra["spec"]["authOptions"] = {"mode": "token"}
    extra["spec"]["headGroupSpec"]["enableIngress"] = True
    await api.create_cluster(extra)
    await wait_until(lambda: api.ready("raycluster-extras", workers=1), seconds=60, what="extras ready")
    await wait_until(
        lambda: api.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses"),
        what="the dashboard Ingress",
    )
    # Drift is repaired: a worker's label, the head Service's annotations, the autoscaler's Role and binding.
    merge = "application/merge-patch+json"
    worker = by_group(await api.pods("raycluster-mini"))["workers"][0]
    pod_path = f"/api/v1/namespaces/default/pods/{worker['metadata']['name']}"
    await api.send("PATCH", pod_path, {"metadata": {"labels": {"ray.io/group": None}}}, content_type=merge)
    await wait_until(lambda: _field(api, pod_path, "metadata", "labels", "ray.io/group"), what="the label restored")
    await api.patch_cluster("raycluster-mini", {"spec": {"headServiceAnnotations": {"team": "ray"}}})
    service_path = "/api/v1/namespaces/default/services/raycluster-mini-head-svc"
    await wait_until(lambda: _field(api, service_path, "metadata", "annotations", "team"), what="the annotation")
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
    await api.send("PATCH", f"{rbac}/roles/raycluster-autoscaler", {"rules": []}, content_type=merge)
    await api.send("PATCH", f"{rbac}/rolebindings/raycluster-autoscaler", {"subjects": []}, content_type=merge)
    await wait_until(lambda: _field(api, f"{rbac}/roles/raycluster-autoscaler", "rules"), what="the Role repaired")
    await wait_until(
        lambda: _field(api, f"{rbac}/rolebindings/raycluster-autoscaler", "subjects"), what="the binding repaired"
    )
    # The Ingress follows its options and goes when disabled; a head Service that stops being headless
    # is recreated (clusterIP is immutable).
    head = {"ingressOptions": {"host": "ray.example.com"}}
    await api.patch_cluster("raycluster-extras", {"spec": {"headGroupSpec": head}})
    ingress_path = "/apis/networking.k8s.io/v1/namespaces/default/ingresses/raycluster-extras-head-ingress"
    await wait_until(lambda: _host_is(api, ingress_path, "ray.example.com"), what="the Ingress host")
    await api.patch_cluster("raycluster-extras", {"spec": {"headGroupSpec": {"serviceType": "NodePort"}}})
    extras_service = "/api/v1/namespaces/default/services/raycluster-extras-head-svc"
    await wait_until(lambda: _type_is(api, extras_service, "NodePort"), what="the head Service recreated")
    await api.patch_cluster("raycluster-extras", {"spec": {"headGroupSpec": {"enableIngress": False}}})
    await wait_until(lambda: _gone_path(api, ingress_path), what="the Ingress deleted")
    # Scaling up and down.
    patch = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 3}]
    await api.patch_cluster("raycluster-mini", patch, json_patch=True)
    await wait_until(lambda: api.ready("raycluster-mini", workers=3), what="3 workers")
    patch[0]["value"] = 1
    await api.patch_cluster("raycluster-mini", patch, json_patch=True)
    await wait_until(lambda: api.ready("raycluster-mini", workers=1), what="back to 1 worker")
    # Suspend and resume.
    await api.patch_cluster("raycluster-mini", {"spec": {"suspend": True}})
    await wait_until(lambda: api.state("raycluster-mini"), what="a state")
    await wait_until(lambda: _suspended(api, "raycluster-mini"), seconds=30, what="suspended with no pod left")
    await api.patch_cluster("raycluster-mini", {"spec": {"suspend": False}})
    await wait_until(lambda: api.ready("raycluster-mini", workers=1), what="resumed")
    # GCS FT deletion: the Redis cleanup Job, finished here as the Job controller would.
    name = "raycluster-external-redis"
    await api.delete(f"/apis/ray.io/v1/namespaces/default/rayclusters/{name}")
    job_path = f"/apis/batch/v1/namespaces/default/jobs/{name}-redis-cleanup"
    await wait_until(lambda: api.get_or_none(job_path), what="the Redis cleanup Job")
    done = {"status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}}
    await api.send("PATCH", f"{job_path}/status", done, content_type="application/merge-patch+json")
    await wait_until(lambda: api.gone(name), seconds=30, what="the FT cluster gone")
    # Deleting the rest garbage-collects every child.
    for other in ("raycluster-mini", "raycluster-autoscaler", "raycluster-extras"):
        await api.delete(f"/apis/ray.io/v1/namespaces/default/rayclusters/{other}")
    for other in ("raycluster-mini", "raycluster-autoscaler", "raycluster-extras"):
        await wait_until(lambda o=other: api.gone(o), seconds=30, what=f"{other} gone")


async def _field(api: Api, path: str, *keys: str) -> Any:
    value: Any = await api.get_or_none(path)
    for key in keys:
        value = (value or {}).get(key)
    return value


async def _host_is(api: Api, path: str, host: str) -> bool:
    rules = await _field(api, path, "spec", "rules")
    return bool(rules) and rules[0].get("host") == host


async def _type_is(api: Api, path: str, kind: str) -> bool:
    return bool(await _field(api, path, "spec", "type") == kind)


async def _gone_path(api: Api, path: str) -> bool:
    return await api.get_or_none(path) is None


async def _suspended(api: Api, name: str) -> bool:
    return not await api.pods(name, live_only=False) and await api.state(name) == "suspended"




async def test_every_call_is_granted_and_every_grant_is_used(
    confined_operator: tuple[Sandbox, RuntimeState], api_client: Any
) -> None:
    sandbox, state = confined_operator
    objects = rbac_manifests()
    assert objects is not None
    user = operator_user(objects)
    assert state.metrics_port is not None
    await scrape_metrics(Api(api_client), sandbox, state.metrics_port)
    await run_scenarios(Api(api_client))
    log = list(sandbox.control.requests)
    assert len(log) < sandbox.control.requests.maxlen, "the request log overflowed: calls may be missing"
    mine = [e for e in log if e.get("user") == user]
    denied = [f"{e['method']} {e['path']} -> {e['status']}" for e in mine if e["status"] == 403]
    assert denied == [], "the operator was refused"
    # The rights the operator must hold to grant them (the autoscaler's Role) count as used too.
    calls = calls_of([*log, *sandbox.auth.grant_log], user)
    assert any(c.verb == "create" and c.resource == "pods" for c in calls), "no operator calls were recorded"
    assert ungranted(calls, [*objects, *bootstrap_objects()], user, SA_GROUPS) == []
    bound = bound_roles(objects, *service_account_of(objects))
    assert ("ClusterRole", "", PREFIX + "metrics-reader") not in bound, "the scrapers' role, not the operator's"
    bare, stale = unexplained(atoms(objects, bound), calls, untested_marks(CONFIG / "rbac"), prefix=PREFIX)
    assert [f"{a.kind} {a.role} rule {a.index}: {a.verb} {a.resource or a.url}" for a in bare] == [], (
        "granted but unused: use it in a scenario, trim it, or mark it '# untested: <verbs> - <feature>'"
    )
    assert stale == []


def test_the_comparison_catches_a_removed_rule_and_an_unused_one() -> None:
    objects = rbac_manifests()
    assert objects is not None
    user = operator_user(objects)
    everything = [*objects, *bootstrap_objects()]
    delete_pod = Call("delete", "", "pods", "", "default", "raycluster-mini-head-x")
    patch_status = Call("update", "ray.io", "rayclusters", "status", "default", "raycluster-mini")
    assert ungranted([delete_pod, patch_status], everything, user, SA_GROUPS) == []
    trimmed = copy.deepcopy(objects)
    role = next(o for o in trimmed if o["kind"] == "ClusterRole" and o["metadata"]["name"] == PREFIX + "manager-role")
    for rule in role["rules"]:
        if rule.get("resources") == ["pods"]:
            rule["verbs"].remove("delete")
    assert ungranted([delete_pod, patch_status], [*trimmed, *bootstrap_objects()], user, SA_GROUPS) == [delete_pod]
    # An extra rule no call uses, without an "untested" comment, is reported (and only it).
    marks = untested_marks(CONFIG / "rbac")
    calls = {delete_pod, patch_status}
    before, _ = unexplained(atoms(objects), calls, marks, prefix=PREFIX)
    role = next(o for o in objects if o["kind"] == "ClusterRole" and o["metadata"]["name"] == PREFIX + "manager-role")
    role["rules"].append({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]})
    after, _ = unexplained(atoms(objects), calls, marks, prefix=PREFIX)
    added = [a for a in after if a not in before]
    assert [(a.resource, a.verb) for a in added] == [("configmaps", "get")]
