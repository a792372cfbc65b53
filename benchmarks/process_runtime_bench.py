"""Ray head and worker start time and memory: through the sandbox's process runtime vs a bare ``ray start``.

Both sides run the same Ray (this environment's) with the same flags, interleaved, in one run:

* **runtime**: a sandbox with ``runtime="process"``; a head pod (``ray start --head --block``) and then a
  worker pod joining it through a Service name, created directly (no operator, so only the runtime is
  measured). Ready = the pod's readiness probe passed: ``GET :52365/api/healthz`` on the head,
  ``/api/local_raylet_healthz`` on the worker, ``periodSeconds: 1``.
* **bare**: the same commands as processes on this host (node IP 127.0.0.1, a private ``--temp-dir``,
  the worker on other agent/metrics ports so both fit one network stack, the dashboard on 127.0.0.1),
  polled on the same URLs every 0.2 s.

Memory is the PSS and RSS sum over the node's processes once ready (every process of the pod's network
namespace; for bare, every descendant of the ``ray start`` process). Processes are stopped by the PIDs
started here (never ``ray stop``). Needs root on Linux (network namespaces). Prints a Markdown table.

    sudo .venv/bin/python benchmarks/process_runtime_bench.py --rounds 3
"""

# Run by hand, one thing at a time: blocking Popen and polling loops keep the timings simple.
# ruff: noqa: ASYNC110, ASYNC220, ASYNC221

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from ray_operator.sandbox.kubelet.process import netns
from ray_operator.sandbox.server import Sandbox

RAY = str(Path(sys.executable).parent / "ray")
HEAD = ["ray", "start", "--head", "--block", "--num-cpus=1", "--dashboard-host=0.0.0.0", "--disable-usage-stats"]
WORKER = ["ray", "start", "--block", "--num-cpus=1", "--disable-usage-stats"]


def memory_of(pids: list[int]) -> tuple[float, float, int]:
    """(PSS MiB, RSS MiB, processes) over ``pids``."""
    pss = rss = 0
    count = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
            count += 1
    return pss / 1024, rss / 1024, count


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


