"""The README's deploy flow against the sandbox: ``kubectl apply -k config/default`` with the real kubectl.

A user trying the operator without a cluster runs exactly this, so every kind the manifests use
(PodDisruptionBudget, ClusterRole, webhook configurations, the CRD...) must be served, and every
object must be readable afterwards. The cert-manager overlay also needs cert-manager's CRDs; the test
installs two minimal ones (``Issuer``, ``Certificate``) so that its built-in objects are checked too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ray_operator.sandbox.testing import Kubectl

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "config" / "default"
CERTMANAGER = ROOT / "config" / "default-certmanager"



def minimal_crd(kind: str) -> dict[str, Any]:
    """A schema-less (preserve-unknown-fields) cert-manager.io/v1 CRD, enough to store the overlay's objects."""
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.cert-manager.io"},
        "spec": {
            "group": "cert-manager.io",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


async def rendered(kubectl: Kubectl, overlay: Path) -> list[dict[str, Any]]:
    out = await kubectl("kustomize", str(overlay))
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


async def assert_all_gettable(kubectl: Kubectl, objects: list[dict[str, Any]], *, default_namespace: str = "") -> None:
    manifest = "\n---\n".join(yaml.safe_dump(obj) for obj in objects)
    out = await kubectl("get", "-f", "-", "-o", "json", input=manifest)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    items = got["items"] if got.get("kind") == "List" else [got]
    want = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", default_namespace)) for o in objects}
    have = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", "")) for o in items}
    assert have == want
    for obj in items:
        assert obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"]


async def test_config_default_applies_with_kustomize_and_every_object_is_stored(kubectl: Kubectl) -> None:
    objects = await rendered(kubectl, DEFAULT)
    kinds = {o["kind"] for o in objects}
    assert {"PodDisruptionBudget", "Deployment", "CustomResourceDefinition", "ClusterRole"} <= kinds
    out = await kubectl("apply", "-k", str(DEFAULT))
    assert out.returncode == 0, out.stderr
    assert "poddisruptionbudget.policy/" in out.stdout and " created" in out.stdout
    assert "error" not in out.stderr.lower()
    await assert_all_gettable(kubectl, objects)
    before = await kubectl("get", "pdb", "-A", "-o", "jsonpath={.items[0].metadata.resourceVersion}")
    again = await kubectl("apply", "-k", str(DEFAULT))
    assert again.returncode == 0, again.stderr
    lines = [line for line in again.stdout.splitlines() if line]
    assert len(lines) == len(objects)
    # As on a real cluster: the PDB selector's patch strategy is "replace", so kubectl always sends it and
    # says "configured", but the write changes nothing (same resourceVersion); everything else is unchanged.
    changed = [line for line in lines if not line.endswith(" unchanged")]
    assert changed == [line for line in lines if line.startswith("poddisruptionbudget.policy/")], again.stdout
    assert len(changed) == 1 and changed[0].endswith(" configured")
    after = await kubectl("get", "pdb", "-A", "-o", "jsonpath={.items[0].metadata.resourceVersion}")
    assert after.stdout == before.stdout != ""
    pdb = await kubectl("get", "pdb", "-A")
    assert pdb.returncode == 0, pdb.stderr
    assert pdb.stdout.split("\n")[0].split() == [
        "NAMESPACE",
        "NAME",
        "MIN",
        "AVAILABLE",
        "MAX",
        "UNAVAILABLE",
        "ALLOWED",
        "DISRUPTIONS",
        "AGE",
    ]
    assert pdb.stdout.split("\n")[1].split()[1:5] == ["ray-operator-controller-manager", "1", "N/A", "0"]


WORKLOAD_TEMPLATE = {
    "metadata": {"labels": {"app": "w"}},
    "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
}


async def test_workload_policy_and_discovery_kinds_are_served_with_their_columns(kubectl: Kubectl) -> None:
    selector = {"matchLabels": {"app": "w"}}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "sts"},
            "spec": {"selector": selector, "serviceName": "sts", "replicas": 2, "template": WORKLOAD_TEMPLATE},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "rs"},
            "spec": {"selector": selector, "replicas": 3, "template": WORKLOAD_TEMPLATE},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "ds"},
            "spec": {"selector": selector, "template": WORKLOAD_TEMPLATE},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "np"},
            "spec": {"podSelector": selector, "policyTypes": ["Ingress"]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "es"},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}],
        },
    ]
    manifest = "\n---\n".join(yaml.safe_dump(obj) for obj in objects)
    out = await kubectl("apply", "-f", "-", input=manifest)
    assert out.returncode == 0, out.stderr
    assert "statefulset.apps/sts created" in out.stdout and "endpointslice.discovery.k8s.io/es created" in out.stdout
    await assert_all_gettable(kubectl, objects, default_namespace="default")
    headers: dict[str, list[str]] = {}
    for resource in ("sts", "rs", "ds", "netpol"):
        got = await kubectl("get", resource)
        assert got.returncode == 0, got.stderr
        headers[resource] = got.stdout.splitlines()
    assert headers["sts"][0].split() == ["NAME", "READY", "AGE"] and headers["sts"][1].split()[:2] == ["sts", "0/2"]
    assert headers["rs"][0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert headers["rs"][1].split()[:4] == ["rs", "3", "0", "0"]
    assert headers["ds"][0].split()[-3:] == ["NODE", "SELECTOR", "AGE"] and "<none>" in headers["ds"][1]
    assert headers["netpol"][0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert headers["netpol"][1].split()[:2] == ["np", "app=w"]
    # Strategic merge on the new kinds uses their vendored merge keys: containers merge by name.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "d", "image": "busybox:2"}]}}}}
    out = await kubectl("patch", "statefulset", "sts", "-p", json.dumps(patch))
    assert out.returncode == 0, out.stderr
    names = await kubectl("get", "sts", "sts", "-o", "jsonpath={.spec.template.spec.containers[*].name}")
    assert names.stdout.split() == ["d", "c"]


async def test_certmanager_overlay_applies_once_certmanager_kinds_exist(kubectl: Kubectl) -> None:
    objects = await rendered(kubectl, CERTMANAGER)
    crds = "\n---\n".join(yaml.safe_dump(minimal_crd(kind)) for kind in ("Issuer", "Certificate"))
    out = await kubectl("apply", "-f", "-", input=crds)
    assert out.returncode == 0, out.stderr
    out = await kubectl("apply", "-k", str(CERTMANAGER))
    assert out.returncode == 0, out.stderr
    assert "certificate.cert-manager.io/" in out.stdout
    await assert_all_gettable(kubectl, objects)


async def test_workloads_are_defaulted_like_the_real_server(kubectl: Kubectl) -> None:
    selector = {"matchLabels": {"app": "w"}}
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"selector": selector, "template": WORKLOAD_TEMPLATE},
    }
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "s"},
        "spec": {"selector": selector, "serviceName": "s", "template": WORKLOAD_TEMPLATE},
    }
    manifest = "\n---\n".join(json.dumps(o) for o in (deployment, statefulset))
    out = await kubectl("apply", "-f", "-", input=manifest)
    assert out.returncode == 0, out.stderr
    got = json.loads((await kubectl("get", "deployment", "d", "-o", "json")).stdout)["spec"]
    assert got["replicas"] == 1 and got["revisionHistoryLimit"] == 10 and got["progressDeadlineSeconds"] == 600
    assert got["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod_spec = got["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always" and pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    sts = json.loads((await kubectl("get", "statefulset", "s", "-o", "json")).stdout)["spec"]
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    # Switching to Recreate through kubectl apply drops rollingUpdate (retainKeys), as upstream.
    deployment["spec"]["strategy"] = {"type": "Recreate"}
    out = await kubectl("apply", "-f", "-", input=json.dumps(deployment))
    assert out.returncode == 0, out.stderr
    got = json.loads((await kubectl("get", "deployment", "d", "-o", "json")).stdout)["spec"]
    assert got["strategy"] == {"type": "Recreate"}
