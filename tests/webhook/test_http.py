"""The webhook over real HTTPS on loopback: routes, refusal codes, TLS floor and review round trips."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import jsonpatch
from aiohttp import web

from tests.webhook.conftest import ServerFactory, fake_defaults, review
from tests.webhook.tls import SERVER_NAME, Pki
from webhook.app import MUTATE_PATH, VALIDATE_PATH
from webhook.server import HttpsServer


def rc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "demo"}, "spec": spec}


async def test_validate_round_trip_echoes_uid_and_version(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    body = review(rc(badA=1))
    status, data = await srv.post(VALIDATE_PATH, body)
    assert status == 200
    assert data["apiVersion"] == "admission.k8s.io/v1" and data["kind"] == "AdmissionReview"
    resp = data["response"]
    assert resp["uid"] == body["request"]["uid"] and resp["allowed"] is False
    assert resp["status"]["code"] == 422 and resp["status"]["details"]["causes"][0]["field"] == "spec.badA"
    assert "patch" not in resp and "patchType" not in resp  # a validating answer must not carry a patch


async def test_mutate_round_trip_patch_applies(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    obj = rc()
    status, data = await srv.post(MUTATE_PATH, review(obj))
    assert status == 200
    resp = data["response"]
    assert resp["allowed"] is True and resp["patchType"] == "JSONPatch"
    patched = jsonpatch.apply_patch(copy.deepcopy(obj), json.loads(base64.b64decode(resp["patch"])))
    assert patched == fake_defaults(obj)


async def test_v1beta1_review_is_answered_in_v1beta1(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    body = review(rc())
    body["apiVersion"] = "admission.k8s.io/v1beta1"
    status, data = await srv.post(VALIDATE_PATH, body)
    assert status == 200 and data["apiVersion"] == "admission.k8s.io/v1beta1"


async def test_wrong_method_is_405(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    async with srv.session.get(srv.url + VALIDATE_PATH, server_hostname=SERVER_NAME) as resp:
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
        assert "send POST" in await resp.text()


async def test_wrong_content_type_is_415(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    async with srv.session.post(
        srv.url + VALIDATE_PATH, data=b"{}", headers={"Content-Type": "text/yaml"}, server_hostname=SERVER_NAME
    ) as resp:
        assert resp.status == 415 and "application/json" in await resp.text()


async def test_body_over_the_limit_is_413_with_and_without_content_length(webhook_server: ServerFactory) -> None:
    srv = await webhook_server(max_body_bytes=1000)
    big = review(rc(blob="x" * 5000))
    status, error = await srv.post(VALIDATE_PATH, big)
    assert status == 413 and "1000 bytes" in error["message"]

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 500

    async with srv.session.post(
        srv.url + VALIDATE_PATH,
        data=chunks(),
        headers={"Content-Type": "application/json"},
        server_hostname=SERVER_NAME,
    ) as resp:
        assert resp.status == 413


async def test_malformed_json_is_400_with_a_message(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    async with srv.session.post(
        srv.url + MUTATE_PATH,
        data=b'{"apiVersion": ',
        headers={"Content-Type": "application/json"},
        server_hostname=SERVER_NAME,
    ) as resp:
        assert resp.status == 400 and "malformed JSON" in await resp.text()


async def test_review_without_request_is_400(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    status, error = await srv.post(VALIDATE_PATH, {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})
    assert status == 400 and "has no request" in error["message"]


async def test_review_with_a_broken_request_names_the_field(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    body = review(rc())
    del body["request"]["uid"]
    body["request"]["operation"] = "EXPLODE"
    status, error = await srv.post(VALIDATE_PATH, body)
    assert status == 400 and "request.uid" in error["message"] and "request.operation" in error["message"]


async def test_not_an_admission_review_is_400(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    status, error = await srv.post(
        VALIDATE_PATH, {"apiVersion": "v1", "kind": "Pod", "request": {"uid": "u", "operation": "CREATE"}}
    )
    assert status == 400 and "expected an AdmissionReview" in error["message"]


async def test_unknown_path_is_404(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    status, _ = await srv.post("/validate-v1-pod", review(rc()))
    assert status == 404


async def test_plaintext_http_is_not_served(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as plain:
        try:
            async with plain.post(f"http://127.0.0.1:{srv.port}{VALIDATE_PATH}", json=review(rc())) as resp:
                assert resp.status == 400  # aiohttp answers a TLS port's plaintext with a bare 400, never a review
                assert "AdmissionReview" not in await resp.text()
        except aiohttp.ClientError:
            pass  # or the connection is dropped


def test_server_raises_the_tls_floor_to_1_2(pki: Pki, tmp_path: Path) -> None:
    ctx = pki.server_context(tmp_path)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    HttpsServer(web.Application(), host="127.0.0.1", port=0, ssl_context=ctx)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    HttpsServer(web.Application(), host="127.0.0.1", port=0, ssl_context=ctx)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3  # a stricter floor is kept


async def test_keep_alive_connection_serves_many_requests(webhook_server: ServerFactory) -> None:
    srv = await webhook_server()
    for i in range(20):
        status, data = await srv.post(VALIDATE_PATH, review(rc(n=i)))
        assert status == 200 and data["response"]["allowed"] is True
    connector = srv.session.connector
    assert connector is not None


async def test_a_handler_bug_is_answered_as_a_review_not_an_http_500(webhook_server: ServerFactory) -> None:
    from webhook.rules import Rules

    def returns_garbage(new: Any, old: Any) -> Any:
        return object()  # no .errors: the handler itself fails while reading the result

    srv = await webhook_server(rules=Rules(validate=returns_garbage, apply_defaults=fake_defaults))
    body = review(rc())
    status, data = await srv.post(VALIDATE_PATH, body)
    assert status == 200
    assert data["response"]["uid"] == body["request"]["uid"] and data["response"]["allowed"] is False
    assert data["response"]["status"]["code"] == 500


class _LogSinkFailingOnDenials:
    """A logger that breaks after the rules ran (while logging a denial), outside the handlers' own guard."""

    def __init__(self) -> None:
        self.exceptions: list[str] = []

    def bind(self, **_: Any) -> _LogSinkFailingOnDenials:
        return self

    def debug(self, event: str, **_: Any) -> None:
        return None

    def warning(self, event: str, **_: Any) -> None:
        return None

    def info(self, event: str, **_: Any) -> None:
        if event == "admission_denied":
            raise RuntimeError("log sink gone")

    def exception(self, event: str, **_: Any) -> None:
        self.exceptions.append(event)


