"""Webhook throughput and latency against a floor and a peer, measured in one run (not a test).

For a realistic KubeRay-sized RayCluster AdmissionReview, at concurrency 1 and 32 over keep-alive
HTTPS, this measures validate and mutate on three servers, each in its own process pinned to CPU 0
while the load generator runs on CPU 1:

* **floor** - a bare aiohttp HTTPS endpoint that only parses the body and answers a fixed review;
* **ours** - ``webhook.app`` with the project's real validation and defaulting;
* **ours-noop** - the same server with rule functions that do nothing: what the server itself costs;
* **kopf** - kopf's admission webhook server with handlers calling the same rules (kopf lives in its
  own throwaway venv, created on first use; a tiny fake API answers its discovery).

Load comes from ``wrk`` (``sudo apt-get install wrk``; ``brew install wrk`` on macOS). Without it the
script stops at once and says how to install it: the fallback, a Python aiohttp client
(``--python-load``), is itself slower than the servers it measures, so its ratios mean little and it
is used only when asked for. Servers and load are pinned to separate CPUs with ``taskset`` when the
machine has two or more; otherwise they share the CPU (the banner says so). Ratios are what matter:
ours/floor for p99 (target <= 1.5x) and ours/kopf for throughput (target >= 2x).

    .venv/bin/python benchmarks/webhook_bench.py [--seconds 3] [--rounds 3] [--kopf-venv /tmp/kopf-venv]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SITE_PACKAGES = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
SERVER_NAME = "ray-operator-webhook-service.ray-system.svc"
SAMPLES = (
    "ray_v1_raycluster.complete.yaml",
    "ray_v1_raycluster.autoscaler.yaml",
    "ray_v1_raycluster.heterogeneous.yaml",
)


# --------------------------------------------------------------------------------- inputs
def make_pki(directory: Path) -> tuple[Path, Path, Path]:
    sys.path.insert(0, str(REPO))
    from tests.webhook.tls import make_pki as build

    pki = build(days=2)
    ca, cert, key = directory / "ca.crt", directory / "tls.crt", directory / "tls.key"
    ca.write_bytes(pki.ca_pem)
    cert.write_bytes(pki.cert_pem)
    key.write_bytes(pki.key_pem)
    return ca, cert, key


def review_body() -> tuple[bytes, str]:
    for name in SAMPLES:
        path = REPO / "samples" / name
        if path.exists():
            obj = yaml.safe_load(path.read_text())
            break
    else:
        raise SystemExit("no RayCluster sample found under samples/")
    obj.setdefault("metadata", {}).setdefault("namespace", "default")
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
            "resource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
            "requestKind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
            "requestResource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
            "name": obj["metadata"]["name"],
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-create"},
        },
    }
    return json.dumps(review).encode(), name


# -------------------------------------------------------------------------------- servers
def serve_floor(port: int, cert: str, key: str) -> None:
    from aiohttp import web

    answer = json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "", "allowed": True}}
    ).encode()

    async def handle(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        assert "request" in body
        return web.Response(body=answer, content_type="application/json")

    app = web.Application(client_max_size=3 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", handle)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    web.run_app(app, host="127.0.0.1", port=port, ssl_context=ctx, access_log=None, print=None)


def serve_ours(port: int, cert: str, key: str, *, noop_rules: bool = False) -> None:
    """Our webhook app; with ``noop_rules`` the rule functions do nothing, which isolates the cost of
    the server (TLS, HTTP, review parsing and answering) from the cost of validation and defaulting."""
    sys.path.insert(0, str(REPO))
    from types import SimpleNamespace

    from ray_operator.logging import configure_logging
    from webhook.app import build_app
    from webhook.rules import Rules, raycluster_rules
    from webhook.server import HttpsServer

    noop = Rules(
        validate=lambda new, old: SimpleNamespace(errors=[], warnings=[]),
        apply_defaults=lambda obj: dict(obj),  # a shallow copy: the diff finds nothing to patch
    )

    configure_logging(level="info", fmt="json", stream=open(os.devnull, "w"))  # noqa: SIM115 - process lifetime
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def main() -> None:
        app = build_app(rules=noop if noop_rules else raycluster_rules(), max_body_bytes=3 * 1024 * 1024)
        await HttpsServer(app, host="127.0.0.1", port=port, ssl_context=ctx).serve()

    asyncio.run(main())


KOPF_OPERATOR = """
import asyncio, sys, threading
sys.path.append({site!r}); sys.path.append({repo!r})
import kopf
from aiohttp import web
from webhook.rules import raycluster_rules

