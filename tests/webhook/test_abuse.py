"""Hostile clients against the real ``ray-operator run --mode webhook`` process, on loopback only.

With ``failurePolicy: Fail`` an OOM-killed or wedged webhook refuses every RayCluster write in the
cluster, so what one connection can cost is part of the contract: idle sockets, handshakes that are
never used, heads and bodies sent a byte at a time, connections beyond the cap, broken encodings and
resets. Each test is bounded in count (a few hundred connections at most) and in time (the server
runs with second-long timeouts), and asserts what a user relies on: memory per connection under a
budget, slow clients dropped, a normal request still answered, a JSON error instead of a 500, and a
log that stays one JSON object per line.

RSS is read from ``/proc`` of the server process; the budget (64 KiB per connection) is well above
the measured cost (about 2 KiB before the TLS handshake, 25 KiB after; ``docs/performance.md``) and
far below what asyncio's defaults cost (about 300 KiB), so it holds on a busy machine too.
"""

from __future__ import annotations

import gzip
import json
import select
import socket
import ssl
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.webhook.tls import SERVER_NAME, make_pki

CAP = 200
DIAGNOSTICS_CAP = 16
HANDSHAKE_TIMEOUT = 3.0
READ_TIMEOUT = 1.0
KEEPALIVE_TIMEOUT = 3.0
SLACK = 5.0  # on a loaded 2-core machine timers fire late; the defaults are far longer anyway
BUDGET_PER_CONNECTION = 64 * 1024
VALIDATE = "/validate-ray-io-v1-raycluster"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Webhook:
    proc: subprocess.Popen[bytes]
    port: int
    probe_port: int
    client: ssl.SSLContext
    log_path: Path

    def rss(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def tls(self, timeout: float = 5.0) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            return self.client.wrap_socket(raw, server_hostname=SERVER_NAME)
        except BaseException:
            raw.close()
            raise

    def log(self) -> list[dict[str, Any]]:
        """Every line the process logged so far; each must be one JSON object."""
        lines = self.log_path.read_text().splitlines()
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"a log line that is not JSON: {line[:200]!r}") from None
        return parsed


def review_body(size: int = 0) -> bytes:
    obj = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "x"}, "spec": {}}
    if size:
        obj["metadata"]["annotations"] = {"blob": "x" * size}
    request = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
        "resource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
        "operation": "UPDATE" if size else "CREATE",
        "namespace": "default",
        "name": "x",
        "userInfo": {"username": "abuse"},
        "object": obj,
        "oldObject": obj if size else None,
    }
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).encode()


