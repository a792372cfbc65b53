"""Issue-3 acceptance details that other tests show only below the HTTP layer, shown here through the server.

Each test drives a running sandbox (the real kubectl or raw HTTP) and pins the text a user sees:
schema list types and int-or-string, the terminating-namespace refusal, pod field selectors, the raw
``Warning`` header of ``fieldValidation=Warn``, faults that hit exactly the next N matching requests,
and the ``ray-operator sandbox`` command stopping cleanly on SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                "groups": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
                    },
                },
            },
        }
    },
}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gizmos.example.io"},
    "spec": {
        "group": "example.io",
        "scope": "Namespaced",
        "names": {"kind": "Gizmo", "plural": "gizmos", "singular": "gizmo", "listKind": "GizmoList"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": SCHEMA}}],
    },
}


def gizmo(name: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": "example.io/v1", "kind": "Gizmo", "metadata": {"name": name}, "spec": spec})


async def test_int_or_string_and_list_types_are_enforced_by_the_server(kubectl: Kubectl) -> None:
    out = await kubectl("apply", "-f", "-", input=json.dumps(CRD))
    assert out.returncode == 0, out.stderr
    ok = await kubectl("create", "-f", "-", input=gizmo("a", port=8080, tags=["x", "y"], groups=[{"name": "g"}]))
    assert ok.returncode == 0, ok.stderr
    named = await kubectl("create", "-f", "-", input=gizmo("b", port="http"))
    assert named.returncode == 0, named.stderr
    stored = json.loads((await kubectl("get", "gizmo", "a", "-o", "json")).stdout)["spec"]
    assert stored["port"] == 8080 and stored["tags"] == ["x", "y"]
    bad_port = await kubectl("create", "-f", "-", input=gizmo("c", port=True))
    assert bad_port.returncode == 1
    assert (
        '* spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    ) in bad_port.stderr
    dup_set = await kubectl("create", "-f", "-", input=gizmo("d", tags=["x", "y", "x"]))
    assert dup_set.returncode == 1
    assert 'The Gizmo "d" is invalid: spec.tags[2]: Duplicate value: "x"' in dup_set.stderr
    dup_map = await kubectl("create", "-f", "-", input=gizmo("e", groups=[{"name": "g"}, {"name": "g", "size": 2}]))
    assert dup_map.returncode == 1
    assert (
        'The Gizmo "e" is invalid: spec.groups[1]: Duplicate value: map[string]interface {}{"name":"g"}'
    ) in dup_map.stderr
    assert (await kubectl("get", "gizmos", "-o", "name")).stdout.split() == ["gizmo.example.io/a", "gizmo.example.io/b"]


async def test_creating_in_a_terminating_namespace_is_forbidden(kubectl: Kubectl, sandbox: Sandbox) -> None:
    held = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.io/x"]}}
    assert (await kubectl("create", "namespace", "closing")).returncode == 0
    out = await kubectl("create", "-n", "closing", "-f", "-", input=json.dumps(held))
    assert out.returncode == 0, out.stderr
    out = await kubectl("delete", "namespace", "closing", "--wait=false")
    assert out.returncode == 0, out.stderr
    await sandbox.control.settle()
    phase = await kubectl("get", "namespace", "closing", "-o", "jsonpath={.status.phase}")
    assert phase.stdout == "Terminating"
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}
    out = await kubectl("create", "-n", "closing", "-f", "-", input=json.dumps(other))
    assert out.returncode == 1
    assert (
        'Error from server (Forbidden): error when creating "STDIN": configmaps "late" is forbidden: '
        "unable to create new content in namespace closing because it is being terminated"
    ) in out.stderr


@pytest.mark.kubelet
async def test_pod_field_selectors_on_node_and_phase(kubectl: Kubectl, sandbox: Sandbox) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "runs"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }
    assert (await kubectl("create", "-f", "-", input=json.dumps(pod))).returncode == 0
    out = await kubectl("wait", "pod/runs", "--for=jsonpath={.status.phase}=Running", "--timeout=20s")
    assert out.returncode == 0, out.stderr
    sandbox.control.set_kubelet(False)
    pending = dict(pod, metadata={"name": "waits"})
    assert (await kubectl("create", "-f", "-", input=json.dumps(pending))).returncode == 0

    async def names(selector: str) -> list[str]:
        got = await kubectl("get", "pods", "--field-selector", selector, "-o", "name")
        assert got.returncode == 0, got.stderr
        return got.stdout.split()

    assert await names("spec.nodeName=emulator-node") == ["pod/runs"]
    assert await names("spec.nodeName=") == ["pod/waits"]
    assert await names("status.phase=Running") == ["pod/runs"]
    assert await names("status.phase!=Running,metadata.name=waits") == ["pod/waits"]
    assert await names("spec.restartPolicy=Always") == ["pod/runs", "pod/waits"]
    bad = await kubectl("get", "pods", "--field-selector", "spec.priority=0")
    assert bad.returncode == 1
    assert "field label not supported: spec.priority" in bad.stderr


async def test_field_validation_warn_sends_one_warning_header_per_unknown_field(sandbox: Sandbox) -> None:
    body = {"metadata": {"name": "w", "bogus": 1}, "data": {"k": "v"}, "extra": True}
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as http,
        http.post(
            f"{sandbox.url}/api/v1/namespaces/default/configmaps",
            params={"fieldValidation": "Warn"},
            json=body,
            ssl=sandbox.client_ssl_context() or True,
        ) as resp,
    ):
        assert resp.status == 201
        warnings = resp.headers.getall("Warning")
        stored = await resp.json()
    assert sorted(warnings) == ['299 - "unknown field \\"extra\\""', '299 - "unknown field \\"metadata.bogus\\""']
    assert "extra" not in stored and "bogus" not in stored["metadata"]


async def test_a_fault_hits_exactly_the_next_n_matching_requests(sandbox: Sandbox) -> None:
    sandbox.control.inject_fault(method="GET", path="/configmaps$", count=2, status=429, message="slow down")
    url = f"{sandbox.url}/api/v1/namespaces/default/configmaps"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as http:

        async def call(method: str, target: str, **kwargs: Any) -> tuple[int, Any]:
            async with http.request(method, target, ssl=sandbox.client_ssl_context() or True, **kwargs) as resp:
                return resp.status, await resp.json()

        # Requests that do not match (another method, another path) pass and use up nothing.
        assert (await call("POST", url, json={"metadata": {"name": "c"}}))[0] == 201
        assert (await call("GET", f"{url}/c"))[0] == 200
        first, second, third = [await call("GET", url) for _ in range(3)]
    assert first[0] == second[0] == 429
    assert first[1]["kind"] == "Status" and first[1]["code"] == 429 and first[1]["message"] == "slow down"
    assert third[0] == 200 and [i["metadata"]["name"] for i in third[1]["items"]] == ["c"]
    statuses = [(r["method"], r["status"]) for r in sandbox.control.requests if r["path"].endswith("/configmaps")]
    assert statuses == [("POST", 201), ("GET", 429), ("GET", 429), ("GET", 200)]


async def test_sandbox_command_exits_zero_on_sigint(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ray_operator",
        "sandbox",
        "--api-only",
        "--no-kubelet",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert b"sandbox API server at https://127.0.0.1:" in line and kubeconfig.exists()
        version = await Kubectl(kubeconfig=kubeconfig, cache_dir=tmp_path / "c")("version", "-o", "json")
        assert json.loads(version.stdout)["serverVersion"]["minor"] == "32"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_no_op_write_bumps_nothing_and_emits_no_watch_event(sandbox: Sandbox) -> None:
    base = f"{sandbox.url}/api/v1/namespaces/default/configmaps"
    merge = {"Content-Type": "application/merge-patch+json"}
    ssl = sandbox.client_ssl_context() or True
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as http:
        async with http.post(base, json={"metadata": {"name": "cm"}, "data": {"a": "1"}}, ssl=ssl) as resp:
            created = await resp.json()
        rv = created["metadata"]["resourceVersion"]
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "5"}
        async with http.get(base, params=params, ssl=ssl) as watch:
            async with http.patch(f"{base}/cm", data='{"data":{"a":"1"}}', headers=merge, ssl=ssl) as resp:
                assert (await resp.json())["metadata"]["resourceVersion"] == rv
            async with http.patch(f"{base}/cm", data='{"data":{"a":"2"}}', headers=merge, ssl=ssl) as resp:
                changed = await resp.json()
            event = json.loads(await asyncio.wait_for(watch.content.readline(), 5))
    assert event["type"] == "MODIFIED"
    assert event["object"]["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"] != rv
    assert event["object"]["data"] == {"a": "2"}


async def test_service_status_is_written_only_through_its_subresource(sandbox: Sandbox) -> None:
    base = f"{sandbox.url}/api/v1/namespaces/default/services"
    merge = {"Content-Type": "application/merge-patch+json"}
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
    ssl = sandbox.client_ssl_context() or True
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as http:
        svc = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}, **ingress}
        async with http.post(base, json=svc, ssl=ssl) as resp:
            assert resp.status == 201
            assert (await resp.json())["status"] == {"loadBalancer": {}}  # status is not taken on create
        async with http.patch(f"{base}/lb", data=json.dumps(ingress), headers=merge, ssl=ssl) as resp:
            assert (await resp.json())["status"] == {"loadBalancer": {}}  # nor on a main-resource write
        both = {**ingress, "spec": {"sessionAffinity": "ClientIP"}}
        async with http.patch(f"{base}/lb/status", data=json.dumps(both), headers=merge, ssl=ssl) as resp:
            assert resp.status == 200
            written = await resp.json()
    assert written["status"] == ingress["status"]
    assert written["spec"]["sessionAffinity"] == "None"  # a status write leaves the spec alone


async def test_a_429_fault_can_carry_retry_after_as_the_api_server_sends_it(sandbox: Sandbox) -> None:
    """API priority and fairness answers 429 with ``Retry-After`` and ``details.retryAfterSeconds``."""
    sandbox.control.inject_fault(method="GET", path="/configmaps$", status=429, message="slow down", retry_after=3)
    url = f"{sandbox.url}/api/v1/namespaces/default/configmaps"
    ssl = sandbox.client_ssl_context() or True
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as http:
        async with http.get(url, ssl=ssl) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "3"
            assert (await resp.json())["details"] == {"retryAfterSeconds": 3}
        async with http.get(url, ssl=ssl) as resp:
            assert resp.status == 200 and "Retry-After" not in resp.headers
        fault = {"method": "GET", "path": "/configmaps$", "status": 429, "retryAfter": 1}
        async with http.post(f"{sandbox.url}/_sandbox/faults", json=fault, ssl=ssl) as resp:
            assert resp.status == 200 and (await resp.json())["retryAfter"] == 1
        async with http.get(url, ssl=ssl) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "1"