RULES = raycluster_rules()
API_PORT = {api_port}

def fake_api():
    # Just enough discovery for kopf to start its webhook server; watches hang, lists are empty.
    async def handle(request):
        p = request.path
        if request.query.get("watch") in ("true", "1"):
            resp = web.StreamResponse(); await resp.prepare(request); await asyncio.sleep(3600); return resp
        if p == "/api":
            return web.json_response({{"kind": "APIVersions", "versions": ["v1"]}})
        if p == "/apis":
            return web.json_response({{"kind": "APIGroupList", "groups": [
                {{"name": "ray.io", "versions": [{{"groupVersion": "ray.io/v1", "version": "v1"}}],
                 "preferredVersion": {{"groupVersion": "ray.io/v1", "version": "v1"}}}}]}})
        if p == "/apis/ray.io/v1":
            return web.json_response({{"kind": "APIResourceList", "groupVersion": "ray.io/v1", "resources": [
                {{"name": "rayclusters", "singularName": "raycluster", "namespaced": True, "kind": "RayCluster",
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}},
                {{"name": "rayclusters/status", "singularName": "", "namespaced": True, "kind": "RayCluster",
                 "verbs": ["get", "patch", "update"]}}]}})
        if p == "/api/v1":
            return web.json_response({{"kind": "APIResourceList", "groupVersion": "v1", "resources": []}})
        return web.json_response({{"kind": "List", "apiVersion": "v1", "items": [],
                                   "metadata": {{"resourceVersion": "1"}}}})
    app = web.Application(); app.router.add_route("*", "/{{tail:.*}}", handle)
    loop = asyncio.new_event_loop(); runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", API_PORT).start())
    loop.run_forever()

threading.Thread(target=fake_api, daemon=True).start()

@kopf.on.login()
def login(**_):
    return kopf.ConnectionInfo(server="http://127.0.0.1:%d" % API_PORT, insecure=True)

@kopf.on.startup()
def configure(settings, **_):
    settings.admission.server = kopf.WebhookServer(addr="127.0.0.1", port={port}, certfile={cert!r},
                                                   pkeyfile={key!r}, host="127.0.0.1")
    settings.admission.managed = None
    settings.posting.enabled = False

@kopf.on.validate("ray.io", "v1", "rayclusters", id="vrc")
def validate(body, old, **_):
    result = RULES.validate(dict(body), dict(old) if old else None)
    if result.errors:
        raise kopf.AdmissionError("; ".join(f"{{e.path}}: {{e.message}}" for e in result.errors), code=422)

@kopf.on.mutate("ray.io", "v1", "rayclusters", id="mrc")
def mutate(body, patch, **_):
    raw = dict(body)
    defaulted = RULES.apply_defaults(raw)
    for key, value in defaulted.get("spec", {{}}).items():
        if raw.get("spec", {{}}).get(key) != value:
            patch.spec[key] = value
"""


def ensure_kopf_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "kopf").exists():
        print(f"creating {venv} with kopf (pip install kopf)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "kopf"], check=True)
    return venv / "bin" / "kopf"


# ----------------------------------------------------------------------------------- load
WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BENCH_BODY"), "rb"); wrk.body = f:read("*a"); f:close()
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %f %f %f %d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
"""


WRK_MISSING = (
    "webhook_bench: wrk, the HTTP load generator, is not installed.\n"
    "  Debian/Ubuntu: sudo apt-get install wrk    Fedora: sudo dnf install wrk    macOS: brew install wrk\n"
    "  Or run with --python-load to use a Python client instead (much slower than wrk: the ratios it gives\n"
    "  mostly measure the client)."
)


def pinning() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes for the servers (CPU 0) and the load (CPU 1), or none on a single CPU / without taskset."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    return [], []


