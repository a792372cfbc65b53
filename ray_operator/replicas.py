"""``ray-operator sandbox --replicas N``: N operator processes against one emulator, so failover can be watched.

Each replica is a real ``ray-operator run`` process (``python -m ray_operator``) with its own webhook,
probe and metrics ports, exactly as N pods of the Deployment would be: all serve the webhooks, one
holds the Lease and reconciles. Kill one (``kill PID`` releases the lease, ``kill -9 PID`` lets it
expire) and watch the other take over with ``kubectl get lease -n ray-system -w``.

The emulator routes the webhook Service to one live replica at a time and moves it to another when
that one exits (a Service's endpoints do the same in a cluster), so admissions keep working through a
failover. Each replica's log lines are forwarded to stderr as ``replica-N event key=value ...``.
The sandbox ends when it is stopped (every replica gets SIGTERM) or when every replica has exited.

Decided against: N runtimes inside the sandbox's own loop (one cannot be killed without the others,
which is the point of the exercise) and fixed ports (several sandboxes may run on one machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import aiohttp
import structlog

from ray_operator.settings import Settings

log = structlog.get_logger("ray_operator.replicas")

__all__ = ["Replica", "ReplicaSet", "replica_argv"]

_QUIET = {"timestamp", "level", "event", "logger"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def replica_argv(settings: Settings, *, webhook_port: int, probe_port: int) -> list[str]:
    """The command line of one replica: the sandbox's operator settings, its own ports, JSON logs."""
    assert settings.kubeconfig is not None
    return [
        sys.executable, "-m", "ray_operator", "run",
        "--mode", settings.mode,
        "--kubeconfig", settings.kubeconfig,
        "--namespace", settings.namespace,
        "--webhook-host", "127.0.0.1", "--webhook-port", str(webhook_port),
        "--probe-host", "127.0.0.1", "--probe-port", str(probe_port),
        "--metrics-host", "127.0.0.1", "--metrics-port", "0",
        "--shutdown-delay-seconds", "0",
        "--log-format", "json",
    ]  # fmt: skip


@dataclass
class Replica:
    index: int
    proc: asyncio.subprocess.Process
    webhook_port: int
    probe_port: int
    identity: str | None = None
    reader: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def describe(self) -> str:
        return (
            f"replica-{self.index}: pid {self.proc.pid}, identity {self.identity or '?'}, "
            f"webhook :{self.webhook_port}, probes http://127.0.0.1:{self.probe_port}/readyz"
        )


