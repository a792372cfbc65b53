"""The admission fast path: which requests it takes, and that its answers equal aiohttp's.

A response from aiohttp carries a ``Server`` header and the fast path's does not, which is how these
tests know which of the two answered.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.webhook.conftest import FAKE_RULES, ServerFactory, review
from tests.webhook.tls import SERVER_NAME, Pki
from webhook.app import MUTATE_PATH, VALIDATE_PATH, build_app
from webhook.connections import ConnectionLimits
from webhook.fastpath import MAX_HEAD_BYTES, json_response, parse_simple_post
from webhook.server import HttpsServer

PATHS = frozenset({"/validate", "/mutate"})


def raw_post(body: bytes, *, path: str = "/validate?timeout=10s", headers: bytes = b"") -> bytes:
    """A request as kube-apiserver writes it (Go's net/http), plus ``headers``."""
    return (
        b"POST %s HTTP/1.1\r\nHost: ray-operator-webhook-service.ray-system.svc:443\r\n"
        b"User-Agent: kube-apiserver-admission\r\nContent-Length: %d\r\nAccept: application/json, */*\r\n"
        b"Content-Type: application/json\r\n%s\r\n%s"
    ) % (path.encode(), len(body), headers, body)


def parse(data: bytes, max_body_bytes: int = 1024) -> Any:
    return parse_simple_post(data, paths=PATHS, max_body_bytes=max_body_bytes)


# ------------------------------------------------------------------------------------ the parser
def test_the_api_servers_request_is_taken_with_its_query_dropped() -> None:
    data = raw_post(b'{"a":1}')
    request = parse(data)
    assert request is not None
    assert (request.path, request.body, request.consumed) == ("/validate", b'{"a":1}', len(data))


def test_a_charset_parameter_and_header_case_do_not_matter() -> None:
    data = raw_post(b"{}", headers=b"X-Extra: 1\r\n").replace(
        b"Content-Type: application/json", b"content-type: Application/JSON; charset=utf-8"
    )
    assert parse(data) is not None


def test_only_the_first_of_pipelined_requests_is_consumed() -> None:
    first, second = raw_post(b"{}"), raw_post(b"[]", path="/mutate")
    request = parse(first + second)
    assert request is not None and request.consumed == len(first)
    rest = parse((first + second)[request.consumed :])
    assert rest is not None and (rest.path, rest.body) == ("/mutate", b"[]")


@pytest.mark.parametrize(
    ("why", "data"),
    [
        ("another path", raw_post(b"{}", path="/validate-other")),
        ("another method", raw_post(b"{}").replace(b"POST", b"PUT", 1)),
        ("HTTP/1.0", raw_post(b"{}").replace(b"HTTP/1.1", b"HTTP/1.0", 1)),
        ("chunked", raw_post(b"{}", headers=b"Transfer-Encoding: chunked\r\n")),
        ("gzip", raw_post(b"{}", headers=b"Content-Encoding: gzip\r\n")),
        ("expect", raw_post(b"{}", headers=b"Expect: 100-continue\r\n")),
        ("connection header", raw_post(b"{}", headers=b"Connection: close\r\n")),
        ("upgrade", raw_post(b"{}", headers=b"Upgrade: h2c\r\n")),
        ("two lengths", raw_post(b"{}", headers=b"Content-Length: 2\r\n")),
        ("signed length", raw_post(b"{}").replace(b"Content-Length: 2", b"Content-Length: +2")),
        ("no length", raw_post(b"{}").replace(b"Content-Length: 2\r\n", b"")),
        ("not JSON", raw_post(b"{}").replace(b"application/json\r\n", b"text/plain\r\n")),
        ("no content type", raw_post(b"{}").replace(b"Content-Type: application/json\r\n", b"")),
        ("body over the limit", raw_post(b"x" * 1025)),
        ("body still arriving", raw_post(b'{"a":1}')[:-1]),
        ("head still arriving", raw_post(b"{}")[:40]),
        ("folded header", raw_post(b"{}", headers=b"X-A: 1\r\n  continued\r\n")),
        ("space before colon", raw_post(b"{}", headers=b"X-A : 1\r\n")),
        ("control byte in a value", raw_post(b"{}", headers=b"X-A: a\x01b\r\n")),
        ("non-ASCII in a value", raw_post(b"{}", headers=b"X-A: \xc3\xa9\r\n")),
        ("bare LF", raw_post(b"{}", headers=b"X-A: 1\nX-B: 2\r\n")),
        ("head over the limit", raw_post(b"{}", headers=b"X-A: " + b"a" * MAX_HEAD_BYTES + b"\r\n")),
    ],
)
def test_every_other_shape_is_left_to_aiohttp(why: str, data: bytes) -> None:
    assert parse(data) is None, why


def test_the_response_is_a_complete_keep_alive_json_response() -> None:
    head, _, body = json_response(400, b'{"code":400}').partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 400 Bad Request"
    headers = dict(line.split(b": ", 1) for line in lines[1:])
    assert headers[b"Content-Type"] == b"application/json" and headers[b"Content-Length"] == b"12"
    assert headers[b"Date"].endswith(b" GMT") and b"Connection" not in headers
    assert body == b'{"code":400}'


# ----------------------------------------------------------------------------- through the server
async def exchange(port: int, pki: Pki, data: bytes, *, responses: int = 1) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``data`` in one write on a fresh TLS connection; read ``responses`` responses."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=pki.client_context(), server_hostname=SERVER_NAME
    )
    try:
        writer.write(data)
        await writer.drain()
        return [await read_response(reader) for _ in range(responses)]
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    async with asyncio.timeout(10):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        lines = head.split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (VALIDATE_PATH, review({"metadata": {"name": "a"}, "spec": {}})),  # allowed
        (VALIDATE_PATH, review({"metadata": {"name": "a"}, "spec": {"bad": 1}})),  # denied with causes
        (MUTATE_PATH, review({"metadata": {"name": "a"}, "spec": {}})),  # a JSON patch
        (VALIDATE_PATH, {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),  # 400: no request
        (VALIDATE_PATH, "not json"),  # 400: malformed JSON
    ],
)
async def test_the_fast_path_answers_exactly_as_aiohttp_does(
    webhook_server: ServerFactory, pki: Pki, path: str, body: Any
) -> None:
    srv = await webhook_server()
    payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    [(fast_status, fast_headers, fast_body)] = await exchange(srv.port, pki, raw_post(payload, path=path))
    # A Connection header is a shape the fast path declines: aiohttp answers the same request.
    slow = raw_post(payload, path=path, headers=b"Connection: keep-alive\r\n")
    [(slow_status, slow_headers, slow_body)] = await exchange(srv.port, pki, slow)
    assert "server" not in fast_headers and "aiohttp" in slow_headers["server"]  # each path was taken
    assert fast_status == slow_status and fast_status in (200, 400)
    assert fast_headers["content-type"] == slow_headers["content-type"] == "application/json"
    assert json.loads(fast_body) == json.loads(slow_body)


