"""Reconciler at scale: converge N RayClusters of 1 head + W workers on the emulator, against a floor.

Not a test: run ``python benchmarks/reconcile_bench.py [--clusters 1000] [--workers 4]``. It prints the
table recorded in ``docs/performance.md`` ("Reconciler"). Everything is measured in one run:

* **floor**: a minimal script that makes, per RayCluster, the same writes the operator makes — the
  RayCluster, its head Service, the head and worker pods (the very bodies the builders produce), one
  Event per object created, and one status write once every pod is Ready — with the same client
  library and the same concurrency, against a fresh emulator. It knows the answer in advance, so it
  reads nothing but one pod watch.
* **operator**: ``ray-operator run --mode controller`` as its own process against another fresh
  emulator; the driver creates the same RayClusters and waits until every one reports ``ready``.

Both wall time and CPU seconds (client and emulator processes, from ``/proc``) are reported: on a
machine where other work runs, the CPU ratio is the steadier of the two.

Then, on the operator's emulator: API requests per RayCluster (the emulator's request log, by the
operator's User-Agent), writes during a steady period after convergence (target: zero), the operator's
peak RSS (``VmHWM``) above its idle RSS per cached pod, and the time to scale one group 4 → 100 → 4.

Each emulator is its own process (``--role sandbox``) with the fake kubelet (pods become Ready at once,
deletion grace capped at 0), so the operator, the emulator and the driver share the two cores the way
they would on any machine; the floor pays the same emulator costs. All traffic is on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from ray_operator.api.defaulting import apply_defaults
from ray_operator.api.models import RayCluster
from ray_operator.builders import pods as pod_builders
from ray_operator.builders import services
from ray_operator.builders.config import BuildConfig
from ray_operator.kube.client import USER_AGENT, kube_api_client, open_stream, request_json
from ray_operator.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
CLUSTERS = f"/apis/ray.io/v1/namespaces/{NAMESPACE}/rayclusters"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
SERVICES = f"/api/v1/namespaces/{NAMESPACE}/services"
EVENTS = f"/apis/events.k8s.io/v1/namespaces/{NAMESPACE}/events"
DRIVER_AGENT = "reconcile-bench"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOG_SIZE = 2_000_000
SETTLE_SECONDS = 5.0
"""After the last RayCluster reports ready, writes already under way (the last events, a status
refinement) finish; they are reported as the tail, and the steady period starts after it."""


# --------------------------------------------------------------------------------- the emulator role


async def serve_sandbox(kubeconfig: Path) -> None:
    """The ``--role sandbox`` process: an emulator with the fake kubelet until SIGTERM."""
    from ray_operator.devstack import install, operator_settings
    from ray_operator.sandbox.server import Sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with Sandbox(
        tls=True, kubelet=True, kubelet_options={"max_grace_seconds": 0}, log_size=LOG_SIZE, history_size=100_000
    ) as sb:
        tmp = kubeconfig.with_suffix(".tmp")
        sb.write_kubeconfig(tmp)
        settings = operator_settings(kubeconfig=tmp, mode="controller")
        async with kube_api_client(settings, user_agent=DRIVER_AGENT) as api:
            await install(api, settings, webhooks=False)
            await request_json(api, "POST", "/api/v1/namespaces", timeout=10, body={"metadata": {"name": NAMESPACE}})
        tmp.rename(kubeconfig)  # appears only once the emulator is ready
        await stop.wait()


@contextlib.asynccontextmanager
async def sandbox_process(workdir: Path, name: str) -> AsyncIterator[tuple[Path, int]]:
    """An emulator process: its kubeconfig (written once it serves) and its pid."""
    kubeconfig = workdir / f"{name}.kubeconfig"
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for below
        [sys.executable, __file__, "--role", "sandbox", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {name} emulator did not start (exit code {proc.poll()})")
            await asyncio.sleep(0.1)
        yield kubeconfig, proc.pid
    finally:
        stop_process(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``), robust to a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM one process this script started, SIGKILL if it has not gone after 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def client_settings(kubeconfig: Path) -> Settings:
    return Settings(kubeconfig=str(kubeconfig), kube_request_timeout_seconds=60.0)


# ------------------------------------------------------------------------------------ shared pieces


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cluster_body(index: int, workers: int) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((ROOT / "samples" / "ray_v1_raycluster.mini.yaml").read_text()) if d]
    body: dict[str, Any] = next(d for d in docs if d["kind"] == "RayCluster")
    body["metadata"] = {"name": f"bench-{index:05d}", "namespace": NAMESPACE}
    group = body["spec"]["workerGroupSpecs"][0]
    group["replicas"] = workers
    group["minReplicas"] = 0
    group["maxReplicas"] = max(workers, 100)
    return body


async def bounded(concurrency: int, count: int, work: Any) -> None:
    """Run ``work(i)`` for i in range(count), ``concurrency`` at a time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class PodReadiness:
    """One watch on the namespace's pods: ready pods per ``ray.io/cluster`` label, and waiters."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.ready: dict[str, set[str]] = {}
        self.pods: dict[str, set[str]] = {}
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await request_json(self.api, "GET", PODS, timeout=60)
        for pod in listed.body["items"]:
            self._observe("ADDED", pod)
        self._task = asyncio.create_task(self._watch(listed.body["metadata"]["resourceVersion"]))

    def _observe(self, kind: str, obj: dict[str, Any]) -> None:
        cluster = (obj["metadata"].get("labels") or {}).get("ray.io/cluster", "")
        name = obj["metadata"]["name"]
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (obj.get("status") or {}).get("conditions") or ()
        )
        pods = self.pods.setdefault(cluster, set())
        ready_pods = self.ready.setdefault(cluster, set())
        if kind == "DELETED":
            pods.discard(name)
            ready_pods.discard(name)
        else:
            pods.add(name)
            (ready_pods.add if ready else ready_pods.discard)(name)

    async def _watch(self, rv: str) -> None:
        query = [("watch", "true"), ("resourceVersion", rv), ("allowWatchBookmarks", "true")]
        response = await open_stream(self.api, PODS, connect_timeout=30, query=query)
        try:
            async for line in response.content:
                event = json.loads(line)
                if event["type"] == "BOOKMARK":
                    continue
                self._observe(event["type"], event["object"])
                async with self._changed:
                    self._changed.notify_all()
        finally:
            response.release()

    async def wait(self, cluster: str, *, ready: int, total: int | None = None) -> None:
        async with self._changed:
            await self._changed.wait_for(
                lambda: (
                    len(self.ready.get(cluster, ())) >= ready
                    and (total is None or len(self.pods.get(cluster, ())) == total)
                )
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


# ---------------------------------------------------------------------------------------- the floor


@dataclasses.dataclass
class FloorRun:
    wall_seconds: float
    client_cpu: float
    """The floor script's own CPU seconds."""
    emulator_cpu: float


