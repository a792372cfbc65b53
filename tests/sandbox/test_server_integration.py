"""Sandbox composition: the fake kubelet behind ``kubelet=True``, the control API over HTTP, faults, the CLI."""

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
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl


def _headers(sb: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.token}"}


@pytest.mark.kubelet
async def test_kubelet_runs_pods_and_control_api_switches_it(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    await core.create_namespaced_pod(
        "default", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "ray:2.9"}]}}
    )
    for _ in range(200):
        if (await core.read_namespaced_pod("p", "default")).status.phase == "Running":
            break
        await asyncio.sleep(0.05)
    pod = await core.read_namespaced_pod("p", "default")
    assert pod.spec.node_name == "emulator-node" and pod.status.pod_ip
    async with aiohttp.ClientSession(headers=_headers(sandbox)) as http:
        ssl = sandbox.client_ssl_context() or True
        async with http.post(f"{sandbox.url}/_sandbox/kubelet", json={"enabled": False}, ssl=ssl) as resp:
            assert resp.status == 200 and (await resp.json())["enabled"] is False
        async with http.get(f"{sandbox.url}/_sandbox/kubelet/", ssl=ssl) as resp:
            assert resp.status == 200 and (await resp.json())["enabled"] is False
    await core.create_namespaced_pod(
        "default", {"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c", "image": "ray:2.9"}]}}
    )
    await asyncio.sleep(0.5)
    assert (await core.read_namespaced_pod("q", "default")).status.phase == "Pending"


async def test_control_api_over_http_seed_faults_requests_reset(sandbox: Sandbox, api_client: Any) -> None:
    ssl = sandbox.client_ssl_context() or True
    core: Any = client.CoreV1Api(api_client)
    async with aiohttp.ClientSession(headers=_headers(sandbox)) as http:
        seed = {
            "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seeded"}, "data": {"k": "v"}}]
        }
        async with http.post(f"{sandbox.url}/_sandbox/seed", json=seed, ssl=ssl) as resp:
            assert resp.status == 200
        assert (await core.read_namespaced_config_map("seeded", "default")).data == {"k": "v"}
        fault = {"method": "GET", "path": "/configmaps/seeded$", "count": 1, "status": 503}
        async with http.post(f"{sandbox.url}/_sandbox/faults", json=fault, ssl=ssl) as resp:
            assert resp.status == 200
        with pytest.raises(ApiException) as info:
            await core.read_namespaced_config_map("seeded", "default")
        assert info.value.status == 503
        assert (await core.read_namespaced_config_map("seeded", "default")).metadata.name == "seeded"
        async with http.get(f"{sandbox.url}/_sandbox/requests", params={"path": "seeded"}, ssl=ssl) as resp:
            statuses = [r["status"] for r in (await resp.json())["items"]]
        assert statuses == [200, 503, 200]
        bad = {"resourceVersion": "latest"}
        async with http.post(f"{sandbox.url}/_sandbox/compact", json=bad, ssl=ssl) as resp:
            assert resp.status == 400 and "resourceVersion must be an integer" in (await resp.json())["message"]
        async with http.post(f"{sandbox.url}/_sandbox/reset", ssl=ssl) as resp:
            assert resp.status == 200
        with pytest.raises(ApiException) as info:
            await core.read_namespaced_config_map("seeded", "default")
        assert info.value.status == 404
        names = [n.metadata.name for n in (await core.list_namespace()).items]
        assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
        async with aiohttp.ClientSession() as anonymous, anonymous.post(f"{sandbox.url}/_sandbox/reset", ssl=ssl) as r:
            assert r.status == 401


async def test_dropped_connection_and_delay_faults(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    # count=3: aiohttp retries an idempotent request once when a kept-alive connection drops
    sandbox.control.inject_fault(method="GET", path="/namespaces/default$", drop=True, count=3)
    with pytest.raises(aiohttp.ClientError):
        await core.read_namespace("default")
    sandbox.control.clear_faults()
    sandbox.control.inject_fault(method="GET", path="/namespaces/default$", delay=0.3, status=None)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await core.read_namespace("default")).metadata.name == "default"
    assert loop.time() - started >= 0.3


