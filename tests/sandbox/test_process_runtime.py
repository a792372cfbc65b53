"""The process runtime with real processes (no Ray): namespaces, env, volumes, probes, restarts, logs, deletion.

Each test runs a sandbox whose kubelet uses ``runtime="process"`` and small shell or Python containers,
and reads everything back through the API (or kubectl) as a user would.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ray_operator.sandbox.kubelet.agent import POD_CIDR
from ray_operator.sandbox.kubelet.process import netns
from ray_operator.sandbox.kubelet.process.runtime import DEFAULT_ROOT, ProcessRuntime, sweep_leftovers
from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl
from tests.sandbox.process_support import namespaces_or_skip, processes_in, runtime_namespaces

PODS = "/api/v1/namespaces/default/pods"
WHOAMI = """
import json, os, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT_HTTPS"]
request = urllib.request.Request(
    f"https://{host}:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
    data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
    headers={"Authorization": "Bearer " + open(sa + "/token").read(), "Content-Type": "application/json"},
)
with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=sa + "/ca.crt")) as answer:
    print(json.load(answer)["status"]["userInfo"]["username"])
"""


@pytest.fixture
async def psb() -> AsyncIterator[Sandbox]:
    namespaces_or_skip()
    async with Sandbox(
        tls=True,
        kubelet=True,
        runtime="process",
        kubelet_options={"max_grace_seconds": 1},
        runtime_options={"backoff_base_seconds": 0.2, "backoff_max_seconds": 0.5},
    ) as sb:
        yield sb
    assert runtime_namespaces(sb.process_runtime.instance) == []


class Client:
    def __init__(self, sb: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sb, self.session = sb, session

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method, self.sb.url + path, json=body, ssl=self.sb.client_ssl_context()
        ) as resp:
            text = await resp.text()
            try:
                import json

                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    async def pod(self, name: str) -> dict[str, Any] | None:
        code, body = await self.call("GET", f"{PODS}/{name}")
        return body if code == 200 else None

    async def until_gone(self, name: str, seconds: float = 20.0) -> None:
        async with asyncio.timeout(seconds):
            while await self.pod(name) is not None:  # noqa: ASYNC110 - polling the API, as a user would
                await asyncio.sleep(0.1)

    async def until(self, name: str, check: Any, seconds: float = 20.0) -> dict[str, Any]:
        last = None
        async with asyncio.timeout(seconds):
            while True:
                last = await self.pod(name)
                if last is not None and check(last):
                    return last
                await asyncio.sleep(0.1)


@pytest.fixture
async def client(psb: Sandbox) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {psb.token}"}) as session:
        yield Client(psb, session)


def pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox:1.36", "command": ["/bin/sh", "-c", script]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec},
    }


def state(p: dict[str, Any], index: int = 0) -> dict[str, Any]:
    statuses = p.get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[index].get("state") or {})


def restarts(p: dict[str, Any]) -> int:
    statuses = p.get("status", {}).get("containerStatuses") or [{}]
    return int(statuses[0].get("restartCount") or 0)


def running(p: dict[str, Any]) -> bool:
    return "running" in state(p)


def ready(p: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


async def logs(client: Client, name: str, until: str, container: str = "") -> str:
    text = ""
    async with asyncio.timeout(15):
        while until not in text:
            await asyncio.sleep(0.1)
            query = f"?container={container}" if container else ""
            code, text = await client.call("GET", f"{PODS}/{name}/log{query}")
            text = str(text) if code == 200 else ""
    return text


async def test_blackhole_route_is_in_place_and_pods_are_reachable_only_from_inside(
    psb: Sandbox, client: Client
) -> None:
    assert netns.has_blackhole(POD_CIDR)
    web_pod = pod("web", "exec python3 -m http.server 8000 --bind 0.0.0.0")
    web_pod["spec"]["containers"][0]["ports"] = [{"containerPort": 8000}]
    await client.call("POST", PODS, web_pod)
    web = await client.until("web", running)
    ip = web["status"]["podIP"]
    assert ipaddress_in_range(ip)
    # from the host namespace the pod range is a blackhole: the connect fails at once, nothing leaves the machine
    with socket.socket() as sock, pytest.raises(OSError) as failure:
        sock.settimeout(2)
        sock.connect((ip, 8000))
    assert failure.value.errno in (errno.EINVAL, errno.ENETUNREACH, errno.EHOSTUNREACH)
    # inside the pod the server answers on its own IP
    rt: ProcessRuntime = psb.process_runtime
    async with asyncio.timeout(15):
        while True:
            code, _ = await rt.exec_in(
                ("default", "web"),
                "main",
                ["python3", "-c", f"import urllib.request as u;u.urlopen('http://{ip}:8000')"],
            )
            if code == 0:
                break
            await asyncio.sleep(0.2)
    # the host reaches the pod's declared port only through the forward the kubelet state lists
    code, state_body = await client.call("GET", "/_sandbox/kubelet/")
    address = state_body["forwards"]["default/web"]["8000"]
    assert address.startswith("127.0.0.1:")
    async with client.session.get(f"http://{address}/") as resp:
        assert resp.status == 200


def ipaddress_in_range(ip: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(ip) in POD_CIDR


async def test_env_volumes_hosts_and_service_account_files(psb: Sandbox, client: Client) -> None:
    await client.call(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"mode": "fast"}},
    )
    await client.call(
        "POST",
        "/api/v1/namespaces/default/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"pw": base64.b64encode(b"pw1").decode()},
        },
    )
    await client.call(
        "POST",
        "/api/v1/namespaces/default/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "envy-svc"},
            "spec": {"selector": {"app": "envy"}, "ports": [{"port": 80}], "publishNotReadyAddresses": True},
        },
    )
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    script = (
        'echo "NAME=$NAME IP=$IP MODE=$MODE PW=$PW X=$X"; cat /etc/hosts; cat /data/mode; echo; '
        f"cat {sa}/namespace; echo; cat /pw/pw; echo; "
        f"python3 -c {shlex.quote(WHOAMI)}; "
        f'[ "$(cat {sa}/ca.crt)" = "{(psb.ca_pem or "").strip()}" ] && echo CA-OK; '
        "echo from-init-$(cat /shared/x); echo END; sleep 60"
    )
    body = pod(
        "envy",
        script,
        container={
            "env": [
                {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "mode"}}},
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                {"name": "X", "value": "$(NAME)-x"},
            ],
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/data"},
                {"name": "shared", "mountPath": "/shared"},
                {"name": "pw", "mountPath": "/pw", "readOnly": True},
            ],
        },
        initContainers=[
            {
                "name": "init",
                "image": "busybox:1.36",
                "command": ["/bin/sh", "-c", "echo hi > /shared/x"],
                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
            }
        ],
        volumes=[
            {"name": "cfg", "configMap": {"name": "cm"}},
            {"name": "shared", "emptyDir": {}},
            {"name": "pw", "secret": {"secretName": "s"}},
        ],
    )
    code, created = await client.call("POST", PODS, body)
    assert code == 201, created
    p = await client.until("envy", running)
    ip = p["status"]["podIP"]
    text = await logs(client, "envy", "END")
    assert f"NAME=envy IP={ip} MODE=fast PW=pw1 X=envy-x" in text
    assert f"{ip}\tenvy-svc.default.svc.cluster.local envy-svc.default.svc envy-svc.default envy-svc" in text
    assert "fast\ndefault\npw1\nsystem:serviceaccount:default:default\nCA-OK\nfrom-init-hi\n" in text
    inits = p["status"]["initContainerStatuses"]
    assert inits[0]["state"]["terminated"]["exitCode"] == 0


async def test_kubectl_logs_reads_the_container_output(psb: Sandbox, client: Client, tmp_path: Path) -> None:
    await client.call("POST", PODS, pod("talker", "echo one; echo two; sleep 60"))
    await client.until("talker", running)
    await logs(client, "talker", "two")
    kubectl = Kubectl(kubeconfig=psb.write_kubeconfig(tmp_path / "kc"), cache_dir=tmp_path / "cache")
    out = await kubectl("logs", "talker")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "one\ntwo\n"
    out = await kubectl("logs", "talker", "-c", "nope")
    assert out.returncode != 0 and "container nope is not valid for pod talker" in out.stderr


async def test_exits_are_restarted_by_policy_with_last_state(client: Client) -> None:
    await client.call("POST", PODS, pod("crashy", "echo run; exit 3"))
    p = await client.until("crashy", lambda p: restarts(p) >= 2)
    last = p["status"]["containerStatuses"][0]["lastState"]
    assert last["terminated"]["exitCode"] == 3 and last["terminated"]["reason"] == "Error"
    assert p["status"]["phase"] == "Running"
    await client.call("POST", PODS, pod("once", "exit 4", restartPolicy="Never"))
    p = await client.until("once", lambda p: p.get("status", {}).get("phase") == "Failed")
    assert state(p)["terminated"]["exitCode"] == 4 and p["status"]["containerStatuses"][0]["restartCount"] == 0
    await client.call("POST", PODS, pod("fine", "exit 0", restartPolicy="OnFailure"))
    p = await client.until("fine", lambda p: p.get("status", {}).get("phase") == "Succeeded")
    assert state(p)["terminated"]["reason"] == "Completed"


async def test_readiness_probes_run_inside_the_pod(client: Client) -> None:
    http = {"httpGet": {"path": "/", "port": "web"}, "periodSeconds": 1}
    body = pod(
        "probed",
        "sleep 1; exec python3 -m http.server 8000",
        container={"readinessProbe": http, "ports": [{"name": "web", "containerPort": 8000}]},
    )
    await client.call("POST", PODS, body)
    p = await client.until("probed", ready)
    assert p["status"]["containerStatuses"][0]["ready"] is True
    failing = {"exec": {"command": ["sh", "-c", "test -e /tmp/ray/ready"]}, "periodSeconds": 1}
    await client.call(
        "POST", PODS, pod("gated", "sleep 2; touch /tmp/ray/ready; sleep 60", container={"readinessProbe": failing})
    )
    p = await client.until("gated", running)
    assert not ready(p)  # /tmp/ray/ready does not exist yet: the exec probe ran in the container's own /tmp/ray
    await client.until("gated", ready)


async def test_containers_that_cannot_run_wait_with_a_reason(client: Client) -> None:
    missing = pod("nocmd", "")
    missing["spec"]["containers"][0]["command"] = ["/no/such/binary"]
    await client.call("POST", PODS, missing)
    p = await client.until(
        "nocmd", lambda p: "waiting" in state(p) and state(p)["waiting"].get("reason") == "ImageNotRunnable"
    )
    assert "does not exist on this machine" in state(p)["waiting"]["message"]
    entry = pod("entrypoint", "")
    del entry["spec"]["containers"][0]["command"]
    await client.call("POST", PODS, entry)
    p = await client.until("entrypoint", lambda p: state(p).get("waiting", {}).get("reason") == "ImageNotRunnable")
    assert "give the container a command" in state(p)["waiting"]["message"]


async def test_deletion_sigterms_then_kills_and_removes_the_namespace(psb: Sandbox, client: Client) -> None:
    await client.call("POST", PODS, pod("stubborn", "trap '' TERM; while true; do sleep 0.2; done"))
    await client.until("stubborn", running)
    rt: ProcessRuntime = psb.process_runtime
    names = runtime_namespaces(rt.instance)
    pod_ns = [n for n in names if not n.endswith("-hub")]
    assert len(pod_ns) == 1 and processes_in(pod_ns)
    await client.call("DELETE", f"{PODS}/stubborn")
    await client.until_gone("stubborn")
    assert pod_ns[0] not in netns.namespaces()
    assert not (netns.NETNS_ETC / pod_ns[0]).exists()


async def test_a_crashed_sandboxs_leftovers_are_removed_and_a_live_ones_kept() -> None:
    namespaces_or_skip()
    dead = f"{netns.PREFIX}dead{os.getpid() % 1000}-p1"
    await asyncio.to_thread(subprocess.run, ["ip", "netns", "add", dead], check=True)
    sleeper = await asyncio.create_subprocess_exec("ip", "netns", "exec", dead, "sleep", "300")
    netns.write_netns_file(dead, "hosts", "127.0.0.1 localhost\n")
    live = ProcessRuntime(api_port=1, ca_pem="", token="t", pod_cidr=POD_CIDR)
    await live.start()  # a start sweeps what crashed sandboxes left
    try:
        assert dead not in netns.namespaces()
        assert sweep_leftovers() == [] and live.hub in netns.namespaces()  # a live sandbox's namespaces stay
        assert await asyncio.wait_for(sleeper.wait(), 10) != 0  # killed: it ran in a namespace only the runtime owns
        assert not (netns.NETNS_ETC / dead).exists()
    finally:
        await live.close()
    assert live.hub not in netns.namespaces()


def test_no_namespaces_gives_one_line_naming_the_fake_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(netns.NamespacesUnavailable) as failure:
        netns.check_support()
    message = str(failure.value)
    assert "\n" not in message and "not running as root" in message and "--runtime fake" in message


async def test_limits_bound_the_container_through_cgroups(psb: Sandbox, client: Client) -> None:
    rt: ProcessRuntime = psb.process_runtime
    if rt.state()["cgroups"] != "v1":
        pytest.skip(f"checks cgroup v1 files; this machine has {rt.state()['cgroups']}")
    limits = {"resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}}
    await client.call("POST", PODS, pod("bounded", "cat /proc/self/cgroup; echo END; sleep 60", container=limits))
    text = await logs(client, "bounded", "END")
    group = f"{rt.prefix}p"
    assert any(group in line and "memory" in line for line in text.splitlines()), text
    assert cgroup_value("memory", group, "memory.limit_in_bytes") == 64 * 1024 * 1024
    assert cgroup_value("cpu", group, "cpu.cfs_quota_us") == 50_000


def cgroup_value(hierarchy: str, prefix: str, name: str) -> int:
    group = next(p for p in Path("/sys/fs/cgroup", hierarchy).iterdir() if p.name.startswith(prefix))
    return int((group / name).read_text())


async def test_etc_hosts_follows_endpoints_in_running_pods(psb: Sandbox, client: Client) -> None:
    rt: ProcessRuntime = psb.process_runtime
    await client.call("POST", PODS, pod("reader", "sleep 120"))
    await client.until("reader", running)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "later-svc"},
        "spec": {"selector": {"app": "later"}, "ports": [{"port": 80}]},
    }
    await client.call("POST", "/api/v1/namespaces/default/services", service)
    await client.call("POST", PODS, pod("later", "sleep 120"))
    later = await client.until("later", ready)
    expected = f"{later['status']['podIP']}\tlater-svc.default.svc.cluster.local"
    async with asyncio.timeout(20):  # the Service poll and the bind-mounted file rewritten in place
        while True:
            _, hosts = await rt.exec_in(("default", "reader"), "main", ["cat", "/etc/hosts"])
            if expected in hosts:
                break
            await asyncio.sleep(0.2)


async def test_log_follow_streams_what_the_container_writes_next(psb: Sandbox, client: Client) -> None:
    await client.call("POST", PODS, pod("ticker", "echo first; sleep 1; echo second; sleep 60"))
    await client.until("ticker", running)
    await logs(client, "ticker", "first")
    url = f"{psb.url}{PODS}/ticker/log?follow=true"
    seen = b""
    async with asyncio.timeout(15), client.session.get(url, ssl=psb.client_ssl_context()) as resp:
        assert resp.status == 200
        async for chunk in resp.content.iter_any():
            seen += chunk
            if b"second" in seen:
                break
    assert seen.startswith(b"first\n") and b"second\n" in seen


CRASHING_SANDBOX = """
import asyncio, json, sys
import aiohttp
from ray_operator.sandbox.server import Sandbox