def preflight(*, python_load: bool) -> str | None:
    """Why the benchmark cannot run as asked (a message saying what to install), or ``None``."""
    if not python_load and shutil.which("wrk") is None:
        return WRK_MISSING
    return None


def run_wrk(url: str, body_file: Path, lua: Path, concurrency: int, seconds: float) -> dict[str, float]:
    cmd = [*pinning()[1], "wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "BENCH_BODY": str(body_file)}, check=True
    ).stdout
    match = re.search(r"BENCH (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests, duration, p50, p99, errors = match.groups()
    return {
        "requests": int(requests),
        "rps": int(requests) / float(duration),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "errors": int(errors),
    }


async def _py_load(url: str, body: bytes, cafile: str, concurrency: int, seconds: float) -> dict[str, float]:
    import aiohttp

    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                    await resp.read()
                    errors += resp.status != 200
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
        "errors": errors,
    }


def run_load(
    url: str, body_file: Path, lua: Path, cafile: Path, concurrency: int, seconds: float, *, python_load: bool
) -> dict[str, float]:
    if not python_load:
        return run_wrk(url, body_file, lua, concurrency, seconds)
    pinned = bool(pinning()[1])
    if pinned:
        os.sched_setaffinity(0, {1})
    try:
        return asyncio.run(_py_load(url, body_file.read_bytes(), str(cafile), concurrency, seconds))
    finally:
        if pinned:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


