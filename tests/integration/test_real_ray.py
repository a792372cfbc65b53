"""Real Ray, managed by our operator, on this machine: the sandbox's process runtime runs every pod.

(a) the mini sample becomes ready, ``ray status`` in the head lists both nodes and a submitted job's
tasks run on both; (c) deleting the RayCluster stops every process and removes every namespace;
(b) the autoscaler sample: the real Ray autoscaler (v1 and v2) patches ``replicas`` up for a job that
needs more CPUs, our operator creates the workers, the job finishes, and after the idle timeout the
autoscaler scales down through ``workersToDelete`` and our operator deletes exactly those pods - the
request log shows every autoscaler request answered 200.

These skip with the reason where network namespaces cannot be made, except under CI=true.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ray_operator.kube.client import kube_api_client
from ray_operator.sandbox.kubelet.process import netns
from ray_operator.sandbox.kubelet.process.runtime import ProcessRuntime
from ray_operator.sandbox.server import Sandbox
from tests.integration.conftest import StackFactory
from tests.integration.rayclusters import Api, fast_settings, sample, wait_until
from tests.sandbox.process_support import leftovers, namespaces_or_skip, runtime_namespaces

PROCESS = {"tls": True, "kubelet": True, "runtime": "process", "kubelet_options": {"max_grace_seconds": 3}}
RAY = Path(sys.executable).parent / "ray"
USER_AGENT = "real-ray-test"

SPREAD_JOB = """
import ray, time
ray.init()
@ray.remote(num_cpus=1, scheduling_strategy="SPREAD")
def where():
    time.sleep(2)
    return ray.util.get_node_ip_address()
print("NODES", sorted(set(ray.get([where.remote() for _ in range(4)]))))
"""

SCALE_JOB = """
import ray, time
ray.init()
@ray.remote(num_cpus=1)
def work():
    time.sleep(10)
    return ray.util.get_node_ip_address()
