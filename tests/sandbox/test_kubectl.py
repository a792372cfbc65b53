"""The real kubectl against the emulator, one test per observed command sequence (spec §2).

Each test asserts what a user sees (stdout/stderr lines and exit codes), so a difference from
kube-apiserver that changes kubectl's behaviour shows up here.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl, read_lines_until
from tests.sandbox.test_client_core import CRD

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, *docs: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def widget(name: str = "demo", size: int = 3, **extra_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.io/v1",
        "kind": "Widget",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"size": size, **extra_spec},
    }


@pytest.fixture
async def crd(kubectl: Kubectl, tmp_path: Path) -> None:
    result = await kubectl("create", "-f", write(tmp_path, "crd.yaml", CRD))
    assert result.returncode == 0, result.stderr


async def test_version_reports_server_minor_32(kubectl: Kubectl) -> None:
    result = await kubectl("version")
    assert result.returncode == 0
    assert "Server Version: v1.32" in result.stdout


async def test_api_resources_lists_builtins_and_crds(kubectl: Kubectl, crd: None) -> None:
    result = await kubectl("api-resources")
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()[:2]) for line in result.stdout.splitlines()}
    assert ("pods", "po") in rows and ("widgets", "wd") in rows
    assert any(line.split()[0] == "leases" and "coordination.k8s.io/v1" in line for line in result.stdout.splitlines())


async def test_unauthenticated_https_request_is_401(sandbox: Sandbox, tmp_path: Path) -> None:
    config = sandbox.kubeconfig()
    config["users"][0]["user"]["token"] = "wrong"
    path = tmp_path / "bad"
    path.write_text(yaml.safe_dump(config))
    result = await Kubectl(kubeconfig=path, cache_dir=tmp_path / "c2")("get", "pods")
    assert result.returncode == 1 and "You must be logged in to the server" in result.stderr


async def test_crd_established_and_wait(kubectl: Kubectl, crd: None) -> None:
    result = await kubectl("wait", "--for=condition=Established", "crd/widgets.example.io", "--timeout=10s")
    assert result.returncode == 0, result.stderr
    assert "condition met" in result.stdout


async def test_create_twice_and_dry_run(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    manifest = write(tmp_path, "w.yaml", widget())
    dry = await kubectl("create", "-f", manifest, "--dry-run=server")
    assert dry.returncode == 0 and "widget.example.io/demo created (server dry run)" in dry.stdout
    missing = await kubectl("get", "widget", "demo")
    assert missing.returncode == 1 and 'widgets.example.io "demo" not found' in missing.stderr
    first = await kubectl("create", "-f", manifest)
    assert first.stdout.strip() == "widget.example.io/demo created"
    second = await kubectl("create", "-f", manifest)
    assert second.returncode == 1
    assert (
        f'Error from server (AlreadyExists): error when creating "{manifest}": widgets.example.io "demo" already '
        "exists" in second.stderr
    )


async def test_strict_field_validation_names_the_unknown_field(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    result = await kubectl("create", "-f", write(tmp_path, "w.yaml", widget(foo=1)))
    assert result.returncode == 1
    assert 'strict decoding error: unknown field "spec.foo"' in result.stderr


async def test_get_lists_with_selectors_and_all_namespaces(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget("a"), widget("b")))
    empty = await kubectl("get", "widgets", "-n", "kube-system")
    assert "No resources found in kube-system namespace." in empty.stderr
    selected = await kubectl("get", "wd", "-l", "app=b")
    names = [line.split()[0] for line in selected.stdout.splitlines()[1:]]
    assert names == ["b"]
    everywhere = await kubectl("get", "widgets", "-A", "-l", "app in (a,b)")
    lines = everywhere.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [line.split()[:2] for line in lines[1:]] == [["default", "a"], ["default", "b"]]
    by_field = await kubectl("get", "widgets", "--field-selector", "metadata.name=a", "-o", "name")
    assert by_field.stdout.split() == ["widget.example.io/a"]
    bad = await kubectl("get", "widgets", "-l", "app in (a")
    assert bad.returncode == 1
    assert (
        'Error from server (BadRequest): Unable to find "example.io/v1, Resource=widgets" that match label selector '
        "\"app in (a\", field selector \"\": unable to parse requirement: found '', expected: ',' or ')'"
    ) in bad.stderr


async def test_get_yaml_shows_server_metadata(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget()))
    result = await kubectl("get", "widget", "demo", "-o", "yaml")
    obj = yaml.safe_load(result.stdout)
    assert obj["metadata"]["generation"] == 1 and obj["metadata"]["uid"]
    assert int(obj["metadata"]["resourceVersion"]) > 0 and obj["spec"] == {"size": 3}


async def test_apply_create_unchanged_configured_and_server_side(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    manifest = write(tmp_path, "w.yaml", widget())
    assert (await kubectl("apply", "-f", manifest)).stdout.strip() == "widget.example.io/demo created"
    assert (await kubectl("apply", "-f", manifest)).stdout.strip() == "widget.example.io/demo unchanged"
    changed = write(tmp_path, "w2.yaml", widget(size=4))
    assert (await kubectl("apply", "-f", changed)).stdout.strip() == "widget.example.io/demo configured"
    ssa = await kubectl("apply", "--server-side", "-f", write(tmp_path, "w3.yaml", widget(size=5, color="red")))
    assert ssa.stdout.strip() == "widget.example.io/demo serverside-applied", ssa.stderr
    ssa2 = await kubectl("apply", "--server-side", "-f", write(tmp_path, "w4.yaml", widget(size=6)))
    assert ssa2.returncode == 0, ssa2.stderr
    spec = json.loads((await kubectl("get", "widget", "demo", "-o", "json")).stdout)["spec"]
    assert spec == {"size": 6}, "a re-apply removes the field the manager stopped applying"
    fresh = await kubectl("apply", "--server-side", "-f", write(tmp_path, "w5.yaml", widget("ssa-new")))
    assert fresh.stdout.strip() == "widget.example.io/ssa-new serverside-applied"


async def test_patch_types(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget()))
    strategic = await kubectl("patch", "widget", "demo", "-p", '{"spec":{"size":5}}')
    assert strategic.returncode == 1
    assert (
        "error: application/strategic-merge-patch+json is not supported by example.io/v1, Kind=Widget: the body "
        "of the request was in an unknown format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml" in strategic.stderr
    )
    merge = await kubectl("patch", "widget", "demo", "--type=merge", "-p", '{"spec":{"size":5}}')
    assert merge.stdout.strip() == "widget.example.io/demo patched"
    json_patch = await kubectl(
        "patch", "widget", "demo", "--type=json", "-p", '[{"op":"replace","path":"/spec/size","value":6}]'
    )
    assert json_patch.stdout.strip() == "widget.example.io/demo patched"
    failing = await kubectl(
        "patch", "widget", "demo", "--type=json", "-p", '[{"op":"test","path":"/spec/size","value":1}]'
    )
    assert failing.returncode == 1
    status = await kubectl(
        "patch", "widget", "demo", "--subresource=status", "--type=merge", "-p", '{"status":{"state":"ready"}}'
    )
    assert status.returncode == 0, status.stderr
    obj = json.loads((await kubectl("get", "widget", "demo", "-o", "json")).stdout)
    assert obj["spec"]["size"] == 6 and obj["status"] == {"state": "ready"} and obj["metadata"]["generation"] == 3


async def test_builtin_strategic_merge_patch(kubectl: Kubectl, tmp_path: Path) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]},
    }
    await kubectl("create", "-f", write(tmp_path, "svc.yaml", svc))
    result = await kubectl("patch", "svc", "web", "-p", '{"spec":{"ports":[{"port":81,"targetPort":8081}]}}')
    assert result.returncode == 0, result.stderr
    ports = json.loads((await kubectl("get", "svc", "web", "-o", "json")).stdout)["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in ports] == [(80, 80), (81, 8081)]


async def test_label_and_annotate(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget()))
    assert (await kubectl("label", "widget", "demo", "tier=gold")).stdout.strip() == "widget.example.io/demo labeled"
    assert (await kubectl("annotate", "widget", "demo", "note=hi")).stdout.strip() == "widget.example.io/demo annotated"
    meta = json.loads((await kubectl("get", "widget", "demo", "-o", "json")).stdout)["metadata"]
    assert meta["labels"]["tier"] == "gold" and meta["annotations"]["note"] == "hi"
    assert meta["generation"] == 1, "metadata-only writes do not bump generation"
    bad = await kubectl("label", "widget", "demo", "bad=not valid")
    assert bad.returncode == 1


async def test_delete_plain_missing_and_with_finalizer(
    kubectl: Kubectl, crd: None, tmp_path: Path, sandbox: Sandbox
) -> None:
    manifest = write(tmp_path, "w.yaml", widget())
    await kubectl("create", "-f", manifest)
    deleted = await kubectl("delete", "-f", manifest)
    assert deleted.returncode == 0 and 'widget.example.io "demo" deleted' in deleted.stdout
    missing = await kubectl("delete", "-f", manifest)
    assert missing.returncode == 1
    assert "Error from server (NotFound): error when deleting" in missing.stderr
    assert (await kubectl("delete", "-f", manifest, "--ignore-not-found")).returncode == 0
    held = widget("held")
    held["metadata"]["finalizers"] = ["example.io/hold"]
    await kubectl("create", "-f", write(tmp_path, "h.yaml", held))
    task = asyncio.create_task(kubectl("delete", "widget", "held", "--timeout=20s"))
    await asyncio.sleep(1.5)
    assert not task.done(), "kubectl delete waits while a finalizer holds the object"
    got = json.loads((await kubectl("get", "widget", "held", "-o", "json")).stdout)
    assert got["metadata"]["deletionTimestamp"]
    await kubectl("patch", "widget", "held", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    result = await asyncio.wait_for(task, 25)
    assert result.returncode == 0 and 'widget.example.io "held" deleted' in result.stdout


async def test_delete_cascade_modes(kubectl: Kubectl, tmp_path: Path, sandbox: Sandbox) -> None:
    async def family(name: str) -> None:
        await kubectl(
            "create",
            "-f",
            write(tmp_path, f"{name}.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
        )
        owner = json.loads((await kubectl("get", "cm", name, "-o", "json")).stdout)
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"{name}-child",
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": name,
                        "uid": owner["metadata"]["uid"],
                        "blockOwnerDeletion": True,
                    }
                ],
            },
        }
        await kubectl("create", "-f", write(tmp_path, f"{name}-child.yaml", child))

    await family("orph")
    result = await kubectl("delete", "cm", "orph", "--cascade=orphan")
    assert result.returncode == 0, result.stderr
    await sandbox.control.settle()
    child = json.loads((await kubectl("get", "cm", "orph-child", "-o", "json")).stdout)
    assert "ownerReferences" not in child["metadata"]

    await family("fg")
    result = await kubectl("delete", "cm", "fg", "--cascade=foreground")
    assert result.returncode == 0, result.stderr
    await sandbox.control.settle()
    gone = await kubectl("get", "cm", "fg", "fg-child", "--ignore-not-found", "-o", "name")
    assert gone.stdout.strip() == ""

    await family("bg")
    await kubectl("delete", "cm", "bg")
    await sandbox.control.settle()
    assert (await kubectl("get", "cm", "bg-child", "--ignore-not-found", "-o", "name")).stdout.strip() == ""


async def test_wait_for_jsonpath_condition(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget()))
    task = asyncio.create_task(kubectl("wait", "widget/demo", "--for=jsonpath={.status.state}=ready", "--timeout=20s"))
    await asyncio.sleep(1.0)
    await kubectl(
        "patch", "widget", "demo", "--subresource=status", "--type=merge", "-p", '{"status":{"state":"ready"}}'
    )
    result = await asyncio.wait_for(task, 25)
    assert result.returncode == 0, result.stderr
    assert "widget.example.io/demo condition met" in result.stdout


async def test_get_watch_prints_changes(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget("a")))
    async with kubectl.background("get", "widgets", "-w", "--request-timeout=30s") as proc:
        assert proc.stdout is not None
        first = await read_lines_until(proc.stdout, lambda lines: len(lines) >= 2)
        assert first[0].split()[0] == "NAME" and first[1].split()[0] == "a"
        await kubectl("create", "-f", write(tmp_path, "b.yaml", widget("b")))
        more = await read_lines_until(proc.stdout, lambda lines: len(lines) >= 1)
        assert more[0].split()[0] == "b"
        assert len(more[0].split()) == len(first[0].split()), "watch rows keep the table's columns"


async def test_explain_custom_resource(kubectl: Kubectl, crd: None) -> None:
    result = await kubectl("explain", "widgets.spec")
    assert result.returncode == 0, result.stderr
    assert "KIND:       Widget" in result.stdout and "size\t<integer>" in result.stdout


async def test_raycluster_crd_installs_with_create_and_server_side_apply(kubectl: Kubectl) -> None:
    path = ROOT / "config" / "crd" / "bases" / "ray.io_rayclusters.yaml"
    created = await kubectl("apply", "--server-side", "-f", str(path), deadline=120)
    assert created.returncode == 0, created.stderr
    assert "customresourcedefinition.apiextensions.k8s.io/rayclusters.ray.io serverside-applied" in created.stdout
    waited = await kubectl("wait", "--for=condition=Established", "crd/rayclusters.ray.io", "--timeout=20s")
    assert waited.returncode == 0
    listed = await kubectl("get", "rayclusters")
    assert "No resources found in default namespace." in listed.stderr


async def test_get_prints_printer_columns_and_builtin_columns(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget(size=7)))
    result = await kubectl("get", "widgets")
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "SIZE"] and row.split() == ["demo", "7"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    await kubectl("create", "-f", write(tmp_path, "p.yaml", pod))
    pods = await kubectl("get", "pods")
    assert pods.stdout.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods.stdout.splitlines()[1].split()[:3] == ["p", "0/1", "Pending"]


async def test_typed_generators_send_protobuf_and_work(kubectl: Kubectl) -> None:
    assert (await kubectl("create", "namespace", "team")).stdout.strip() == "namespace/team created"
    cm = await kubectl("create", "configmap", "cm", "-n", "team", "--from-literal=a=b", "--from-literal=c=d")
    assert cm.stdout.strip() == "configmap/cm created", cm.stderr
    secret = await kubectl("create", "secret", "generic", "s", "-n", "team", "--from-literal=k=v")
    assert secret.stdout.strip() == "secret/s created", secret.stderr
    assert (await kubectl("create", "serviceaccount", "robot", "-n", "team")).returncode == 0
    data = json.loads((await kubectl("get", "cm", "cm", "-n", "team", "-o", "json")).stdout)["data"]
    assert data == {"a": "b", "c": "d"}
    secret_obj = json.loads((await kubectl("get", "secret", "s", "-n", "team", "-o", "json")).stdout)
    assert secret_obj["data"] == {"k": "dg=="} and secret_obj["type"] == "Opaque"
    labels = json.loads((await kubectl("get", "ns", "team", "-o", "json")).stdout)["metadata"]["labels"]
    assert labels == {"kubernetes.io/metadata.name": "team"}
    unsupported = await kubectl("create", "deployment", "d", "--image=nginx")
    assert unsupported.returncode == 1 and "unknown format" in unsupported.stderr


async def test_get_all_uses_categories(kubectl: Kubectl, tmp_path: Path) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    await kubectl("create", "-f", write(tmp_path, "svc.yaml", svc))
    result = await kubectl("get", "all")
    assert result.returncode == 0, result.stderr
    assert "service/web" in result.stdout and "ClusterIP" in result.stdout


async def test_advancing_the_clock_ages_objects(kubectl: Kubectl, sandbox: Sandbox, tmp_path: Path) -> None:
    await kubectl(
        "create",
        "-f",
        write(tmp_path, "c.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old"}}),
    )
    sandbox.control.advance_clock(3 * 3600)
    row = (await kubectl("get", "cm", "old", "--no-headers")).stdout.split()
    assert row[0] == "old" and row[-1] == "3h"


async def test_client_side_apply_of_a_huge_object_hits_the_annotation_limit(kubectl: Kubectl, tmp_path: Path) -> None:
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"blob": "x" * 300_000}}
    manifest = write(tmp_path, "big.yaml", big)
    applied = await kubectl("apply", "-f", manifest)
    assert applied.returncode == 1
    assert 'The ConfigMap "big" is invalid: metadata.annotations: Too long: must have at most 262144 bytes' in (
        applied.stderr
    )
    assert (await kubectl("apply", "--server-side", "-f", manifest)).returncode == 0


async def test_validate_warn_prints_unknown_fields_and_drops_them(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    result = await kubectl("create", "--validate=warn", "-f", write(tmp_path, "w.yaml", widget(foo=1)))
    assert result.returncode == 0, result.stderr
    assert 'Warning: unknown field "spec.foo"' in result.stderr
    spec = json.loads((await kubectl("get", "widget", "demo", "-o", "json")).stdout)["spec"]
    assert spec == {"size": 3}


async def test_delete_dry_run_server_keeps_the_object(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget()))
    result = await kubectl("delete", "widget", "demo", "--dry-run=server")
    assert result.returncode == 0 and "(server dry run)" in result.stdout
    assert (await kubectl("get", "widget", "demo", "-o", "name")).stdout.strip() == "widget.example.io/demo"


async def test_builtin_unknown_fields_and_wrong_types(kubectl: Kubectl, tmp_path: Path) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "imagePullPolcy": "Always"}]},
    }
    strict = await kubectl("create", "-f", write(tmp_path, "p.yaml", pod))
    assert strict.returncode == 1
    assert 'strict decoding error: unknown field "spec.containers[0].imagePullPolcy"' in strict.stderr
    typed = dict(pod, spec=True)
    wrong = await kubectl("create", "--validate=false", "-f", write(tmp_path, "t.yaml", typed))
    assert wrong.returncode == 1
    assert "json: cannot unmarshal bool into Go struct field Pod.spec of type v1.PodSpec" in wrong.stderr


@pytest.mark.kubelet
async def test_pod_lifecycle_with_the_fake_kubelet(kubectl: Kubectl, tmp_path: Path) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }
    await kubectl("create", "-f", write(tmp_path, "p.yaml", pod))
    waited = await kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=20s")
    assert waited.returncode == 0 and "pod/web condition met" in waited.stdout
    row = (await kubectl("get", "pods", "--no-headers")).stdout.split()
    assert row[:3] == ["web", "1/1", "Running"]
    deleted = await kubectl("delete", "pod", "web", "--timeout=20s")
    assert deleted.returncode == 0 and 'pod "web" deleted' in deleted.stdout
    assert (await kubectl("get", "pods", "--ignore-not-found", "-o", "name")).stdout.strip() == ""


async def test_replace_with_a_stale_object_is_a_conflict(kubectl: Kubectl, tmp_path: Path) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    await kubectl("create", "-f", write(tmp_path, "c.yaml", cm))
    stale = json.loads((await kubectl("get", "cm", "c", "-o", "json")).stdout)
    await kubectl("patch", "cm", "c", "-p", '{"data":{"a":"2"}}')
    stale["data"] = {"a": "3"}
    result = await kubectl("replace", "-f", write(tmp_path, "stale.yaml", stale))
    assert result.returncode == 1
    assert (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your '
        "changes to the latest version and try again" in result.stderr
    )


async def test_auth_can_i_and_whoami(kubectl: Kubectl) -> None:
    can = await kubectl("auth", "can-i", "create", "pods", "-n", "default")
    assert can.stdout.strip() == "yes", can.stderr
    who = await kubectl("auth", "whoami")
    assert who.returncode == 0 and "system:admin" in who.stdout


async def test_system_namespaces_may_not_be_deleted(kubectl: Kubectl) -> None:
    result = await kubectl("delete", "namespace", "default")
    assert result.returncode == 1
    assert 'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted' in (
        result.stderr
    )


async def test_diff_uses_server_dry_run(kubectl: Kubectl, crd: None, tmp_path: Path) -> None:
    await kubectl("apply", "-f", write(tmp_path, "w.yaml", widget()))
    same = await kubectl("diff", "-f", write(tmp_path, "same.yaml", widget()))
    assert same.returncode == 0 and same.stdout == ""
    changed = await kubectl("diff", "-f", write(tmp_path, "w2.yaml", widget(size=4)))
    assert changed.returncode == 1
    assert "-  size: 3" in changed.stdout and "+  size: 4" in changed.stdout
    spec = json.loads((await kubectl("get", "widget", "demo", "-o", "json")).stdout)["spec"]
    assert spec == {"size": 3}, "diff changes nothing"