# ------------------------------------------------------------------------------ orchestration
def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def check_answer(url: str, body: bytes, cafile: Path) -> dict[str, Any]:
    import http.client

    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.check_hostname = False
    host, port = url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    conn.request("POST", "/" + url.split("/", 3)[3], body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"{url} answered {resp.status}: {data}")
    return dict(data.get("response", {}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measured run")
    parser.add_argument("--kopf-venv", type=Path, default=Path("/tmp/kopf-venv"))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--no-kopf", action="store_true", help="skip kopf (its venv needs pip and network once)")
    parser.add_argument(
        "--python-load", action="store_true", help="load from a Python client instead of wrk (ratios less meaningful)"
    )
    parser.add_argument("--serve", choices=["floor", "ours", "ours-noop"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "floor":
        serve_floor(args.port, args.cert, args.key)
        return 0
    if args.serve in ("ours", "ours-noop"):
        serve_ours(args.port, args.cert, args.key, noop_rules=args.serve == "ours-noop")
        return 0

    problem = preflight(python_load=args.python_load)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    ca, cert, key = make_pki(tmp)
    body, sample = review_body()
    body_file = tmp / "review.json"
    body_file.write_bytes(body)
    lua = tmp / "post.lua"
    lua.write_text(WRK_LUA)
    seconds = max(1, round(args.seconds))

    servers: dict[str, tuple[list[str], dict[str, str]]] = {}
    ports: dict[str, int] = {}
    for name in ("floor", "ours", "ours-noop"):
        ports[name] = free_port()
        servers[name] = (
            [
                sys.executable,
                __file__,
                "--serve",
                name,
                "--port",
                str(ports[name]),
                "--cert",
                str(cert),
                "--key",
                str(key),
            ],
            {},
        )
    paths = {
        "floor": {"validate": "/validate", "mutate": "/mutate"},
        "ours": {"validate": "/validate-ray-io-v1-raycluster", "mutate": "/mutate-ray-io-v1-raycluster"},
        "ours-noop": {"validate": "/validate-ray-io-v1-raycluster", "mutate": "/mutate-ray-io-v1-raycluster"},
    }
    if not args.no_kopf:
        try:
            kopf = ensure_kopf_venv(args.kopf_venv)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(
                f"webhook_bench: cannot set up kopf in {args.kopf_venv} ({exc}); "
                "check that pip can reach the package index, or run with --no-kopf",
                file=sys.stderr,
            )
            shutil.rmtree(tmp, ignore_errors=True)
            return 2
        ports["kopf"] = free_port()
        script = tmp / "kopf_operator.py"
        script.write_text(
            KOPF_OPERATOR.format(
                site=str(SITE_PACKAGES),
                repo=str(REPO),
                api_port=free_port(),
                port=ports["kopf"],
                cert=str(cert),
                key=str(key),
            )
        )
        servers["kopf"] = ([str(kopf), "run", "--standalone", "--all-namespaces", "--quiet", str(script)], {})
        paths["kopf"] = {"validate": "/vrc", "mutate": "/mrc"}

    print(
        f"webhook benchmark: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, load from {'aiohttp client' if args.python_load else 'wrk'}; "
        + (
            "servers pinned to CPU 0, load to CPU 1"
            if pinning()[0]
            else "servers and load NOT pinned (one CPU or no taskset)"
        )
        + f"; body {len(body)} bytes ({sample}); {seconds}s per run"
    )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    samples: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    try:
        for name, (cmd, _) in servers.items():
            procs[name] = subprocess.Popen([*pinning()[0], *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for name in servers:
            wait_port(ports[name], procs[name])
            for op in ("validate", "mutate"):
                url = f"https://127.0.0.1:{ports[name]}{paths[name][op]}"
                answer = check_answer(url, body, ca)
                if name != "floor" and not answer.get("allowed"):
                    raise RuntimeError(f"{name} {op} denied the sample: {answer}")
                run_load(url, body_file, lua, ca, 4, 1, python_load=args.python_load)  # warm-up
        # Rounds interleave the servers so that noise from other load on the machine hits all of them alike.
        for round_ in range(args.rounds):
            for op in ("validate", "mutate"):
                for concurrency in (1, 32):
                    for name in servers:
                        url = f"https://127.0.0.1:{ports[name]}{paths[name][op]}"
                        cpu_before = cpu_seconds(procs[name].pid)
                        r = run_load(url, body_file, lua, ca, concurrency, seconds, python_load=args.python_load)
                        # The server's own CPU per answer: unlike latency, barely moved by other load.
                        r["cpu_us"] = (cpu_seconds(procs[name].pid) - cpu_before) / max(r["requests"], 1) * 1e6
                        samples.setdefault((name, op, concurrency), []).append(r)
                        print(
                            f"  round {round_ + 1} {name:6} {op:8} c={concurrency:<3} {r['rps']:8.0f} req/s"
                            f"  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  cpu {r['cpu_us']:5.0f} us/req"
                            f"  errors {r['errors']}",
                            flush=True,
                        )
    finally:
        for name, proc in procs.items():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.returncode not in (0, -15, 1) and proc.stderr is not None:
                print(f"{name}: " + proc.stderr.read().decode()[-2000:], file=sys.stderr)

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    results = {
        key: {metric: median([r[metric] for r in runs]) for metric in ("rps", "p50_ms", "p99_ms", "cpu_us", "errors")}
        for key, runs in samples.items()
    }
    print(f"\nmedians of {args.rounds} rounds")
    for (name, op, concurrency), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        print(
            f"  {name:6} {op:8} c={concurrency:<3} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f} ms"
            f"  p99 {r['p99_ms']:7.2f} ms  cpu {r['cpu_us']:5.0f} us/req"
        )
    print("\nratios (ours / floor p99: target <= 1.5; ours / kopf throughput: target >= 2.0)")
    for op in ("validate", "mutate"):
        for concurrency in (1, 32):
            ours, floor = results[("ours", op, concurrency)], results[("floor", op, concurrency)]
            noop = results[("ours-noop", op, concurrency)]
            line = (
                f"  {op:8} c={concurrency:<3} p99 ours/floor {ours['p99_ms'] / floor['p99_ms']:5.2f}  "
                f"throughput ours/floor {ours['rps'] / floor['rps']:5.2f}  "
                f"cpu/req ours/floor {ours['cpu_us'] / floor['cpu_us']:5.2f}  "
                f"(no-op rules: p99 {noop['p99_ms'] / floor['p99_ms']:5.2f}, "
                f"throughput {noop['rps'] / floor['rps']:5.2f})"
            )
            if ("kopf", op, concurrency) in results:
                kopf_r = results[("kopf", op, concurrency)]
                line += (
                    f"  throughput ours/kopf {ours['rps'] / kopf_r['rps']:5.2f}"
                    f"  p99 kopf/ours {kopf_r['p99_ms'] / ours['p99_ms']:5.2f}"
                )
            print(line)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