async def test_plain_http_needs_no_token() -> None:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession() as http:
        async with http.get(f"{sb.url}/api/v1/namespaces") as resp:
            body = await resp.json()
        assert resp.status == 200 and len(body["items"]) == 4


async def test_slow_watcher_is_closed_and_writers_proceed() -> None:
    async with Sandbox(tls=False, watcher_queue_size=5) as sb, aiohttp.ClientSession() as http:
        resp = await http.get(
            f"{sb.url}/api/v1/namespaces/default/configmaps", params={"watch": "true", "timeoutSeconds": "30"}
        )
        await asyncio.sleep(0.1)
        payload = "x" * 200_000
        for i in range(100):
            async with http.post(
                f"{sb.url}/api/v1/namespaces/default/configmaps",
                json={"metadata": {"name": f"c{i}"}, "data": {"k": payload}},
            ) as r:
                assert r.status == 201
        lines = []
        async with asyncio.timeout(5):
            async for raw in resp.content:
                lines.append(json.loads(raw))
        resp.close()
        assert 0 < len(lines) < 100, "the overflowing watcher is closed instead of buffering without bound"
        assert sb.store.watcher_count() == 0


async def test_watch_bookmarks_and_timeout() -> None:
    async with Sandbox(tls=False, bookmark_interval=0.2) as sb, aiohttp.ClientSession() as http:
        async with http.get(
            f"{sb.url}/api/v1/namespaces/default/configmaps",
            params={
                "watch": "True",
                "allowWatchBookmarks": "True",
                "timeoutSeconds": "1",
                "resourceVersion": str(sb.store.rv),
            },
        ) as resp:
            events = [json.loads(raw) async for raw in resp.content]
        assert events and all(e["type"] == "BOOKMARK" for e in events)
        assert events[-1]["object"]["metadata"]["resourceVersion"] == str(sb.store.rv)


async def test_invalid_boolean_is_400() -> None:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession() as http:
        async with http.get(f"{sb.url}/api/v1/pods", params={"watch": "yes"}) as resp:
            body = await resp.json()
        assert resp.status == 400 and 'strconv.ParseBool: parsing "yes"' in body["message"]


async def test_cli_writes_kubeconfig_once_ready_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ray_operator",
        "sandbox",
        "--api-only",
        "--no-kubelet",
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert b"kubectl --kubeconfig" in line and kubeconfig.exists()
        result = await Kubectl(kubeconfig=kubeconfig, cache_dir=tmp_path / "c")("get", "ns", "default", "-o", "name")
        assert result.stdout.strip() == "namespace/default"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.kubelet
async def test_pods_on_the_kubelet_node_terminate_gracefully(sandbox: Sandbox, api_client: Any) -> None:
    core: Any = client.CoreV1Api(api_client)
    await core.create_namespaced_pod(
        "default", {"metadata": {"name": "g"}, "spec": {"containers": [{"name": "c", "image": "ray:2.9"}]}}
    )
    for _ in range(200):
        if (await core.read_namespaced_pod("g", "default")).spec.node_name:
            break
        await asyncio.sleep(0.05)
    sandbox.control.set_kubelet(False)
    await core.delete_namespaced_pod("g", "default")
    terminating = await core.read_namespaced_pod("g", "default")
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.metadata.deletion_grace_period_seconds == 30
    sandbox.control.set_kubelet(True)
    for _ in range(200):
        try:
            await core.read_namespaced_pod("g", "default")
        except ApiException as exc:
            assert exc.status == 404
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the kubelet never finished the pod")


async def test_watch_list_sends_initial_events_then_the_end_bookmark() -> None:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession() as http:
        for name in ("a", "b"):
            async with http.post(f"{sb.url}/api/v1/namespaces/default/configmaps", json={"metadata": {"name": name}}):
                pass
        params = {
            "watch": "true",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "1",
        }
        async with http.get(f"{sb.url}/api/v1/namespaces/default/configmaps", params=params) as resp:
            events = [json.loads(raw) async for raw in resp.content]
        assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:3]] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
            ("BOOKMARK", None),
        ]
        assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
