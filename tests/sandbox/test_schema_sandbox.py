"""The schema-side modules inside the running emulator, driven by the real kubectl.

What a user sees: strict unknown-field errors, kube-apiserver's 422 causes, CEL immutability, explain,
printer columns, and strategic merge patches on built-ins, all as kubectl prints them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ray_operator.sandbox.testing import Kubectl

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "config" / "crd" / "bases" / "ray.io_rayclusters.yaml"



def raycluster(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo"},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}},
            },
            **spec,
        },
    }


async def install_crd(kubectl: Kubectl) -> None:
    out = await kubectl("create", "-f", str(CRD))
    assert out.returncode == 0, out.stderr
    out = await kubectl("wait", "--for=condition=Established", "crd/rayclusters.ray.io", "--timeout=20s")
    assert out.returncode == 0, out.stderr


async def test_create_reports_unknown_fields_and_schema_causes(kubectl: Kubectl) -> None:
    await install_crd(kubectl)
    bad = raycluster(foo=1)
    out = await kubectl("create", "-f", "-", input=json.dumps(bad))
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": RayCluster in version "v1" cannot be handled '
        'as a RayCluster: strict decoding error: unknown field "spec.foo"'
    )
    wrong = raycluster(workerGroupSpecs=[{"groupName": "g", "replicas": "two", "rayStartParams": {}, "template": {}}])
    out = await kubectl("create", "-f", "-", input=json.dumps(wrong))
    assert out.returncode == 1
    assert 'The RayCluster "demo" is invalid: ' in out.stderr
    assert (
        'spec.workerGroupSpecs[0].replicas: Invalid value: "string": spec.workerGroupSpecs[0].replicas in body '
        'must be of type integer: "string"'
    ) in out.stderr


async def test_defaults_are_stored_and_cel_immutability_on_update(kubectl: Kubectl) -> None:
    await install_crd(kubectl)
    out = await kubectl("create", "-f", "-", input=json.dumps(raycluster(managedBy="ray.io/kuberay-operator")))
    assert out.returncode == 0, out.stderr
    out = await kubectl("get", "raycluster", "demo", "-o", "json")
    stored = json.loads(out.stdout)
    container = stored["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "ray-head"
    patch = '{"spec":{"managedBy":"kueue.x-k8s.io/multikueue"}}'
    out = await kubectl("patch", "raycluster", "demo", "--type=merge", "-p", patch)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'The RayCluster "demo" is invalid: spec.managedBy: Invalid value: "string": the managedBy field is immutable'
    )
    # An enum error blocks the CEL rules, with kube-apiserver's notice.
    out = await kubectl("patch", "raycluster", "demo", "--type=merge", "-p", '{"spec":{"managedBy":"me"}}')
    assert out.returncode == 1
    assert '* spec.managedBy: Unsupported value: "me": supported values: ' in out.stderr
    assert "some validation rules were not checked because the object was invalid" in out.stderr


async def test_explain_and_printer_columns(kubectl: Kubectl) -> None:
    await install_crd(kubectl)
    out = await kubectl("explain", "rayclusters.spec.workerGroupSpecs")
    assert out.returncode == 0, out.stderr
    assert "KIND:       RayCluster" in out.stdout
    assert "replicas\t<integer>" in out.stdout
    out = await kubectl("create", "-f", "-", input=json.dumps(raycluster()))
    assert out.returncode == 0, out.stderr
    out = await kubectl("get", "rayclusters")
    assert out.returncode == 0, out.stderr
    crd = yaml.safe_load(CRD.read_text())
    columns = next(v for v in crd["spec"]["versions"] if v.get("storage"))["additionalPrinterColumns"]
    header = out.stdout.splitlines()[0]
    for column in columns:
        if not column.get("priority"):
            assert column["name"].upper() in header
    assert out.stdout.splitlines()[1].startswith("demo ")


async def test_kubectl_patch_and_apply_use_strategic_merge_on_pod_templates(kubectl: Kubectl) -> None:
    # A running pod's spec is immutable (as on a real server), so the strategic merge is shown on a
    # Deployment's pod template: kubectl computes the patch from the published schema's merge keys.
    labels = {"app": "web"}
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "busybox"},
                    ]
                },
            },
        },
    }
    out = await kubectl("apply", "-f", "-", input=json.dumps(deployment))
    assert out.returncode == 0, out.stderr
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}}
    out = await kubectl("patch", "deployment", "web", "-p", json.dumps(patch))
    assert out.returncode == 0, out.stderr
    assert "deployment.apps/web patched" in out.stdout
    live = json.loads((await kubectl("get", "deployment", "web", "-o", "json")).stdout)
    containers = live["spec"]["template"]["spec"]["containers"]
    web = next(c for c in containers if c["name"] == "web")
    assert [e["name"] for e in web["env"]] == ["B", "A"]  # merged by name, patch items first
    assert [c["name"] for c in containers] == ["web", "side"]  # the other container is kept
    assert web["image"] == "nginx:1"
    template = deployment["spec"]["template"]["spec"]
    template["containers"] = [template["containers"][0]]  # apply without the side container
    out = await kubectl("apply", "-f", "-", input=json.dumps(deployment))
    assert out.returncode == 0, out.stderr
    assert "error calculating patch" not in out.stderr
    assert "deployment.apps/web configured" in out.stdout
    live = json.loads((await kubectl("get", "deployment", "web", "-o", "json")).stdout)
    containers = live["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    # B came from the imperative patch, not from the last-applied configuration, so apply keeps it.
    assert [e["name"] for e in containers[0]["env"]] == ["B", "A"]
