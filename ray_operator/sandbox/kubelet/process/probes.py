"""Container probes run the way the kubelet runs them, but from inside the pod's namespaces.

``httpGet`` and ``tcpSocket`` connect to the pod IP (or ``host``) from the hub namespace - the same
path the kubelet's connection takes on a node; ``exec`` runs the command with ``nsenter`` in the
container's network and mount namespaces and environment, so ``wget http://localhost:52365/...`` in
the operator's Ray probes reaches that pod's own dashboard agent. A probe that does not finish within
``timeoutSeconds`` fails. ``ProbeState`` counts consecutive results against the thresholds.
Decided against: probing from the host namespace (the blackhole route makes pod IPs unreachable there,
by design) and gRPC probes (the operator never writes them; they report failure with a message).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.sandbox.kubelet.process import forward


@dataclass
class ProbeState:
    """Consecutive results of one probe against its thresholds."""

    success_threshold: int
    failure_threshold: int
    ok: bool | None = None
    successes: int = 0
    failures: int = 0

    def record(self, passed: bool) -> bool:
        """Record one result; True when ``ok`` changed."""
        before = self.ok
        if passed:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= self.success_threshold:
                self.ok = True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= self.failure_threshold:
                self.ok = False
        return self.ok != before


def timing(probe: Mapping[str, Any]) -> tuple[float, float, float, int, int]:
    """(initialDelay, period, timeout, successThreshold, failureThreshold) with the API defaults."""

    def num(key: str, default: int) -> int:
        value = probe.get(key)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default

    delay = probe.get("initialDelaySeconds")
    initial = float(delay) if isinstance(delay, int) and delay > 0 else 0.0
    return (
        initial,
        float(num("periodSeconds", 10)),
        float(num("timeoutSeconds", 1)),
        num("successThreshold", 1),
        num("failureThreshold", 3),
    )


def _port(value: Any, ports: Mapping[str, int]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value) if value.isdigit() else ports.get(value)
    return None


async def _http(hub: str, host: str, port: int, path: str, headers: list[Any], limit: float) -> bool:
    reader, writer = await forward.connect_from(hub, host, port)()
    try:
        extra = "".join(
            f"{h.get('name')}: {h.get('value')}\r\n" for h in headers if isinstance(h, dict) and h.get("name")
        )
        writer.write(
            f"GET {path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.32\r\n"
            f"Accept: */*\r\n{extra}Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), limit)
        parts = line.split()
        return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
    finally:
        writer.close()


async def _tcp(hub: str, host: str, port: int) -> bool:
    _, writer = await forward.connect_from(hub, host, port)()
    writer.close()
    return True


async def _exec(pid: int, command: list[str], env: Mapping[str, str], limit: float) -> bool:
    proc = await asyncio.create_subprocess_exec(
        "nsenter",
        "-t",
        str(pid),
        "-n",
        "-m",
        "--",
        *command,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return await asyncio.wait_for(proc.wait(), limit) == 0
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return False


async def run_probe(
    probe: Mapping[str, Any],
    *,
    hub: str,
    pod_ip: str,
    pid: int,
    env: Mapping[str, str],
    ports: Mapping[str, int],
) -> bool:
    """One execution of ``probe`` against a container whose first process is ``pid``."""
    _, _, timeout, _, _ = timing(probe)
    try:
        if isinstance(probe.get("exec"), dict):
            command = [str(c) for c in probe["exec"].get("command") or []]
            return bool(command) and await _exec(pid, command, env, timeout)
        for kind in ("httpGet", "tcpSocket"):
            action = probe.get(kind)
            if not isinstance(action, dict):
                continue
            port = _port(action.get("port"), ports)
            if port is None:
                return False
            host = str(action.get("host") or pod_ip)
            if kind == "httpGet":
                return await asyncio.wait_for(
                    _http(hub, host, port, str(action.get("path") or "/"), action.get("httpHeaders") or [], timeout),
                    timeout,
                )
            return await asyncio.wait_for(_tcp(hub, host, port), timeout)
    except (OSError, TimeoutError, ValueError):
        return False
    return False  # grpc or an empty probe: nothing this runtime can run
