"""The admission chain wired into the request pipeline: a real HTTPS webhook reached through a Service name."""

from __future__ import annotations

import base64
import copy
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from ray_operator.sandbox.server import Sandbox, tls
from ray_operator.sandbox.testing import Kubectl
from tests.sandbox.test_client_core import CRD


@pytest.fixture
async def webhook(sandbox: Sandbox) -> AsyncIterator[dict[str, Any]]:
    """A webhook denying widgets with size > 10 and labelling the rest; returns its CA and the calls seen."""
    material = tls.generate(hosts=("webhook-service.system.svc",))
    calls: list[dict[str, Any]] = []

    async def validate(request: web.Request) -> web.Response:
        review = await request.json()
        calls.append(review)
        req = review["request"]
        allowed = (req["object"] or {}).get("spec", {}).get("size", 0) <= 10
        response: dict[str, Any] = {"uid": req["uid"], "allowed": allowed}
        if not allowed:
            response["status"] = {"code": 403, "reason": "Forbidden", "message": "spec.size: must be at most 10"}
        return web.json_response({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})

    async def mutate(request: web.Request) -> web.Response:
        review = await request.json()
        patch = [{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}]
        return web.json_response(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {
                    "uid": review["request"]["uid"],
                    "allowed": True,
                    "patchType": "JSONPatch",
                    "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
                },
            }
        )

    app = web.Application()
    app.add_routes([web.post("/validate", validate), web.post("/mutate", mutate)])
    runner = web.AppRunner(app)
    await runner.setup()
    with tempfile.TemporaryDirectory() as tmp:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context(material, Path(tmp)))
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sandbox.register_service_endpoint("system", "webhook-service", 443, "127.0.0.1", port)
        try:
            yield {"ca": material.ca_pem, "calls": calls}
        finally:
            await runner.cleanup()


def configs(ca: str) -> list[dict[str, Any]]:
    bundle = base64.b64encode(ca.encode()).decode()
    rule = {
        "apiGroups": ["example.io"],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": ["widgets"],
    }
    hook = {"admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail", "rules": [rule]}
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "v"},
            "webhooks": [
                dict(
                    copy.deepcopy(hook),
                    name="vwidget.example.io",
                    clientConfig={
                        "caBundle": bundle,
                        "service": {"namespace": "system", "name": "webhook-service", "path": "/validate"},
                    },
                )
            ],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "m"},
            "webhooks": [
                dict(
                    copy.deepcopy(hook),
                    name="mwidget.example.io",
                    clientConfig={
                        "caBundle": bundle,
                        "service": {"namespace": "system", "name": "webhook-service", "path": "/mutate"},
                    },
                )
            ],
        },
    ]


def write(tmp_path: Path, name: str, *docs: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def widget(name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": "example.io/v1",
        "kind": "Widget",
        "metadata": {"name": name, "labels": {"a": "b"}},
        "spec": {"size": size},
    }


async def test_webhooks_mutate_and_deny_as_kubectl_shows(
    kubectl: Kubectl, webhook: dict[str, Any], tmp_path: Path, sandbox: Sandbox
) -> None:
    assert (await kubectl("create", "-f", write(tmp_path, "crd.yaml", CRD))).returncode == 0
    assert (await kubectl("create", "-f", write(tmp_path, "hooks.yaml", *configs(webhook["ca"])))).returncode == 0
    ok = await kubectl("create", "-f", write(tmp_path, "ok.yaml", widget("small", 3)))
    assert ok.returncode == 0, ok.stderr
    labels = json.loads((await kubectl("get", "widget", "small", "-o", "json")).stdout)["metadata"]["labels"]
    assert labels == {"a": "b", "mutated": "yes"}
    manifest = write(tmp_path, "big.yaml", widget("big", 11))
    denied = await kubectl("create", "-f", manifest)
    assert denied.returncode == 1
    assert (
        f'Error from server (Forbidden): error when creating "{manifest}": admission webhook '
        '"vwidget.example.io" denied the request: spec.size: must be at most 10'
    ) in denied.stderr
    dry = await kubectl("create", "-f", write(tmp_path, "dry.yaml", widget("dry", 2)), "--dry-run=server")
    assert dry.returncode == 0
    request = webhook["calls"][-1]["request"]
    assert request["dryRun"] is True
    assert request["options"] == {
        "kind": "CreateOptions",
        "apiVersion": "meta.k8s.io/v1",
        "dryRun": ["All"],
        "fieldManager": "kubectl-create",
        "fieldValidation": "Strict",
    }
    assert sandbox.admission_log, "admission calls are visible through the control API"


async def test_unreachable_webhook_fails_closed(kubectl: Kubectl, tmp_path: Path, sandbox: Sandbox) -> None:
    ca = tls.generate().ca_pem
    assert (await kubectl("create", "-f", write(tmp_path, "crd.yaml", CRD))).returncode == 0
    assert (await kubectl("create", "-f", write(tmp_path, "hooks.yaml", configs(ca)[0]))).returncode == 0
    result = await kubectl("create", "-f", write(tmp_path, "w.yaml", widget("w", 1)))
    assert result.returncode == 1
    assert "Error from server (InternalError)" in result.stderr
    assert 'failed calling webhook "vwidget.example.io"' in result.stderr


async def test_writes_racing_a_slow_webhook_lose_nothing(sandbox: Sandbox, api_client: Any) -> None:
    import asyncio

    from kubernetes_asyncio import client
    from kubernetes_asyncio.client.exceptions import ApiException

    material = tls.generate(hosts=("slow.system.svc",))

    async def slow(request: web.Request) -> web.Response:
        review = await request.json()
        await asyncio.sleep(0.3)
        return web.json_response(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": review["request"]["uid"], "allowed": True},
            }
        )

    app = web.Application()
    app.add_routes([web.post("/slow", slow)])
    runner = web.AppRunner(app)
    await runner.setup()
    with tempfile.TemporaryDirectory() as tmp:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context(material, Path(tmp)))
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sandbox.register_service_endpoint("system", "slow", 443, "127.0.0.1", port)
        core: Any = client.CoreV1Api(api_client)
        await core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
        hook = {
            "name": "slow.example.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "rules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["configmaps"]}
            ],
            "clientConfig": {
                "caBundle": base64.b64encode(material.ca_pem.encode()).decode(),
                "service": {"namespace": "system", "name": "slow", "path": "/slow"},
            },
        }
        admission: Any = client.AdmissionregistrationV1Api(api_client)
        await admission.create_mutating_webhook_configuration({"metadata": {"name": "slow"}, "webhooks": [hook]})
        try:
            await asyncio.gather(
                core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"a": "1"}}}),
                core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"b": "2"}}}),
            )
            labels = (await core.read_namespaced_config_map("c", "default")).metadata.labels
            assert labels == {"a": "1", "b": "2"}, "a patch recomputed on the latest object, not lost"
            current = await core.read_namespaced_config_map("c", "default")
            first, second = (
                client.V1ConfigMap(metadata=current.metadata, data={"x": "1"}),
                client.V1ConfigMap(metadata=current.metadata, data={"x": "2"}),
            )
            results = await asyncio.gather(
                core.replace_namespaced_config_map("c", "default", first),
                core.replace_namespaced_config_map("c", "default", second),
                return_exceptions=True,
            )
            assert sum(isinstance(r, ApiException) and r.status == 409 for r in results) == 1
        finally:
            await runner.cleanup()