async def test_a_failure_outside_the_rules_is_still_answered_as_a_review(webhook_server: ServerFactory) -> None:
    log = _LogSinkFailingOnDenials()
    srv = await webhook_server(logger=log)
    body = review(rc(bad=1))
    status, data = await srv.post(VALIDATE_PATH, body)
    assert status == 200 and data["apiVersion"] == "admission.k8s.io/v1" and data["kind"] == "AdmissionReview"
    response = data["response"]
    assert response["uid"] == body["request"]["uid"] and response["allowed"] is False
    assert response["status"]["code"] == 500 and response["status"]["reason"] == "InternalError"
    assert "RuntimeError" in response["status"]["message"] and "operator log" in response["status"]["message"]
    assert log.exceptions == ["admission_handler_failed"]


async def test_a_client_leaving_mid_body_does_not_leak_an_in_flight_request(
    webhook_server: ServerFactory, pki: Pki
) -> None:
    from ray_operator.metrics import WebhookMetrics, new_registry

    registry = new_registry(process_metrics=False)
    srv = await webhook_server(observer=WebhookMetrics(registry))
    _, writer = await asyncio.open_connection(
        "127.0.0.1", srv.port, ssl=pki.client_context(), server_hostname=SERVER_NAME
    )
    writer.write(
        f"POST {VALIDATE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        'Content-Length: 1000\r\n\r\n{"apiVersion":'.encode()
    )
    await writer.drain()
    labels = {"webhook": VALIDATE_PATH}
    async with asyncio.timeout(5):
        while registry.get_sample_value("controller_runtime_webhook_requests_in_flight", labels) != 1.0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    writer.close()
    async with asyncio.timeout(5):
        while registry.get_sample_value("controller_runtime_webhook_requests_in_flight", labels) != 0.0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert registry.get_sample_value("controller_runtime_webhook_requests_total", {**labels, "code": "500"}) is None
    status, _ = await srv.post(VALIDATE_PATH, review(rc()))  # and the server carries on
    assert status == 200


def test_a_port_in_use_is_reported_with_the_address() -> None:
    import socket

    from webhook.server import bind_socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            bind_socket("127.0.0.1", port).close()
        except OSError as exc:
            assert f"cannot listen on 127.0.0.1:{port}" in str(exc)
        else:
            raise AssertionError("binding a port in use must fail")