async def wait_url(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(_ok, url):
        if time.monotonic() > deadline:
            raise TimeoutError(url)
        await asyncio.sleep(0.2)


def stop_group(proc: subprocess.Popen[bytes], pids: list[int]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


async def bare_round() -> dict[str, float]:
    tmp = tempfile.mkdtemp(prefix="ray-bare-", dir="/var/tmp")
    env = {**os.environ, "RAY_DEFAULT_OBJECT_STORE_MAX_MEMORY_BYTES": str(512 * 1024 * 1024)}
    common = ["--node-ip-address=127.0.0.1", f"--temp-dir={tmp}"]  # loopback only, own session dir
    t0 = time.monotonic()
    head = subprocess.Popen(
        [
            RAY,
            *[a for a in HEAD[1:] if not a.startswith("--dashboard-host")],
            *common,
            "--port=6390",
            "--dashboard-host=127.0.0.1",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        await wait_url("http://127.0.0.1:52365/api/healthz")
        head_ready = time.monotonic() - t0
        await asyncio.sleep(2)
        head_mem = memory_of(descendants(head.pid))
        t1 = time.monotonic()
        worker = subprocess.Popen(
            [
                RAY,
                *WORKER[1:],
                *common,
                "--address=127.0.0.1:6390",
                "--dashboard-agent-listen-port=52366",
                "--metrics-export-port=8081",
            ],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_url("http://127.0.0.1:52366/api/local_raylet_healthz")
        worker_ready = time.monotonic() - t1
        await asyncio.sleep(2)
        worker_mem = memory_of(descendants(worker.pid))
    finally:
        if worker is not None:
            stop_group(worker, descendants(worker.pid))
        stop_group(head, descendants(head.pid))
        subprocess.run(["rm", "-rf", tmp], check=False)
    return _measured(head_ready, head_mem, worker_ready, worker_mem)


def _measured(head_ready: float, head_mem: Any, worker_ready: float, worker_mem: Any) -> dict[str, Any]:
    """One round's figures: start seconds, PSS, RSS and process count of the head and the worker."""
    return {
        "head_s": head_ready,
        "head_pss": head_mem[0],
        "head_rss": head_mem[1],
        "head_n": head_mem[2],
        "worker_s": worker_ready,
        "worker_pss": worker_mem[0],
        "worker_rss": worker_mem[1],
        "worker_n": worker_mem[2],
    }


def _pod(name: str, argv: list[str], path: str, labels: dict[str, str]) -> dict[str, Any]:
    probe = {"httpGet": {"path": path, "port": 52365}, "periodSeconds": 1, "failureThreshold": 120}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "ray", "image": "ray", "command": argv, "readinessProbe": probe}],
        },
    }


def client_ssl(sb: Sandbox) -> ssl.SSLContext | bool:
    """The sandbox's client TLS context, or aiohttp's default (unused on plain HTTP)."""
    ctx = sb.client_ssl_context()
    return ctx if ctx is not None else True


async def runtime_round(sb: Sandbox, session: aiohttp.ClientSession, n: int) -> dict[str, float]:
    ctx = client_ssl(sb)
    base = f"{sb.url}/api/v1/namespaces/default"

    async def call(method: str, path: str, body: Any = None) -> Any:
        async with session.request(method, base + path, json=body, ssl=ctx) as resp:
            return await resp.json(content_type=None)

    async def ready(name: str) -> None:
        while True:
            pod = await call("GET", f"/pods/{name}")
            conds = (pod.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conds):
                return
            await asyncio.sleep(0.1)

    rt = sb.process_runtime
    head, worker = f"head-{n}", f"worker-{n}"
    t0 = time.monotonic()
    await call("POST", "/pods", _pod(head, HEAD, "/api/healthz", {"bench": head}))
    await asyncio.wait_for(ready(head), 180)
    head_ready = time.monotonic() - t0
    await asyncio.sleep(2)
    head_mem = memory_of(netns.pids_in(rt.state()["namespaces"][f"default/{head}"]))
    t1 = time.monotonic()
    await call("POST", "/pods", _pod(worker, [*WORKER, f"--address=svc-{n}:6379"], "/api/local_raylet_healthz", {}))
    await asyncio.wait_for(ready(worker), 180)
    worker_ready = time.monotonic() - t1
    await asyncio.sleep(2)
    worker_mem = memory_of(netns.pids_in(rt.state()["namespaces"][f"default/{worker}"]))
    for name in (worker, head):
        await call("DELETE", f"/pods/{name}")
    while rt.state()["namespaces"]:
        await asyncio.sleep(0.2)
    return _measured(head_ready, head_mem, worker_ready, worker_mem)


async def main(rounds: int) -> None:
    results: dict[str, list[dict[str, float]]] = {"runtime": [], "bare": []}
    sandbox = Sandbox(tls=True, kubelet=True, runtime="process", kubelet_options={"max_grace_seconds": 2})
    async with sandbox as sb, aiohttp.ClientSession(headers={"Authorization": f"Bearer {sb.token}"}) as session:
        for n in range(rounds):
            svc = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc-{n}"},
                "spec": {
                    "selector": {"bench": f"head-{n}"},
                    "ports": [{"port": 6379}],
                    "publishNotReadyAddresses": True,
                },
            }
            async with session.post(
                f"{sb.url}/api/v1/namespaces/default/services", json=svc, ssl=client_ssl(sb)
            ):
                pass
            results["runtime"].append(await runtime_round(sb, session, n))
            results["bare"].append(await bare_round())
            print(json.dumps({k: v[-1] for k, v in results.items()}), file=sys.stderr, flush=True)
    med = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in results.items()}
    print("| node | runtime ready s | bare ready s | ratio | runtime PSS / RSS MiB | bare PSS / RSS MiB | processes |")
    print("|---|---|---|---|---|---|---|")
    for node in ("head", "worker"):
        r, b = med["runtime"], med["bare"]
        print(
            f"| {node} | {r[node + '_s']:.1f} | {b[node + '_s']:.1f} | {r[node + '_s'] / b[node + '_s']:.2f} | "
            f"{r[node + '_pss']:.0f} / {r[node + '_rss']:.0f} | {b[node + '_pss']:.0f} / {b[node + '_rss']:.0f} | "
            f"{r[node + '_n']:.0f} / {b[node + '_n']:.0f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
