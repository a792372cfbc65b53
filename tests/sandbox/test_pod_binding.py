"""``pods/binding``: how kube-scheduler assigns a pod, and how the fake kubelet schedules like it.

Controllers that watch pods see ``spec.nodeName`` and the ``PodScheduled`` condition appear in one
write, as on a real cluster; a second binding is a 409 with the scheduler's own conflict text.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ray_operator.sandbox.server import NODE_NAME, Sandbox

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
}


def binding(node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web", "namespace": "default"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


async def test_binding_assigns_the_node_once_and_a_second_binding_conflicts(api_client: Any) -> None:
    from kubernetes_asyncio import client

    core: Any = client.CoreV1Api(api_client)  # dict bodies and raw responses, as the tests send them
    await core.create_namespaced_pod("default", POD)
    # The answer is a Status, which the generated client cannot read as a Binding: take it raw.
    response = await core.create_namespaced_pod_binding("web", "default", binding("node-a"), _preload_content=False)
    assert response.status == 201
    assert (await response.json())["status"] == "Success"
    pod = await core.read_namespaced_pod("web", "default")
    assert pod.spec.node_name == "node-a"
    assert [(c.type, c.status) for c in pod.status.conditions] == [("PodScheduled", "True")]
    second = await core.create_namespaced_pod_binding("web", "default", binding("node-b"), _preload_content=False)
    assert second.status == 409
    status = await second.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "node-a"'
    )
    missing = await core.create_namespaced_pod_binding("web", "default", binding(""), _preload_content=False)
    assert missing.status == 422
    assert (await missing.json())["message"] == 'Binding "web" is invalid: target.name: Required value'
    assert (await core.read_namespaced_pod("web", "default")).spec.node_name == "node-a"


@pytest.mark.kubelet
async def test_the_fake_kubelet_schedules_through_pods_binding(sandbox: Sandbox, api_client: Any) -> None:
    from kubernetes_asyncio import client

    core: Any = client.CoreV1Api(api_client)  # dict bodies and raw responses, as the tests send them
    await core.create_namespaced_pod("default", POD)
    for _ in range(200):  # bounded poll: the kubelet works in the background
        if (await core.read_namespaced_pod("web", "default")).status.phase == "Running":
            break
        await asyncio.sleep(0.05)
    pod = await core.read_namespaced_pod("web", "default")
    assert pod.spec.node_name == NODE_NAME
    posts = [r for r in sandbox.control.requests if r["method"] == "POST" and r["path"].endswith("/binding")]
    assert [(r["path"], r["status"]) for r in posts] == [("/api/v1/namespaces/default/pods/web/binding", 201)]
    scheduled = [c for c in pod.status.conditions if c.type == "PodScheduled"]
    assert [c.status for c in scheduled] == ["True"]


async def test_discovery_lists_pods_binding_as_kube_apiserver_does(api_client: Any) -> None:
    from kubernetes_asyncio import client

    resources = (await client.CoreV1Api(api_client).get_api_resources()).resources
    [binding] = [r for r in resources if r.name == "pods/binding"]
    assert (binding.kind, binding.verbs, binding.namespaced) == ("Binding", ["create"], True)