async def test_the_test_client_takes_the_fast_path(webhook_server: ServerFactory) -> None:
    """So every other webhook test of an admission exercises it too."""
    srv = await webhook_server()
    async with srv.session.post(
        srv.url + VALIDATE_PATH, json=review({"spec": {}}), server_hostname=SERVER_NAME
    ) as resp:
        assert resp.status == 200 and "Server" not in resp.headers


async def test_pipelined_requests_are_answered_in_order_across_both_paths(
    webhook_server: ServerFactory, pki: Pki
) -> None:
    srv = await webhook_server()
    allowed = json.dumps(review({"metadata": {"name": "a"}, "spec": {}})).encode()
    denied = json.dumps(review({"metadata": {"name": "b"}, "spec": {"bad": 1}})).encode()
    data = (
        raw_post(allowed, path=VALIDATE_PATH)
        + raw_post(denied, path=VALIDATE_PATH)
        + b"GET "
        + VALIDATE_PATH.encode()
        + b" HTTP/1.1\r\nHost: x\r\n\r\n"  # aiohttp's from here on
        + raw_post(allowed, path=VALIDATE_PATH)
    )
    answers = await exchange(srv.port, pki, data, responses=4)
    assert [status for status, _, _ in answers] == [200, 200, 405, 200]
    assert ["server" in headers for _, headers, _ in answers] == [False, False, True, True]
    assert [json.loads(body).get("response", {}).get("allowed") for _, _, body in answers] == [True, False, None, True]


async def test_a_busy_fast_path_connection_stays_open_and_an_idle_one_is_closed(pki: Pki, tmp_path: Path) -> None:
    server = HttpsServer(
        build_app(rules=FAKE_RULES, max_body_bytes=64 * 1024),
        host="127.0.0.1",
        port=0,
        ssl_context=pki.server_context(tmp_path),
        limits=ConnectionLimits(keepalive_timeout=0.6),
    )
    port = await server.start()
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=pki.client_context(), server_hostname=SERVER_NAME
        )
        request = raw_post(json.dumps(review({"spec": {}})).encode(), path=VALIDATE_PATH)
        for _ in range(8):  # 2 s of requests, more than three keep-alive timeouts
            writer.write(request)
            status, headers, _ = await read_response(reader)
            assert status == 200 and "server" not in headers
            await asyncio.sleep(0.25)
        async with asyncio.timeout(3):  # then idle: closed after the timeout
            assert await reader.read() == b""
        writer.close()
    finally:
        await server.stop()