async def main():
    async with Sandbox(tls=True, kubelet=True, runtime="process") as sb:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan"},
               "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "300"]}]}}
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer " + sb.token}) as s:
            url = sb.url + "/api/v1/namespaces/default/pods"
            async with s.post(url, json=pod, ssl=sb.client_ssl_context()):
                pass
            while True:
                async with s.get(url + "/orphan", ssl=sb.client_ssl_context()) as r:
                    body = await r.json()
                if "running" in (body.get("status", {}).get("containerStatuses") or [{}])[0].get("state", {}):
                    break
                await asyncio.sleep(0.1)
        print("RUNNING", sb.process_runtime.instance, flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_a_sandbox_killed_mid_run_is_cleaned_up_by_the_next_start() -> None:
    namespaces_or_skip()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_SANDBOX, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()
    assert line[:1] == ["RUNNING"], line
    instance = line[1]
    proc.kill()  # no clean-up code runs: namespaces and the pod's process stay behind
    await proc.wait()
    left = runtime_namespaces(instance)
    assert len(left) == 2 and processes_in(left)
    orphans = processes_in(left)
    fresh = ProcessRuntime(api_port=1, ca_pem="", token="t", pod_cidr=POD_CIDR)
    await fresh.start()
    try:
        assert runtime_namespaces(instance) == []
        assert [pid for pid in orphans if running_process(pid)] == []
        assert not (netns.OWNERS_DIR / f"{instance}.pid").exists()
        assert not (DEFAULT_ROOT / instance).exists()
        assert shm_dirs(f"{netns.PREFIX}{instance}-") == []
    finally:
        await fresh.close()


def running_process(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan waits for init to reap it)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def shm_dirs(prefix: str) -> list[str]:
    return [p.name for p in Path("/dev/shm").iterdir() if p.name.startswith(prefix)]


async def test_log_follow_ends_when_the_container_exits(psb: Sandbox, client: Client) -> None:
    await client.call("POST", PODS, pod("brief", "echo a; sleep 1; echo b", restartPolicy="Never"))
    await client.until("brief", running)
    url = f"{psb.url}{PODS}/brief/log?follow=true"
    async with asyncio.timeout(15), client.session.get(url, ssl=psb.client_ssl_context()) as resp:
        body = await resp.read()  # returns only because the stream ends with the container
    assert body == b"a\nb\n"