class ReplicaSet:
    """Start, watch and stop N operator processes; see the module docstring."""

    def __init__(self, settings: Settings, count: int, *, log_out: TextIO | None = None) -> None:
        if count < 1:
            raise ValueError("--replicas must be at least 1")
        self._settings = settings
        self._count = count
        self._out = log_out if log_out is not None else sys.stderr
        self.replicas: list[Replica] = []
        self.endpoint: Replica | None = None

    async def start(self) -> None:
        for index in range(self._count):
            webhook_port, probe_port = _free_port(), _free_port()
            proc = await asyncio.create_subprocess_exec(
                *replica_argv(self._settings, webhook_port=webhook_port, probe_port=probe_port),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            replica = Replica(index=index, proc=proc, webhook_port=webhook_port, probe_port=probe_port)
            replica.reader = asyncio.create_task(self._forward(replica), name=f"replica-{index}-log")
            self.replicas.append(replica)

    async def _forward(self, replica: Replica) -> None:
        assert replica.proc.stderr is not None
        while line := await replica.proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            try:
                event = json.loads(text)
            except ValueError:
                event = None
            if isinstance(event, dict):
                if event.get("event") == "operator_starting":
                    replica.identity = str(event.get("identity") or "") or None
                rest = " ".join(f"{k}={v}" for k, v in event.items() if k not in _QUIET)
                text = f"{event.get('level', '')} {event.get('event', '')} {rest}".strip()
            print(f"replica-{replica.index} {text}", file=self._out, flush=True)

    async def wait_ready(self, *, stop: asyncio.Event) -> bool:
        """Until every replica's ``/readyz`` is 200 (False when ``stop`` is set or a replica exits first)."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
            while not stop.is_set():
                if any(not r.alive for r in self.replicas):
                    return False
                statuses = [await _readyz(http, r.probe_port) for r in self.replicas]
                if all(status == 200 for status in statuses) and all(r.identity for r in self.replicas):
                    return True
                await asyncio.sleep(0.2)
        return False

    def choose_endpoint(self) -> Replica | None:
        """The live replica the webhook Service should point at: the current one while it lives."""
        if self.endpoint is not None and self.endpoint.alive:
            return self.endpoint
        self.endpoint = next((r for r in self.replicas if r.alive), None)
        return self.endpoint

    async def follow(self, route: Callable[[Replica], None]) -> None:
        """Re-route the webhook Service when its replica exits; return when every replica has exited."""
        current = self.choose_endpoint()
        while any(r.alive for r in self.replicas):
            await asyncio.sleep(0.2)
            chosen = self.choose_endpoint()
            if chosen is not None and chosen is not current:
                log.info("webhook_endpoint_moved", to=f"replica-{chosen.index}", port=chosen.webhook_port)
                route(chosen)
                current = chosen

    async def stop(self, *, timeout: float = 30.0) -> list[int | None]:  # noqa: ASYNC109 - a grace period
        """SIGTERM every live replica, wait for them (SIGKILL after ``timeout``); their exit codes."""
        for replica in self.replicas:
            if replica.alive:
                with contextlib.suppress(ProcessLookupError):
                    replica.proc.send_signal(signal.SIGTERM)
        waits = [asyncio.ensure_future(r.proc.wait()) for r in self.replicas]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=timeout)
            for replica in self.replicas:
                if replica.alive:
                    with contextlib.suppress(ProcessLookupError):
                        replica.proc.kill()
            if pending:
                await asyncio.wait(pending)
        for replica in self.replicas:
            if replica.reader is not None:
                with contextlib.suppress(Exception):
                    await replica.reader
        return [r.proc.returncode for r in self.replicas]


async def _readyz(http: aiohttp.ClientSession, port: int) -> int | None:
    try:
        async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
            return resp.status
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None


def usage_lines(replicas: ReplicaSet, *, kubeconfig: Any, namespace: str) -> list[str]:
    lines = [f"  replicas:    {len(replicas.replicas)} operator processes (one leads, all serve the webhooks):"]
    lines += [f"               {r.describe()}" for r in replicas.replicas]
    lines += [
        f"  failover:    kubectl --kubeconfig {kubeconfig} get lease -n {namespace} -w",
        "               then kill PID (hand-over at once) or kill -9 PID (after the 15 s lease) of the holder",
    ]
    return lines


async def run_replicated_devstack(
    *,
    kubeconfig: Any,
    port: int,
    kubelet: bool,
    mode: Any,
    count: int,
    stop: asyncio.Event,
    manifests: Any = (),
) -> int:
    """``run_devstack`` with ``count`` operator processes instead of one in-process runtime."""
    import tempfile
    from pathlib import Path

    from ray_operator.devstack import _cancelled, admission_round_trip, applied, install, operator_settings
    from ray_operator.kube.client import kube_api_client
    from ray_operator.runtime import EXIT_CRASHED, EXIT_OK
    from ray_operator.sandbox.server import Sandbox
    from ray_operator.sandbox_rbac import operator_kubeconfig

    written: Path | None = None
    replicas: ReplicaSet | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="ray-operator-devstack-") as tmp:
            async with Sandbox(tls=True, port=port, kubelet=kubelet) as sb:
                admin = operator_settings(kubeconfig=sb.write_kubeconfig(Path(tmp) / "admin.kubeconfig"), mode=mode)
                webhooks = mode != "controller"
                async with kube_api_client(admin) as api_client:
                    await install(api_client, admin, webhooks=webhooks)
                    # Every replica is confined to config/rbac, as the Deployment's pods are (sandbox_rbac).
                    internal = await operator_kubeconfig(sb, api_client, Path(tmp) / "operator.kubeconfig")
                settings = operator_settings(kubeconfig=internal, mode=mode)
                replicas = ReplicaSet(settings, count)
                await replicas.start()
                if not await replicas.wait_ready(stop=stop):
                    if stop.is_set():
                        return EXIT_OK
                    log.error("devstack_failed", reason="a replica exited before every replica was ready")
                    return EXIT_CRASHED

                def route(replica: Replica) -> None:
                    if webhooks:
                        sb.register_service_endpoint(
                            settings.namespace, settings.webhook_service_name, 443, "127.0.0.1", replica.webhook_port
                        )

                chosen = replicas.choose_endpoint()
                assert chosen is not None
                route(chosen)
                if webhooks:
                    async with kube_api_client(admin) as api_client:
                        await admission_round_trip(api_client)
                written = sb.write_kubeconfig(kubeconfig)
                lines = [
                    f"ray-operator sandbox is ready: API server {sb.url}, {count} operators in {mode} mode.",
                    f"  kubeconfig:  {written}",
                    f"  try:         kubectl --kubeconfig {written} apply -f samples/ray_v1_raycluster.mini.yaml",
                    *usage_lines(replicas, kubeconfig=written, namespace=settings.namespace),
                    "  Stop with Ctrl-C.",
                ]
                print("\n".join(lines), flush=True)
                async with contextlib.AsyncExitStack() as stack:
                    if manifests:
                        view = await stack.enter_async_context(applied(admin, manifests))  # the user's objects
                        stack.push_async_callback(_cancelled, view)
                    following = asyncio.ensure_future(replicas.follow(route))
                    stopping = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    following.cancel()
                    stopping.cancel()
                if not stop.is_set():
                    log.error("devstack_failed", reason="every operator replica exited")
                    return EXIT_CRASHED
                codes = await replicas.stop()
                return EXIT_OK if all(code in (0, -signal.SIGKILL, -signal.SIGTERM) for code in codes) else EXIT_CRASHED
    finally:
        if replicas is not None:
            await replicas.stop()
        if written is not None:
            with contextlib.suppress(OSError):
                written.unlink()
