"""The fake kubelet against a real sandbox: pods become Running/Ready through the API, and the controls work."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from ray_operator.sandbox.kubelet import FakeKubelet
from ray_operator.sandbox.server import Sandbox

pytestmark = pytest.mark.kubelet


class Api:
    """A minimal authenticated JSON client of the sandbox."""

    def __init__(self, sb: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sb = sb
        self.session = session

    async def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        async with self.session.request(
            method,
            self.sb.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.sb.token}", "Content-Type": content_type},
            ssl=self.sb.client_ssl_context() or True,
        ) as resp:
            payload = await resp.json(content_type=None)
            return resp.status, payload

    async def create_pod(self, name: str, **spec: Any) -> dict[str, Any]:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.41.0"}], **spec},
        }
        code, body = await self.call("POST", "/api/v1/namespaces/default/pods", pod)
        assert code == 201, body
        return dict(body)

    async def pod(self, name: str) -> tuple[int, dict[str, Any]]:
        code, body = await self.call("GET", f"/api/v1/namespaces/default/pods/{name}")
        return code, body

    async def until(self, name: str, check: Callable[[dict[str, Any]], bool], within: float = 10.0) -> dict[str, Any]:
        """Poll the pod (bounded) until ``check`` holds; fail with its last state."""
        body: Any = None
        for _ in range(int(within / 0.05)):
            code, body = await self.pod(name)
            if code == 200 and check(body):
                return dict(body)
            await asyncio.sleep(0.05)
        raise AssertionError(f"pod {name} never satisfied the check; last seen: {body}")

    async def until_gone(self, name: str, within: float = 10.0) -> None:
        for _ in range(int(within / 0.05)):
            if (await self.pod(name))[0] == 404:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"pod {name} was not deleted")


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(sandbox, session)


def ready(pod: dict[str, Any]) -> bool:
    conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
    return pod.get("status", {}).get("phase") == "Running" and conditions.get("Ready") == "True"


def condition(pod: dict[str, Any], kind: str) -> str:
    return str(next(c["status"] for c in pod["status"]["conditions"] if c["type"] == kind))


async def test_created_pod_is_scheduled_and_becomes_running_and_ready(api: Api, sandbox: Sandbox) -> None:
    await api.create_pod("head")
    pod = await api.until("head", ready)
    assert pod["spec"]["nodeName"] == sandbox.kubelet.node_name  # type: ignore[union-attr]
    status = pod["status"]
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.244.0.0/16")
    assert status["hostIP"] and status["startTime"]
    [container] = status["containerStatuses"]
    assert container["ready"] is True and container["started"] is True and "running" in container["state"]
    writes = sandbox.control.request_log(path=r"/pods/head/status$", method="PATCH")
    assert writes, "status must be written through the pods/status subresource"


async def test_steady_pods_cost_no_further_status_writes(api: Api, sandbox: Sandbox) -> None:
    await api.create_pod("steady")
    await api.until("steady", ready)
    await asyncio.sleep(0.3)
    before = len(sandbox.control.request_log(path=r"/pods/steady/status$", method="PATCH"))
    await asyncio.sleep(0.5)
    assert len(sandbox.control.request_log(path=r"/pods/steady/status$", method="PATCH")) == before


async def test_two_pods_get_distinct_ips(api: Api) -> None:
    await api.create_pod("a")
    await api.create_pod("b")
    a, b = await api.until("a", ready), await api.until("b", ready)
    assert a["status"]["podIP"] != b["status"]["podIP"]


async def test_fail_unready_and_ready_controls(api: Api) -> None:
    await api.create_pod("worker")
    await api.until("worker", ready)

    code, body = await api.call("POST", "/_sandbox/kubelet/pods/default/worker/unready")
    assert code == 200, body
    pod = await api.until("worker", lambda p: condition(p, "Ready") == "False")
    assert pod["status"]["phase"] == "Running" and pod["status"]["containerStatuses"][0]["ready"] is False

    code, body = await api.call("POST", "/_sandbox/kubelet/pods/default/worker/ready")
    assert code == 200, body
    await api.until("worker", ready)

    code, body = await api.call("POST", "/_sandbox/kubelet/pods/default/worker/fail", {"reason": "OOMKilled"})
    assert code == 200, body
    pod = await api.until("worker", lambda p: p["status"]["phase"] == "Failed")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 1 and terminated["reason"] == "OOMKilled"


async def test_control_on_a_missing_pod_is_404(api: Api) -> None:
    code, body = await api.call("POST", "/_sandbox/kubelet/pods/default/ghost/fail")
    assert code == 404 and "ghost" in body["error"]


async def test_disabled_kubelet_leaves_pods_pending_until_enabled(api: Api) -> None:
    code, _ = await api.call("POST", "/_sandbox/kubelet/enabled", {"enabled": False})
    assert code == 200
    await api.create_pod("waiting")
    await asyncio.sleep(0.5)
    _, pod = await api.pod("waiting")
    assert not pod["spec"].get("nodeName") and pod.get("status", {}).get("phase") == "Pending"

    code, state = await api.call("POST", "/_sandbox/kubelet/enabled", {"enabled": True})
    assert code == 200 and state["enabled"] is True
    await api.until("waiting", ready)


async def test_scheduling_gates_keep_a_pod_unscheduled(api: Api) -> None:
    await api.create_pod("gated", schedulingGates=[{"name": "example.com/wait"}])
    await api.create_pod("free")
    await api.until("free", ready)
    _, pod = await api.pod("gated")
    assert not pod["spec"].get("nodeName")


async def test_deleted_pod_is_forgotten_and_its_ip_reused(api: Api, sandbox: Sandbox) -> None:
    await api.create_pod("first")
    first = await api.until("first", ready)
    code, _ = await api.call("DELETE", "/api/v1/namespaces/default/pods/first")
    assert code == 200
    await api.until_gone("first")
    await asyncio.sleep(0.2)
    await api.create_pod("second")
    second = await api.until("second", ready)
    assert second["status"]["podIP"] == first["status"]["podIP"]


@pytest.mark.parametrize("sandbox", [{"kubelet": False}], indirect=True)
async def test_watch_resumes_and_relists_after_410(api: Api, sandbox: Sandbox) -> None:
    kubelet = FakeKubelet(
        base_url=sandbox.url,
        token=sandbox.token,
        ssl_context=sandbox.client_ssl_context(),
        node_name="relist-node",
        watch_timeout_seconds=1,
    )
    await kubelet.start()
    try:
        async with asyncio.timeout(10):
            await kubelet.wait_synced()
        await api.create_pod("before")
        await api.until("before", ready)
        # Break the watch (every reconnect fails), let the cluster move on and forget its history...
        code, _ = await api.call(
            "POST", "/_sandbox/faults", {"method": "GET", "path": "^/api/v1/pods$", "count": 10000}
        )
        assert code == 200
        for _ in range(100):
            if any(r["status"] == 500 for r in sandbox.control.request_log(path=r"^/api/v1/pods$")):
                break
            await asyncio.sleep(0.05)
        lists_before = len(list_requests(sandbox))
        await api.create_pod("after-compaction")
        await api.call("POST", "/_sandbox/compact", {})
        await api.call("DELETE", "/_sandbox/faults")
        # ...then the watch resumes from its old resourceVersion, gets 410 Gone and lists again.
        pod = await api.until("after-compaction", ready, within=15)
        assert pod["spec"]["nodeName"] == "relist-node"
        assert len(list_requests(sandbox)) > lists_before, "a 410 must make the kubelet list again"
        resumed = [r for r in sandbox.control.request_log(path=r"^/api/v1/pods$") if r["query"].get("watch")]
        assert all(r["query"].get("resourceVersion") for r in resumed), "every watch resumes from a resourceVersion"
    finally:
        await kubelet.stop()


def list_requests(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r for r in sandbox.control.request_log(path=r"^/api/v1/pods$", method="GET") if "watch" not in r["query"]]


@pytest.mark.parametrize("sandbox", [{"kubelet": False}], indirect=True)
async def test_start_delay_shows_container_creating_before_running(api: Api, sandbox: Sandbox) -> None:
    kubelet = FakeKubelet(
        base_url=sandbox.url, token=sandbox.token, ssl_context=sandbox.client_ssl_context(), start_delay=0.8
    )
    await kubelet.start()
    try:
        await api.create_pod("slow")
        pod = await api.until("slow", lambda p: bool(p.get("status", {}).get("containerStatuses")))
        assert pod["status"]["phase"] == "Pending"
        assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
        running = await api.until("slow", ready)
        assert running["status"]["podIP"] == pod["status"]["podIP"]
    finally:
        await kubelet.stop()


async def test_terminating_pod_is_deleted_once_and_goes_when_its_finalizer_does(api: Api, sandbox: Sandbox) -> None:
    await api.create_pod("held")
    await api.until("held", ready)
    code, _ = await api.call(
        "PATCH",
        "/api/v1/namespaces/default/pods/held",
        {"metadata": {"finalizers": ["example.com/hold"]}},
        "application/merge-patch+json",
    )
    assert code == 200
    code, _ = await api.call("DELETE", "/api/v1/namespaces/default/pods/held")
    assert code == 200
    await api.until("held", lambda p: bool(p["metadata"].get("deletionTimestamp")))
    await asyncio.sleep(0.5)
    deletes = sandbox.control.request_log(path=r"/pods/held$", method="DELETE")
    assert len(deletes) == 2, "the kubelet deletes a terminating pod with grace 0 exactly once"
    code, _ = await api.call(
        "PATCH",
        "/api/v1/namespaces/default/pods/held",
        {"metadata": {"finalizers": None}},
        "application/merge-patch+json",
    )
    assert code == 200
    await api.until_gone("held")
