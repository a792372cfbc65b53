"""What the Ray autoscaler sends, answered as the API server answers it (each request shape from the
autoscaler's own traffic): JSON patch with replace-as-add, ``test`` and ``-``, URL-encoded label selectors,
lists at ``resourceVersionMatch=NotOlderThan``, CRD defaults, ``pods/resize`` and ``pods/log``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ray_operator.api.crd import build_crd
from ray_operator.sandbox.server import Sandbox

JSON_PATCH = "application/json-patch+json"
RC = "/apis/ray.io/v1/namespaces/default/rayclusters"


class Raw:
    def __init__(self, sb: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sb, self.session = sb, session

    async def __call__(self, method: str, path: str, body: Any = None, ct: str = "application/json") -> tuple[int, Any]:
        data = json.dumps(body) if body is not None else None
        async with self.session.request(
            method, self.sb.url + path, data=data, headers={"Content-Type": ct}, ssl=self.sb.client_ssl_context()
        ) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


@pytest.fixture
async def raw(sandbox: Sandbox) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as session:
        call = Raw(sandbox, session)
        code, body = await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", build_crd())
        assert code == 201, body
        yield call


def cluster(name: str, label: str) -> dict[str, Any]:
    pod = {"spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.60.0"}]}}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "labels": {"ray.io/cluster": label}},
        "spec": {
            "rayVersion": "2.60.0",
            "headGroupSpec": {"rayStartParams": {}, "template": pod},
            "workerGroupSpecs": [
                {"groupName": "g", "minReplicas": 0, "maxReplicas": 3, "rayStartParams": {}, "template": pod}
            ],
        },
    }


async def create(raw: Raw, name: str, label: str = "x") -> dict[str, Any]:
    code, body = await raw("POST", RC, cluster(name, label))
    assert code == 201, body
    return dict(body)


async def test_replace_of_a_missing_member_acts_as_add_but_a_missing_parent_still_fails(raw: Raw) -> None:
    await create(raw, "c")
    scale = [
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["w1"]}},
    ]
    code, body = await raw("PATCH", f"{RC}/c", scale, JSON_PATCH)
    assert code == 200, body
    group = body["spec"]["workerGroupSpecs"][0]
    assert group["replicas"] == 2 and group["scaleStrategy"] == {"workersToDelete": ["w1"]}
    code, body = await raw("PATCH", f"{RC}/c", [{"op": "replace", "path": "/spec/nope/x", "value": 1}], JSON_PATCH)
    assert code == 422
    code, body = await raw(
        "PATCH", f"{RC}/c", [{"op": "replace", "path": "/spec/workerGroupSpecs/5", "value": {}}], JSON_PATCH
    )
    assert code == 422


async def test_test_operation_guards_a_finalizer_append(raw: Raw) -> None:
    created = await create(raw, "c")
    rv = created["metadata"]["resourceVersion"]
    guarded = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/finalizers", "value": []},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "ray.io/autoscaler"},
    ]
    code, body = await raw("PATCH", f"{RC}/c", guarded, JSON_PATCH)
    assert code == 200 and body["metadata"]["finalizers"] == ["ray.io/autoscaler"]
    code, body = await raw("PATCH", f"{RC}/c", guarded, JSON_PATCH)  # the resourceVersion moved on
    assert code == 422 and body["reason"] == "Invalid"


async def test_url_encoded_label_selector_and_not_older_than_lists(raw: Raw) -> None:
    created = await create(raw, "a", label="a")
    await create(raw, "b", label="b")
    code, body = await raw("GET", f"{RC}?labelSelector=ray.io%2Fcluster%3Da")
    assert code == 200 and [i["metadata"]["name"] for i in body["items"]] == ["a"]
    rv = created["metadata"]["resourceVersion"]
    code, body = await raw(
        "GET", f"{RC}?labelSelector=ray.io%2Fcluster%3Db&resourceVersion={rv}&resourceVersionMatch=NotOlderThan"
    )
    assert code == 200 and [i["metadata"]["name"] for i in body["items"]] == ["b"]
    assert int(body["metadata"]["resourceVersion"]) >= int(rv)


async def test_crd_defaults_fill_what_the_autoscaler_reads(raw: Raw) -> None:
    body = await create(raw, "c")
    group = body["spec"]["workerGroupSpecs"][0]
    assert group["replicas"] == 0 and group["numOfHosts"] == 1  # v2 raises on a group without replicas


async def test_pods_resize_changes_only_container_resources(raw: Raw) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]},
    }
    code, _ = await raw("POST", "/api/v1/namespaces/default/pods", pod)
    assert code == 201
    patch = {"spec": {"containers": [{"name": "c", "image": "other", "resources": {"limits": {"cpu": "2"}}}]}}
    code, body = await raw(
        "PATCH", "/api/v1/namespaces/default/pods/p/resize", patch, "application/strategic-merge-patch+json"
    )
    assert code == 200, body
    container = body["spec"]["containers"][0]
    assert container["resources"]["limits"]["cpu"] == "2" and container["image"] == "i"
    assert body["status"]["phase"] == "Pending"  # status is not the resize subresource's to change


async def test_pod_log_errors_are_the_api_servers(raw: Raw) -> None:
    code, body = await raw("GET", "/api/v1/namespaces/default/pods/missing/log")
    assert code == 404 and body["message"] == 'pods "missing" not found'
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "two"},
        "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]},
    }
    assert (await raw("POST", "/api/v1/namespaces/default/pods", pod))[0] == 201
    code, body = await raw("GET", "/api/v1/namespaces/default/pods/two/log")
    assert code == 400 and body["message"] == "a container name must be specified for pod two, choose one of: [a b]"
    code, body = await raw("GET", "/api/v1/namespaces/default/pods/two/log?container=a")
    assert code == 400 and "the fake kubelet runs no containers" in body["message"]