def post(body: bytes, extra_headers: bytes = b"") -> bytes:
    return (
        (b"POST " + VALIDATE.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra_headers)
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length (what aiohttp sends for these answers)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data[:100]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return int(lines[0].split()[1]), body[:length]


def request(hook: Webhook, raw_request: bytes) -> tuple[int, bytes]:
    with hook.tls() as sock:
        sock.sendall(raw_request)
        return read_response(sock)


def assert_admission_answers(hook: Webhook) -> None:
    status, body = request(hook, post(review_body()))
    assert status == 200, body[:300]
    assert json.loads(body)["kind"] == "AdmissionReview"


def json_status(body: bytes) -> dict[str, Any]:
    status = json.loads(body)
    assert status["kind"] == "Status" and status["status"] == "Failure", status
    return dict(status)


def wait_closed_by_server(sock: socket.socket, within: float) -> bool:
    """True if the server closed (or reset) the connection within ``within`` seconds."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            return True
    return False


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST, as a client that crashed mid-request does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    tmp = tmp_path_factory.mktemp("abuse")
    pki = make_pki()
    (tmp / "tls.crt").write_bytes(pki.cert_pem)
    (tmp / "tls.key").write_bytes(pki.key_pem)
    port, probe_port = free_port(), free_port()
    log_path = tmp / "webhook.log"
    cmd = [
        str(Path(sys.executable).with_name("ray-operator")),
        "run",
        "--mode=webhook",
        "--cert-source=files",
        f"--cert-dir={tmp}",
        "--webhook-host=127.0.0.1",
        f"--webhook-port={port}",
        "--probe-host=127.0.0.1",
        f"--probe-port={probe_port}",
        "--metrics-host=127.0.0.1",
        "--metrics-port=0",
        "--metrics-secure=false",  # secure metrics need an API server for TokenReview
        f"--webhook-max-connections={CAP}",
        f"--diagnostics-max-connections={DIAGNOSTICS_CAP}",
        f"--http-handshake-timeout-seconds={HANDSHAKE_TIMEOUT}",
        f"--http-read-timeout-seconds={READ_TIMEOUT}",
        f"--http-keepalive-timeout-seconds={KEEPALIVE_TIMEOUT}",
        "--shutdown-delay-seconds=0",
        "--log-level=debug",
        "--log-format=json",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    hook = Webhook(proc, port, probe_port, ssl.create_default_context(cadata=pki.ca_pem.decode()), log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert_admission_answers(hook)
                break
            except OSError:
                assert proc.poll() is None, log_path.read_text()[-2000:]
                assert time.monotonic() < deadline, "the webhook did not start"
                time.sleep(0.1)
        for _ in range(10):  # warm caches before any memory is measured
            assert_admission_answers(hook)
        yield hook
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------- connection costs and deadlines


def test_idle_tcp_connections_are_cheap_and_dropped_at_the_handshake_deadline(hook: Webhook) -> None:
    count = 150
    before = hook.rss()
    held = [socket.create_connection(("127.0.0.1", hook.port), timeout=5) for _ in range(count)]
    try:
        time.sleep(0.5)
        growth = hook.rss() - before
        assert growth / count < BUDGET_PER_CONNECTION, f"{growth / count / 1024:.0f} KiB per idle connection"
        assert_admission_answers(hook)
        assert all(wait_closed_by_server(sock, HANDSHAKE_TIMEOUT + SLACK) for sock in held)
    finally:
        for sock in held:
            sock.close()


def test_connections_after_the_handshake_are_cheap_and_dropped_when_idle(hook: Webhook) -> None:
    count = 100
    before = hook.rss()
    held = [hook.tls() for _ in range(count)]
    try:
        time.sleep(0.5)
        growth = hook.rss() - before
        assert growth / count < BUDGET_PER_CONNECTION, f"{growth / count / 1024:.0f} KiB per TLS connection"
        assert_admission_answers(hook)
        assert all(wait_closed_by_server(sock, KEEPALIVE_TIMEOUT + SLACK) for sock in held)
    finally:
        for sock in held:
            sock.close()


def test_a_request_head_sent_byte_by_byte_is_dropped(hook: Webhook) -> None:
    head = post(b"{}").split(b"\r\n\r\n")[0]
    with hook.tls() as sock:
        began = time.monotonic()
        closed = False
        for byte in head:  # ~80 bytes at 0.1 s each: longer than the read timeout + slack allows
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            if wait_closed_by_server(sock, 0.1):
                closed = True
                break
        assert closed, "a request head trickling in was not cut off"
        assert time.monotonic() - began < READ_TIMEOUT + SLACK


def test_a_body_sent_byte_by_byte_gets_408(hook: Webhook) -> None:
    body = review_body()
    with hook.tls() as sock:
        sock.sendall(post(body)[: -len(body)])  # the head, then the body slowly
        for byte in body:  # one byte per 0.1 s until the server answers
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            if select.select([sock], [], [], 0.1)[0]:
                break
        sock.settimeout(SLACK)
        status, answer = read_response(sock)
    assert status == 408
    assert "did not arrive" in json_status(answer)["message"]


def test_connections_over_the_cap_are_refused_and_established_clients_keep_working(hook: Webhook) -> None:
    healthy = hook.tls()
    held: list[socket.socket] = []
    try:
        healthy.sendall(post(review_body()))
        assert read_response(healthy)[0] == 200
        held = [socket.create_connection(("127.0.0.1", hook.port), timeout=5) for _ in range(CAP)]
        # The healthy client holds one slot, so the last of these is reset at accept; once it is,
        # the server has accepted all the others (it accepts in order) and is full.
        assert wait_closed_by_server(held[-1], SLACK)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            hook.tls().close()  # reset at accept, before the handshake
        healthy.sendall(post(review_body()))
        assert read_response(healthy)[0] == 200
    finally:
        healthy.close()
        for sock in held:
            sock.close()
    deadline = time.monotonic() + SLACK
    while True:  # the slots are free again once the server saw the closes
        try:
            assert_admission_answers(hook)
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_the_probe_server_has_its_own_cap(hook: Webhook) -> None:
    def healthz() -> bytes:
        with socket.create_connection(("127.0.0.1", hook.probe_port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            return data

    assert healthz().startswith(b"HTTP/1.1 200")
    held = [socket.create_connection(("127.0.0.1", hook.probe_port), timeout=5) for _ in range(DIAGNOSTICS_CAP)]
    try:
        time.sleep(0.3)
        with pytest.raises(OSError):
            if not healthz():
                raise ConnectionResetError("closed without an answer")
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + SLACK
    while True:  # the slots are free again once the server saw the closes
        try:
            if healthz().startswith(b"HTTP/1.1 200"):
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the probe server did not free its slots"
        time.sleep(0.1)


# --------------------------------------------------------------------- malformed requests


def test_gzip_that_is_not_gzip_is_a_400_status(hook: Webhook) -> None:
    status, body = request(hook, post(b"this is not gzip", b"Content-Encoding: gzip\r\n"))
    assert status == 400
    assert "decode" in json_status(body)["message"]


def test_a_gzip_bomb_is_a_413_status(hook: Webhook) -> None:
    bomb = gzip.compress(b" " * (16 * 1024 * 1024), compresslevel=9)  # 16 MiB of JSON whitespace in ~16 KiB
    status, body = request(hook, post(bomb, b"Content-Encoding: gzip\r\n"))
    assert status == 413
    assert json_status(body)["reason"] == "RequestEntityTooLarge"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\x16\x03garbage\r\n\r\n", id="not-http"),
        pytest.param(b"POST /?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="long-url"),
        pytest.param(b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", id="long-header"),
        pytest.param(
            b"POST " + VALIDATE.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
            id="bad-chunk",
        ),
        pytest.param(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", id="bad-length"),
    ],
)
def test_malformed_http_is_a_4xx_status_and_one_log_line(hook: Webhook, raw: bytes) -> None:
    status, body = request(hook, raw)
    assert 400 <= status < 500
    json_status(body)
    log = hook.log()  # every line JSON: no traceback text in the stream
    assert not any(entry.get("level") == "error" for entry in log)


@pytest.mark.parametrize("raw", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello", b"\x00" * 4096])
def test_bytes_that_are_not_tls_are_dropped_without_a_traceback(hook: Webhook, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", hook.port), timeout=5) as sock:
        sock.sendall(raw)
        assert wait_closed_by_server(sock, SLACK)
    assert_admission_answers(hook)
    assert not any(entry.get("level") == "error" for entry in hook.log())  # and every line is JSON


def test_unknown_paths_and_methods_are_a_status_on_every_server(hook: Webhook) -> None:
    status, body = request(hook, b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 404 and json_status(body)["reason"] == "NotFound"
    status, body = request(hook, b"GET " + VALIDATE.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and json_status(body)["reason"] == "MethodNotAllowed"
    with socket.create_connection(("127.0.0.1", hook.probe_port), timeout=5) as sock:
        sock.sendall(b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body = read_response(sock)
    assert status == 404 and json_status(body)["reason"] == "NotFound"


def test_client_resets_mid_body_are_one_debug_line_each(hook: Webhook) -> None:
    resets = 20
    before = sum(1 for entry in hook.log() if entry["event"] == "admission_client_disconnected")
    body = review_body()
    for _ in range(resets):
        sock = hook.tls()
        sock.sendall(post(body)[: -len(body) // 2])  # the head and half of the body
        time.sleep(0.02)
        reset(sock)
    deadline = time.monotonic() + SLACK
    while True:
        log = hook.log()
        lines = [entry for entry in log if entry["event"] == "admission_client_disconnected"]
        if len(lines) - before >= resets or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(lines) - before == resets
    assert all(entry["level"] == "debug" for entry in lines)
    assert not any(entry.get("level") == "error" for entry in log)
    assert_admission_answers(hook)


# --------------------------------------------------------------------- sizes


def test_an_update_review_of_two_objects_at_the_etcd_limit_is_answered(hook: Webhook) -> None:
    body = review_body(size=int(1.5 * 1024 * 1024))  # object and oldObject: ~3.1 MB of review
    assert len(body) > 3 * 1024 * 1024
    status, answer = request(hook, post(body))
    assert status == 200
    assert json.loads(answer)["kind"] == "AdmissionReview"
