"""Webhook process memory against idle client connections, measured in one run (not a test).

Starts the real ``ray-operator run --mode webhook`` (certificates from files, no API server needed)
and reads its RSS from ``/proc`` with 0, 1,000 and 5,000 idle connections held open from this
process, each kind separately:

* **tcp** - connected sockets that send nothing (they sit in the TLS handshake until its deadline);
* **tls** - connections that finished the TLS handshake and then send nothing (keep-alive idle).

Above ``--max-connections`` the server refuses connections at accept, so the 5,000 row shows that
the cap holds (refused = connections the server reset at once). After each row the connections
are closed and, before the next, a normal admission request must still answer. Everything is on
loopback; connections are opened at a bounded rate and all are closed at the end.

    .venv/bin/python benchmarks/webhook_connections.py [--max-connections 1000] [--counts 0,1000,5000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVER_NAME = "ray-operator-webhook-service.ray-system.svc"


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_webhook(cert_dir: Path, port: int, max_connections: int) -> subprocess.Popen[bytes]:
    cmd = [
        str(Path(sys.executable).with_name("ray-operator")),
        "run",
        "--mode=webhook",
        "--cert-source=files",
        f"--cert-dir={cert_dir}",
        "--webhook-host=127.0.0.1",
        f"--webhook-port={port}",
        "--probe-host=127.0.0.1",
        "--probe-port=0",
        "--metrics-host=127.0.0.1",
        "--metrics-port=0",
        "--metrics-secure=false",  # secure metrics need an API server for TokenReview
        f"--webhook-max-connections={max_connections}",
        "--log-level=warning",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def review_bytes() -> bytes:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
            "resource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
            "operation": "CREATE",
            "namespace": "default",
            "name": "x",
            "userInfo": {"username": "bench"},
            "object": {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "x"}, "spec": {}},
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


class KeepAlive:
    """One established keep-alive HTTPS connection, like the API server's, sending validate reviews."""

    def __init__(self, port: int, client: ssl.SSLContext) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self._tls = client.wrap_socket(raw, server_hostname=SERVER_NAME)
        self._buffer = b""

    def request_seconds(self) -> float:
        """Seconds one validate request took; raises if it did not get a 200."""
        body = review_bytes()
        began = time.perf_counter()
        self._tls.sendall(
            b"POST /validate-ray-io-v1-raycluster HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
        while len(rest) < length:
            rest += self._recv()
        self._buffer = rest[length:]
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"admission failed: {head[:200]!r}")
        return time.perf_counter() - began

    def _recv(self) -> bytes:
        chunk = self._tls.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the keep-alive connection")
        return chunk

    def close(self) -> None:
        self._tls.close()


def admission_ok(port: int, client: ssl.SSLContext) -> float:
    conn = KeepAlive(port, client)
    try:
        return conn.request_seconds()
    finally:
        conn.close()


def open_idle(port: int, count: int, kind: str, client: ssl.SSLContext) -> list[socket.socket]:
    held: list[socket.socket] = []
    for i in range(count):
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        if kind == "tls":
            try:
                held.append(client.wrap_socket(raw, server_hostname=SERVER_NAME))
            except (OSError, ssl.SSLError):
                raw.close()  # refused at accept: reset during the handshake
        else:
            held.append(raw)
        if i % 200 == 199:
            time.sleep(0.05)  # bounded rate: let the server accept
    return held


def refused_among(held: list[socket.socket]) -> int:
    """How many of the held sockets the server already reset (refused at accept)."""
    poller = select.poll()
    for sock in held:
        poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    by_fd = {sock.fileno(): sock for sock in held}
    refused = 0
    for fd, _ in poller.poll(0):
        try:
            if by_fd[fd].recv(1, socket.MSG_PEEK) == b"":
                refused += 1
        except (OSError, ssl.SSLError):
            refused += 1
    return refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-connections", type=int, default=None, help="default: the setting's default")
    parser.add_argument("--counts", default="0,1000,5000")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(counts) + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    sys.path.insert(0, str(REPO))
    from ray_operator.settings import Settings
    from tests.webhook.tls import make_pki

    cap = args.max_connections if args.max_connections is not None else Settings().webhook_max_connections
    limit_mib = 512
    pki = make_pki()
    with tempfile.TemporaryDirectory() as tmp:
        cert_dir = Path(tmp)
        (cert_dir / "tls.crt").write_bytes(pki.cert_pem)
        (cert_dir / "tls.key").write_bytes(pki.key_pem)
        client = ssl.create_default_context(cadata=pki.ca_pem.decode())
        print(f"ray-operator run --mode webhook, max connections {cap}, Deployment limit {limit_mib} Mi")
        print(f"{'kind':<5} {'held':>6} {'refused':>8} {'RSS MiB':>8} {'+MiB':>7} {'KiB/conn':>9} {'request ms':>11}")
        for kind in ("tcp", "tls"):
            measure_kind(kind, counts, cap=cap, cert_dir=cert_dir, client=client)


def measure_kind(kind: str, counts: list[int], *, cap: int, cert_dir: Path, client: ssl.SSLContext) -> None:
    """One fresh webhook process: RSS with each count of idle ``kind`` connections held at once."""
    port = free_port()
    proc = start_webhook(cert_dir, port, cap)
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                admission_ok(port, client)
                break
            except (OSError, RuntimeError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        for _ in range(20):  # warm: first requests allocate caches
            admission_ok(port, client)
        healthy = KeepAlive(port, client)  # established before the idle connections arrive
        healthy.request_seconds()
        time.sleep(0.5)
        base = rss_bytes(proc.pid)
        for count in sorted(counts):
            held += open_idle(port, count - len(held), kind, client)
            time.sleep(1.0)
            rss = rss_bytes(proc.pid)
            refused = refused_among(held) if kind == "tcp" else count - len(held)
            accepted = count - refused
            request_ms = healthy.request_seconds() * 1000
            per = (rss - base) / accepted / 1024 if accepted else 0.0
            print(
                f"{kind:<5} {count:>6} {refused:>8} {rss / 2**20:>8.1f} {(rss - base) / 2**20:>7.1f} "
                f"{per:>9.1f} {request_ms:>11.1f}"
            )
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
        time.sleep(1.0)
        healthy.request_seconds()
        healthy.close()
        print(f"{kind:<5} closed all: RSS {rss_bytes(proc.pid) / 2**20:.1f} MiB")
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
