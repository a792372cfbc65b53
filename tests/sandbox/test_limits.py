"""kube-apiserver's limits in the emulator, with its messages, and hostile bodies that must not stall it.

Each limit is one a client could otherwise pass here and fail on a real cluster (a 3.5 MiB chunked
body, a 1.6 MiB object, a 1.1 MiB ConfigMap, a JSON patch renaming the object), or a body that took
the emulator down (a 342-byte YAML alias bomb blocked the event loop for 42 s; deep JSON was a 500).
Everything runs against an in-process ``Sandbox`` on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ray_operator.sandbox import limits
from ray_operator.sandbox.server import Sandbox
from tests.sandbox.test_admission_kubectl import SVC_HOST, configuration
from tests.sandbox.test_client_core import CRD
from tests.sandbox.webhook_fixture import WebhookServer, allow, make_tls

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
WIDGETS = "/apis/example.io/v1/namespaces/default/widgets"
MiB = 1024 * 1024

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)
"""Nine levels of nine aliases: 9^9 (387 million) strings once expanded, in 342 bytes."""


@pytest.fixture
async def api() -> AsyncIterator[aiohttp.ClientSession]:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession(base_url=sb.url) as session:
        async with session.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD) as resp:
            assert resp.status == 201
        yield session


async def call(session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    async with session.request(method, path, **kw) as resp:
        body = await resp.read()
        assert resp.content_type == "application/json", body[:200]
        return resp.status, json.loads(body)


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# ------------------------------------------------------------------------------- YAML aliases


def test_the_bomb_is_small_and_go_yamls_rule_refuses_it() -> None:
    assert len(BOMB) < 400
    with pytest.raises(limits.AliasError, match="excessive aliasing"):
        limits.load_yaml(BOMB)


def test_anchors_people_write_still_load() -> None:
    text = "base: &base {image: ray, cpu: 1}\n" + "".join(f"g{i}: *base\n" for i in range(200))
    loaded = limits.load_yaml(text)
    assert loaded["g199"] == {"image": "ray", "cpu": 1}


@pytest.mark.parametrize("content_type", ["application/json", "application/yaml"])
async def test_an_alias_bomb_is_a_400_and_the_server_keeps_answering(
    api: aiohttp.ClientSession, content_type: str
) -> None:
    async def attack() -> tuple[int, dict[str, Any]]:
        return await call(api, "POST", CONFIGMAPS, data=BOMB.encode(), headers={"Content-Type": content_type})

    async def timed_get() -> float:
        began = time.monotonic()
        status, _ = await call(api, "GET", CONFIGMAPS)
        assert status == 200
        return time.monotonic() - began

    attacks = [asyncio.create_task(attack()) for _ in range(4)]
    waited = await asyncio.wait_for(timed_get(), timeout=5)
    results = await asyncio.gather(*attacks)
    assert waited < 1.0, f"a GET waited {waited:.1f} s during the attack"
    for status, error in results:
        assert status == 400
        assert "excessive aliasing" in error["message"]


async def test_an_alias_bomb_in_server_side_apply_is_a_400(api: aiohttp.ClientSession) -> None:
    status, error = await call(
        api,
        "PATCH",
        f"{CONFIGMAPS}/bomb?fieldManager=test",
        data=BOMB.encode(),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert status == 400 and "excessive aliasing" in error["message"]


# ------------------------------------------------------------------------------- JSON depth


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_decodes_to_ten_thousand_levels_without_recursion_errors() -> None:
    value = limits.loads_json(nested(limits.MAX_JSON_DEPTH))
    depth = 0
    while value:
        value, depth = value[0], depth + 1
    assert depth == limits.MAX_JSON_DEPTH - 1  # the innermost list is empty
    with pytest.raises(limits.DepthError, match="exceeded max depth"):
        limits.loads_json(nested(limits.MAX_JSON_DEPTH + 1))


def test_the_iterative_parser_reads_what_json_reads() -> None:
    text = '{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"], "b": {"c": {}}, "d": []}'
    deep = "[" * 2000 + text + "]" * 2000
    value = limits.loads_json(deep)
    for _ in range(2000):
        value = value[0]
    assert value == json.loads(text)
    for broken in ("[" * 2000 + "1," + "]" * 2000, "[" * 2000 + "]" * 1999, "[" * 2000 + "]" * 2000 + "x"):
        with pytest.raises(ValueError):
            limits.loads_json(broken)


@pytest.mark.parametrize("depth", [600, 3000, limits.MAX_JSON_DEPTH])
async def test_deep_json_bodies_are_never_a_500(api: aiohttp.ClientSession, depth: int) -> None:
    body = '{"metadata": {"name": "deep"}, "data": {"k": "v"}, "extra": ' + nested(depth) + "}"
    status, answer = await call(api, "POST", CONFIGMAPS, data=body, headers={"Content-Type": "application/json"})
    assert status < 500, answer


async def test_json_deeper_than_upstream_decodes_is_a_400(api: aiohttp.ClientSession) -> None:
    body = '{"metadata": {"name": "deep"}, "extra": ' + nested(limits.MAX_JSON_DEPTH + 1) + "}"
    status, error = await call(api, "POST", CONFIGMAPS, data=body, headers={"Content-Type": "application/json"})
    assert status == 400 and "exceeded max depth" in error["message"]
    await call(api, "POST", CONFIGMAPS, json=configmap("target"))
    status, error = await call(
        api,
        "PATCH",
        f"{CONFIGMAPS}/target",
        data=nested(limits.MAX_JSON_DEPTH + 1),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 400 and "exceeded max depth" in error["message"]


# ------------------------------------------------------------------------------- sizes


async def test_a_body_over_3_mib_is_413_with_or_without_content_length(api: aiohttp.ClientSession) -> None:
    body = json.dumps(configmap("big", k="x" * int(3.5 * MiB))).encode()
    status, error = await call(api, "POST", CONFIGMAPS, data=body, headers={"Content-Type": "application/json"})
    assert (status, error["reason"]) == (413, "RequestEntityTooLarge")
    assert error["message"] == "Request entity too large: limit is 3145728"

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    status, error = await call(api, "POST", CONFIGMAPS, data=chunked(), headers={"Content-Type": "application/json"})
    assert (status, error["reason"]) == (413, "RequestEntityTooLarge")


async def test_gzip_that_is_not_gzip_is_a_400(api: aiohttp.ClientSession) -> None:
    status, error = await call(
        api,
        "POST",
        CONFIGMAPS,
        data=b"not gzip",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert status == 400 and error["kind"] == "Status"
    bomb = gzip.compress(b" " * (8 * MiB))
    status, error = await call(
        api, "POST", CONFIGMAPS, data=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert status == 413


async def test_configmap_and_secret_data_are_limited_to_1_mib(api: aiohttp.ClientSession) -> None:
    status, _ = await call(api, "POST", CONFIGMAPS, json=configmap("at-limit", k="x" * MiB))
    assert status == 201
    status, error = await call(
        api, "POST", CONFIGMAPS, json=configmap("over", a="x" * (MiB // 2), b="x" * (MiB // 2 + 1))
    )
    assert status == 422
    assert error["message"] == 'ConfigMap "over" is invalid: []: Too long: must have at most 1048576 bytes'
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "over"},
        "data": {"k": base64.b64encode(b"x" * (MiB + 1)).decode()},
    }
    status, error = await call(api, "POST", SECRETS, json=secret)
    assert status == 422
    assert error["message"] == 'Secret "over" is invalid: data: Too long: must have at most 1048576 bytes'
    status, error = await call(
        api,
        "PATCH",
        f"{CONFIGMAPS}/at-limit",
        json={"data": {"more": "y"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 422


async def test_an_object_over_etcds_limit_is_refused_and_nothing_is_stored(api: aiohttp.ClientSession) -> None:
    widget = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"color": "x"}}
    big = dict(widget, spec={"color": "x" * int(1.6 * MiB)})
    status, error = await call(api, "POST", WIDGETS, json=big)
    assert status == 500 and error["message"] == "etcdserver: request is too large"
    status, _ = await call(api, "GET", f"{WIDGETS}/w")
    assert status == 404
    status, _ = await call(api, "POST", f"{WIDGETS}?dryRun=All", json=big)
    assert status == 201  # a dry run never reaches etcd
    status, _ = await call(api, "POST", WIDGETS, json=widget)
    assert status == 201
    status, error = await call(
        api,
        "PATCH",
        f"{WIDGETS}/w",
        json={"spec": {"color": "y" * int(1.6 * MiB)}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 500 and "too large" in error["message"]
    status, stored = await call(api, "GET", f"{WIDGETS}/w")
    assert stored["spec"]["color"] == "x"


# ------------------------------------------------------------------------------- URLs, resourceVersions


async def test_urls_longer_than_8_kib_work_and_longer_than_1_mib_are_a_status(api: aiohttp.ClientSession) -> None:
    values = ",".join(f"v{i}" for i in range(4000))  # ~24 KB of labelSelector, as upstream takes
    status, listed = await call(api, "GET", CONFIGMAPS, params={"labelSelector": f"app in ({values})"})
    assert status == 200 and listed["kind"] == "ConfigMapList"
    status, error = await call(api, "GET", CONFIGMAPS + "?labelSelector=" + "a" * (MiB + 10))
    assert 400 <= status < 500 and error["kind"] == "Status"


@pytest.mark.parametrize("rv", ["\uff11\uff12", "12345678901234567890123", "+5", " 5", "1_0", "-1"])
async def test_resource_versions_are_parsed_as_go_parses_them(api: aiohttp.ClientSession, rv: str) -> None:
    status, error = await call(api, "GET", CONFIGMAPS, params={"resourceVersion": rv, "resourceVersionMatch": "Exact"})
    assert status == 400 and "resourceVersion: Invalid value" in error["message"]
    status, error = await call(api, "GET", CONFIGMAPS, params={"watch": "true", "resourceVersion": rv})
    assert status == 400 and "resourceVersion: Invalid value" in error["message"]


# ------------------------------------------------------------------------------- immutable metadata


@pytest.mark.parametrize(
    ("path", "value"),
    [("/metadata/name", "renamed"), ("/metadata/namespace", "kube-system"), ("/metadata/uid", "0000")],
)
async def test_a_json_patch_of_immutable_metadata_is_422(api: aiohttp.ClientSession, path: str, value: str) -> None:
    status, created = await call(api, "POST", CONFIGMAPS, json=configmap("fixed", k="v"))
    assert status == 201
    ops = [{"op": "replace", "path": path, "value": value}, {"op": "replace", "path": "/data/k", "value": "changed"}]
    status, error = await call(
        api, "PATCH", f"{CONFIGMAPS}/fixed", json=ops, headers={"Content-Type": "application/json-patch+json"}
    )
    assert status == 422, error
    field = path.rsplit("/", 1)[1]
    assert (
        error["message"]
        == f'ConfigMap "fixed" is invalid: metadata.{field}: Invalid value: "{value}": field is immutable'
    )
    status, stored = await call(api, "GET", f"{CONFIGMAPS}/fixed")
    assert stored["data"] == {"k": "v"} and stored["metadata"]["uid"] == created["metadata"]["uid"]


# ------------------------------------------------------------------------------- webhooks, logs


async def test_reviews_are_sent_to_webhooks_as_compact_json() -> None:
    async with (
        Sandbox(tls=False) as sb,
        aiohttp.ClientSession(base_url=sb.url) as api,
        WebhookServer(make_tls([SVC_HOST])) as hook,
    ):
        sb.register_service_endpoint("system", "webhook-service", 443, "127.0.0.1", hook.port)
        hook.handlers["/v"] = allow
        config = configuration("ValidatingWebhookConfiguration", "v.example.io", "/v", hook.tls)
        status, _ = await call(
            api, "POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", json=config
        )
        assert status == 201
        status, _ = await call(api, "POST", CONFIGMAPS, json=configmap("seen", k="a value, with: separators"))
        assert status == 201
        (received,) = hook.calls("/v")
        compact = json.dumps(received.review, separators=(",", ":"))
        assert int(received.headers["Content-Length"]) == len(compact)


async def test_the_request_log_keeps_a_bounded_part_of_long_urls() -> None:
    async with Sandbox(tls=False) as sb, aiohttp.ClientSession(base_url=sb.url) as api:
        await call(api, "GET", CONFIGMAPS + "/" + "n" * 100_000)
        await call(api, "GET", CONFIGMAPS, params={"labelSelector": "a=" + "b" * 100_000})
        for entry in list(sb.control.requests)[-2:]:
            assert len(json.dumps(entry)) < 10_000