async def run_floor(kubeconfig: Path, emulator_pid: int, clusters: int, workers: int, concurrency: int) -> FloorRun:
    config = BuildConfig(operator_version="bench")
    async with kube_api_client(client_settings(kubeconfig), user_agent=DRIVER_AGENT) as api:
        readiness = PodReadiness(api)
        await readiness.start()

        async def event(regarding: dict[str, Any], reason: str, note: str) -> None:
            """One Event per object created, as the operator records (the floor writes what it writes)."""
            meta = regarding["metadata"]
            body = {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": {"generateName": f"{meta['name']}.", "namespace": NAMESPACE},
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
                "reportingController": "floor",
                "reportingInstance": "floor",
                "action": "Create",
                "reason": reason,
                "note": note,
                "type": "Normal",
                "regarding": {
                    "apiVersion": "ray.io/v1",
                    "kind": "RayCluster",
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            }
            await request_json(api, "POST", EVENTS, timeout=60, body=body)

        async def one(index: int) -> None:
            created = (await request_json(api, "POST", CLUSTERS, timeout=60, body=cluster_body(index, workers))).body
            cluster = RayCluster.model_validate(apply_defaults(created))
            name = created["metadata"]["name"]
            group_name = (cluster.spec.worker_group_specs or [])[0].group_name
            bodies = [pod_builders.build_head_pod(cluster=cluster, config=config)]
            bodies += [
                pod_builders.build_worker_pod(
                    cluster=cluster,
                    group_name=group_name,
                    config=config,
                    replica_index=i,
                )
                for i in range(workers)
            ]
            service = services.build_head_service(cluster=cluster, config=config)
            await request_json(api, "POST", SERVICES, timeout=60, body=service)
            await event(created, "CreatedService", f"Created Service {NAMESPACE}/{service['metadata']['name']}")
            made = await asyncio.gather(*(request_json(api, "POST", PODS, timeout=60, body=b) for b in bodies))
            await asyncio.gather(
                *(event(created, "CreatedPod", f"Created Pod {NAMESPACE}/{m.body['metadata']['name']}") for m in made)
            )
            await readiness.wait(name, ready=workers + 1)
            status = {"status": {"state": "ready", "readyWorkerReplicas": workers, "desiredWorkerReplicas": workers}}
            await request_json(
                api,
                "PATCH",
                f"{CLUSTERS}/{name}/status",
                timeout=60,
                body=status,
                content_type="application/merge-patch+json",
            )

        started, cpu, emulator = time.perf_counter(), time.process_time(), cpu_seconds(emulator_pid)
        await bounded(concurrency, clusters, one)
        run = FloorRun(
            wall_seconds=time.perf_counter() - started,
            client_cpu=time.process_time() - cpu,
            emulator_cpu=cpu_seconds(emulator_pid) - emulator,
        )
        await readiness.stop()
        return run


# ------------------------------------------------------------------------------------- the operator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def proc_status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory field in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


@dataclasses.dataclass
class OperatorRun:
    wall_seconds: float = 0.0
    operator_cpu: float = 0.0
    driver_cpu: float = 0.0
    emulator_cpu: float = 0.0
    requests: int = 0
    writes: int = 0
    steady_writes: int = 0
    tail_writes: int = 0
    steady_lease_writes: int = 0
    steady_requests: int = 0
    idle_rss: int = 0
    peak_rss: int = 0
    cached_pods: int = 0
    scale_up_seconds: float = 0.0
    scale_down_seconds: float = 0.0
    by_kind: dict[str, int] = dataclasses.field(default_factory=dict)
    steady_detail: list[str] = dataclasses.field(default_factory=list)


def write_kind(entry: dict[str, Any]) -> str:
    """``POST pods``, ``PUT rayclusters/status``...: a request log entry's verb and collection."""
    parts = entry["path"].split("?")[0].strip("/").split("/")
    after = parts[parts.index("namespaces") + 2 :] if "namespaces" in parts else parts[-1:]
    sub = f"/{after[2]}" if len(after) > 2 else ""
    return f"{entry['method']} {after[0]}{sub}"


async def operator_requests(api: Any) -> list[dict[str, Any]]:
    log = (await request_json(api, "GET", "/_sandbox/requests", timeout=120)).body["items"]
    return [r for r in log if str(r.get("user_agent", "")).startswith(USER_AGENT)]


def is_lease(entry: dict[str, Any]) -> bool:
    """Leader-election renewals: the price of HA (one every retry period), counted on their own."""
    return "/leases" in entry["path"]


async def wait_http_ok(url: str, seconds: float) -> None:
    import aiohttp

    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {seconds:.0f}s")


async def count_ready_clusters(api: Any, total: int, seconds: float) -> None:
    """Wait until ``total`` RayClusters report ``state: ready`` (one watch, from a list)."""
    listed = await request_json(api, "GET", CLUSTERS, timeout=60)
    ready = {o["metadata"]["name"] for o in listed.body["items"] if (o.get("status") or {}).get("state") == "ready"}
    if len(ready) >= total:
        return
    query = [("watch", "true"), ("resourceVersion", listed.body["metadata"]["resourceVersion"])]
    response = await open_stream(api, CLUSTERS, connect_timeout=30, query=query)
    try:
        async with asyncio.timeout(seconds):
            async for line in response.content:
                obj = json.loads(line)["object"]
                name = obj["metadata"]["name"]
                if (obj.get("status") or {}).get("state") == "ready":
                    ready.add(name)
                else:
                    ready.discard(name)
                if len(ready) >= total:
                    return
    finally:
        response.release()


async def run_operator(
    kubeconfig: Path,
    emulator_pid: int,
    clusters: int,
    workers: int,
    concurrency: int,
    steady_seconds: float,
    scale_to: int,
    args_timeout: float = 600.0,
) -> OperatorRun:
    result = OperatorRun()
    probe_port = free_port()
    env = {
        **os.environ,
        "RAY_OPERATOR_MODE": "controller",
        "RAY_OPERATOR_KUBECONFIG": str(kubeconfig),
        "RAY_OPERATOR_WATCH_NAMESPACE": NAMESPACE,
        "RAY_OPERATOR_RECONCILE_CONCURRENCY": str(concurrency),
        "RAY_OPERATOR_PROBE_HOST": "127.0.0.1",
        "RAY_OPERATOR_PROBE_PORT": str(probe_port),
        "RAY_OPERATOR_METRICS_HOST": "127.0.0.1",
        "RAY_OPERATOR_METRICS_PORT": str(free_port()),
        "RAY_OPERATOR_LOG_LEVEL": "warning",
    }
    operator = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped below
        [str(Path(sys.executable).with_name("ray-operator")), "run"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        await wait_http_ok(f"http://127.0.0.1:{probe_port}/readyz", 60)
        progress("operator ready")
        await asyncio.sleep(1.0)
        result.idle_rss = proc_status(operator.pid, "VmRSS")
        async with kube_api_client(client_settings(kubeconfig), user_agent=DRIVER_AGENT) as api:

            async def create(index: int) -> None:
                await request_json(api, "POST", CLUSTERS, timeout=60, body=cluster_body(index, workers))

            started, cpu = time.perf_counter(), time.process_time()
            operator_cpu, emulator_cpu = cpu_seconds(operator.pid), cpu_seconds(emulator_pid)
            waiter = asyncio.create_task(count_ready_clusters(api, clusters, seconds=3600))
            await bounded(concurrency, clusters, create)
            await waiter
            result.wall_seconds = time.perf_counter() - started
            result.driver_cpu = time.process_time() - cpu
            result.operator_cpu = cpu_seconds(operator.pid) - operator_cpu
            result.emulator_cpu = cpu_seconds(emulator_pid) - emulator_cpu
            progress(f"operator converged in {result.wall_seconds:.1f} s")

            converged = await operator_requests(api)
            counted = [r for r in converged if not is_lease(r)]
            result.requests = len(counted)
            result.writes = sum(1 for r in counted if r["method"] in WRITE_METHODS)
            for r in counted:
                if r["method"] in WRITE_METHODS:
                    key = write_kind(r)
                    result.by_kind[key] = result.by_kind.get(key, 0) + 1
            await asyncio.sleep(SETTLE_SECONDS)
            settled = await operator_requests(api)
            tail = [r for r in settled[len(converged) :] if r["method"] in WRITE_METHODS and not is_lease(r)]
            result.tail_writes = len(tail)
            progress(f"steady state for {steady_seconds:.0f} s")
            await asyncio.sleep(steady_seconds)
            steady = (await operator_requests(api))[len(settled) :]
            steady_writes = [r for r in steady if r["method"] in WRITE_METHODS]
            result.steady_requests = sum(1 for r in steady if not is_lease(r))
            result.steady_writes = sum(1 for r in steady_writes if not is_lease(r))
            result.steady_lease_writes = sum(1 for r in steady_writes if is_lease(r))
            result.steady_detail = sorted({write_kind(r) for r in steady_writes if not is_lease(r)})
            pods = (await request_json(api, "GET", PODS, timeout=120)).body["items"]
            result.cached_pods = len(pods)
            result.peak_rss = proc_status(operator.pid, "VmHWM")

            readiness = PodReadiness(api)
            await readiness.start()
            name = "bench-00000"
            replicas_path = "/spec/workerGroupSpecs/0/replicas"
            for target, attr in ((scale_to, "scale_up_seconds"), (workers, "scale_down_seconds")):
                patch = [{"op": "replace", "path": replicas_path, "value": target}]
                begun = time.perf_counter()
                await request_json(
                    api,
                    "PATCH",
                    f"{CLUSTERS}/{name}",
                    timeout=60,
                    body=patch,
                    content_type="application/json-patch+json",
                )
                try:
                    await asyncio.wait_for(readiness.wait(name, ready=target + 1, total=target + 1), args_timeout)
                except TimeoutError:
                    raise RuntimeError(
                        f"{name} did not reach {target} ready workers: pods {sorted(readiness.pods.get(name, ()))}, "
                        f"ready {sorted(readiness.ready.get(name, ()))}"
                    ) from None
                setattr(result, attr, time.perf_counter() - begun)
                progress(f"scaled to {target} in {getattr(result, attr):.1f} s")
            await readiness.stop()
    finally:
        stop_process(operator)
    return result


# ----------------------------------------------------------------------------------------- printing


def report(args: argparse.Namespace, floor: FloorRun | None, run: OperatorRun) -> str:
    pods = args.clusters * (args.workers + 1)
    per_pod = (run.peak_rss - run.idle_rss) / max(run.cached_pods, 1)
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"{args.clusters} RayClusters x (1 head + {args.workers} workers) = {pods} pods, "
        f"concurrency {args.concurrency} (floor clusters in flight = operator reconcile workers)",
        "",
        "| measure | operator | floor | ratio (operator / floor) |",
        "|---|---|---|---|",
    ]
    if floor is not None:
        ours = run.operator_cpu + run.driver_cpu + run.emulator_cpu
        theirs = floor.client_cpu + floor.emulator_cpu
        lines += [
            f"| wall time to converge | {run.wall_seconds:.1f} s | {floor.wall_seconds:.1f} s "
            f"| {run.wall_seconds / floor.wall_seconds:.2f} |",
            f"| CPU seconds to converge: client + emulator | operator {run.operator_cpu:.1f} + driver "
            f"{run.driver_cpu:.1f} + emulator {run.emulator_cpu:.1f} = {ours:.1f} | script {floor.client_cpu:.1f} "
            f"+ emulator {floor.emulator_cpu:.1f} = {theirs:.1f} | {ours / theirs:.2f} |",
        ]
    else:
        lines.append(f"| wall time to converge | {run.wall_seconds:.1f} s | (skipped) | |")
    floor_writes = 2 * (args.workers + 1 + 1) + 1  # pods and the Service, an Event each, one status
    lines += [
        f"| API requests per RayCluster (operator's) | {run.requests / args.clusters:.1f} "
        f"({run.writes / args.clusters:.1f} writes) | {floor_writes} writes | |",
        f"| writes in the {SETTLE_SECONDS:.0f} s after the last ready | {run.tail_writes} | | |",
        f"| writes in {args.steady_seconds:.0f} s of steady state | {run.steady_writes} "
        f"({run.steady_requests} requests in all; and {run.steady_lease_writes} Lease renewals) | 0 | |",
        f"| operator RSS idle / peak | {run.idle_rss / 2**20:.0f} MiB / {run.peak_rss / 2**20:.0f} MiB | | |",
        f"| peak RSS above idle per cached pod | {per_pod / 1024:.1f} KiB ({run.cached_pods} pods) | | |",
        f"| scale one group {args.workers} → {args.scale_to} (all Ready) | {run.scale_up_seconds:.1f} s | | |",
        f"| scale it {args.scale_to} → {args.workers} (pods gone) | {run.scale_down_seconds:.1f} s | | |",
        "",
        "operator writes by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(run.by_kind.items())),
        "steady-state writes: " + (", ".join(run.steady_detail) or "none"),
    ]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        workdir = Path(tmp)
        floor: FloorRun | None = None
        if not args.skip_floor:
            async with sandbox_process(workdir, "floor") as (kubeconfig, pid):
                floor = await run_floor(kubeconfig, pid, args.clusters, args.workers, args.concurrency)
            progress(f"floor converged in {floor.wall_seconds:.1f} s")
        async with sandbox_process(workdir, "operator") as (kubeconfig, pid):
            run = await run_operator(
                kubeconfig, pid, args.clusters, args.workers, args.concurrency, args.steady_seconds, args.scale_to
            )
    print(report(args, floor, run))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("driver", "sandbox"), default="driver")
    parser.add_argument("--kubeconfig", type=Path)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    parser.add_argument("--scale-to", type=int, default=100)
    parser.add_argument("--skip-floor", action="store_true")
    arguments = parser.parse_args()
    if arguments.role == "sandbox":
        asyncio.run(serve_sandbox(arguments.kubeconfig))
    else:
        asyncio.run(main(arguments))