print("NODES", sorted(set(ray.get([work.remote() for _ in range(2)]))))
"""


@pytest.fixture(autouse=True)
def _needs_namespaces_and_ray() -> Iterator[None]:
    """Skip where this cannot run; afterwards (the sandbox closed) no namespace or Ray process may be left."""
    namespaces_or_skip()
    if not RAY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the real Ray tests: install the test extra (it pins ray)")
        pytest.skip("ray is not installed in this environment (pip install -e '.[test]')")
    yield
    assert leftovers() == []


async def submit(address: str, script: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(RAY),
        "job",
        "submit",
        "--address",
        f"http://{address}",
        "--",
        "python",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 240)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    return text


def nodes_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("NODES "))


def head_of(pods: list[dict[str, Any]]) -> dict[str, Any]:
    return next(p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "head")


def pod_namespaces(rt: ProcessRuntime) -> list[str]:
    return [n for n in runtime_namespaces(rt.instance) if n != rt.hub]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


@pytest.mark.parametrize("sandbox", [PROCESS], indirect=True)
async def test_mini_cluster_runs_real_ray_and_deleting_it_stops_every_process(
    sandbox: Sandbox, start_operator: StackFactory, kubeconfig_path: Path
) -> None:
    stack = await start_operator(settings=fast_settings(kubeconfig_path))
    rt: ProcessRuntime = sandbox.process_runtime
    assert netns.has_blackhole(netns_cidr())
    async with kube_api_client(stack.settings, user_agent=USER_AGENT) as client:
        api = Api(client)
        body = sample("ray_v1_raycluster.mini.yaml")
        name = body["metadata"]["name"]
        await api.create_cluster(body)
        await wait_until(lambda: api.ready(name, workers=1), seconds=180, interval=0.5, what="the mini cluster ready")
        pods = await api.pods(name)
        head = head_of(pods)
        ips = sorted(p["status"]["podIP"] for p in pods)

        code, status = await rt.exec_in(("default", head["metadata"]["name"]), "ray-head", ["ray", "status"])
        assert code == 0, status
        assert " 1 headgroup" in status and " 1 workers" in status and "/2.0 CPU" in status

        address = rt.forwards()[f"default/{head['metadata']['name']}"]["8265"]
        output = await submit(address, SPREAD_JOB)
        assert nodes_line(output) == f"NODES {ips}"  # Ray node IPs are the pods' IPs, and both ran tasks

        mismatch = [e for e in await api.events() if e.get("reason") == "RayVersionMismatch"]
        assert len(mismatch) == 1 and mismatch[0]["type"] == "Warning"

        namespaces = pod_namespaces(rt)
        assert len(namespaces) == 2
        pids = [pid for ns in namespaces for pid in netns.pids_in(ns)]
        assert len(pids) > 5  # the head's and worker's Ray processes
        await api.delete(f"/apis/ray.io/v1/namespaces/default/rayclusters/{name}")
        await wait_until(lambda: _no_pods(api, name), seconds=60, interval=0.5, what="every pod gone")
        await wait_until(lambda: pod_namespaces(rt) == [], seconds=30, what="every pod namespace removed")
        assert [pid for pid in pids if alive(pid)] == []
        assert not any((netns.NETNS_ETC / ns).exists() for ns in namespaces)


async def _no_pods(api: Api, name: str) -> bool:
    return await api.pods(name, live_only=False) == []


def netns_cidr() -> Any:
    from ray_operator.sandbox.kubelet.agent import POD_CIDR

    return POD_CIDR


@pytest.mark.parametrize("sandbox", [PROCESS], indirect=True)
@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_real_ray_autoscaler_scales_up_and_down_through_the_operator(
    sandbox: Sandbox, start_operator: StackFactory, kubeconfig_path: Path, version: str
) -> None:
    stack = await start_operator(settings=fast_settings(kubeconfig_path))
    rt: ProcessRuntime = sandbox.process_runtime
    async with kube_api_client(stack.settings, user_agent=USER_AGENT) as client:
        api = Api(client)
        body = sample("ray_v1_raycluster.autoscaler.yaml")
        name = body["metadata"]["name"]
        options = body["spec"]["autoscalerOptions"]
        options["version"], options["idleTimeoutSeconds"] = version, 5
        group = body["spec"]["workerGroupSpecs"][0]
        if version == "v2":
            group["idleTimeoutSeconds"] = 5
        else:
            group.pop("idleTimeoutSeconds", None)  # a per-group idle timeout needs v2
        small = {"cpu": "1", "memory": "1Gi"}
        group["template"]["spec"]["containers"][0]["resources"] = {"limits": small, "requests": dict(small)}
        await api.create_cluster(body)
        await wait_until(lambda: api.ready(name, workers=0), seconds=180, interval=0.5, what="the head ready")
        head = head_of(await api.pods(name))
        address = rt.forwards()[f"default/{head['metadata']['name']}"]["8265"]

        output = await submit(address, SCALE_JOB)  # the head has no CPUs: only new workers can run it
        workers = [
            p for p in await api.pods(name, live_only=False) if p["metadata"]["name"] != head["metadata"]["name"]
        ]
        worker_ips = sorted(p["status"]["podIP"] for p in workers)
        assert len(workers) == 2 and nodes_line(output) == f"NODES {worker_ips}"
        created = sorted(p["metadata"]["name"] for p in workers)

        async def scaled_down() -> list[str] | None:
            cluster = await api.cluster(name)
            spec = (cluster or {})["spec"]["workerGroupSpecs"][0]
            names = (spec.get("scaleStrategy") or {}).get("workersToDelete")
            live = await api.pods(name, live_only=False)
            if spec.get("replicas") == 0 and names and len(live) == 1:
                return sorted(names)
            return None

        deleted = await wait_until(scaled_down, seconds=120, interval=0.5, what="the autoscaler to scale down")
        assert deleted == created

    requests = list(sandbox.control.requests)
    autoscaler = [r for r in requests if r["user_agent"].startswith("python-requests")]
    assert autoscaler and all(r["status"] == 200 for r in autoscaler), [
        (r["method"], r["path"], r["status"]) for r in autoscaler if r["status"] != 200
    ]
    patches = [r for r in autoscaler if r["method"] == "PATCH"]
    assert len(patches) >= 2 and all(r["content_type"].startswith("application/json-patch+json") for r in patches)
    operator = [r for r in requests if r["user_agent"].startswith("ray-operator")]
    pod_creates = [r for r in operator if r["method"] == "POST" and r["path"] == "/api/v1/namespaces/default/pods"]
    pod_deletes = sorted(
        r["path"].rsplit("/", 1)[1]
        for r in operator
        if r["method"] == "DELETE" and r["path"].startswith("/api/v1/namespaces/default/pods/")
    )
    assert len(pod_creates) == 3  # the head, then the two workers the autoscaler asked for
    assert pod_deletes == created  # exactly the workers the autoscaler named, each once
