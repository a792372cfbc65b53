"""Admission end to end: the real kubectl against the sandbox, which calls a real HTTPS webhook.

The webhook configuration is applied with kubectl and points at ``webhook-service.system.svc``; the
sandbox resolves that service to the loopback test server and verifies its certificate for that name.
ConfigMaps are the admitted objects so these tests need no CRD.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl
from tests.sandbox.webhook_fixture import Tls, WebhookServer, allow, deny, make_tls, patch_response

SVC_HOST = "webhook-service.system.svc"


@pytest.fixture
async def webhook(sandbox: Sandbox) -> AsyncIterator[WebhookServer]:
    async with WebhookServer(make_tls([SVC_HOST])) as server:
        sandbox.register_service_endpoint("system", "webhook-service", 443, "127.0.0.1", server.port)
        yield server


def configuration(kind: str, name: str, path: str, tls: Tls, **over: Any) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "name": name,
        "clientConfig": {
            "service": {"namespace": "system", "name": "webhook-service", "path": path},
            "caBundle": tls.ca_bundle,
        },
        "rules": [
            {"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}
        ],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 5,
    }
    hook.update(over)
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name.split(".")[0]},
        "webhooks": [hook],
    }


async def apply(kubectl: Kubectl, tmp_path: Path, obj: dict[str, Any]) -> None:
    path = tmp_path / f"{obj['metadata']['name']}-{obj['kind'].lower()}.yaml"
    path.write_text(yaml.safe_dump(obj))
    result = await kubectl("apply", "-f", str(path))
    assert result.returncode == 0, result.stderr


def configmap_file(tmp_path: Path, name: str = "settings") -> Path:
    path = tmp_path / "cm.yaml"
    path.write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
    )
    return path


async def test_denied_create_prints_kube_apiservers_forbidden_line(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path
) -> None:
    webhook.handlers["/validate"] = lambda r: deny(
        r, {"code": 403, "reason": "Forbidden", "message": "configmaps named settings are reserved"}
    )
    await apply(
        kubectl, tmp_path, configuration("ValidatingWebhookConfiguration", "deny.example.io", "/validate", webhook.tls)
    )
    path = configmap_file(tmp_path)
    result = await kubectl("create", "-f", str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error from server (Forbidden): error when creating "{path}": admission webhook "deny.example.io" '
        "denied the request: configmaps named settings are reserved"
    )
    assert (await kubectl("get", "configmap", "settings")).returncode == 1
    [call] = webhook.calls("/validate")
    assert call.review["request"]["operation"] == "CREATE"
    assert call.review["request"]["options"]["kind"] == "CreateOptions"


async def test_invalid_status_with_causes_is_listed_field_by_field(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path
) -> None:
    causes = [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "v": must be a number', "field": "data.k"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "data.j"},
    ]
    webhook.handlers["/validate"] = lambda r: deny(
        r,
        {
            "code": 422,
            "reason": "Invalid",
            "message": 'ConfigMap "settings" is invalid',
            "details": {"name": "settings", "kind": "ConfigMap", "causes": causes},
        },
    )
    await apply(
        kubectl, tmp_path, configuration("ValidatingWebhookConfiguration", "check.example.io", "/validate", webhook.tls)
    )
    result = await kubectl("create", "-f", str(configmap_file(tmp_path)))
    assert result.returncode == 1
    assert 'The ConfigMap "settings" is invalid' in result.stderr
    lines = result.stderr.splitlines()
    assert '* data.k: Invalid value: "v": must be a number' in lines
    assert "* data.j: Required value" in lines


async def test_webhook_warnings_are_printed_by_kubectl(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path
) -> None:
    webhook.handlers["/validate"] = lambda r: allow(r, warnings=["data.k is deprecated; use data.key"])
    await apply(
        kubectl, tmp_path, configuration("ValidatingWebhookConfiguration", "warn.example.io", "/validate", webhook.tls)
    )
    result = await kubectl("create", "-f", str(configmap_file(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "Warning: data.k is deprecated; use data.key" in result.stderr.splitlines()
    assert result.stdout.strip() == "configmap/settings created"


async def test_mutation_is_stored(kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path) -> None:
    webhook.handlers["/mutate"] = lambda r: patch_response(
        r, [{"op": "add", "path": "/metadata/labels", "value": {"mutated-by": "webhook"}}]
    )
    await apply(
        kubectl, tmp_path, configuration("MutatingWebhookConfiguration", "label.example.io", "/mutate", webhook.tls)
    )
    result = await kubectl("create", "-f", str(configmap_file(tmp_path)))
    assert result.returncode == 0, result.stderr
    got = await kubectl("get", "configmap", "settings", "-o", "json")
    assert json.loads(got.stdout)["metadata"]["labels"] == {"mutated-by": "webhook"}


async def test_certificate_for_another_service_fails_the_call(
    kubectl: Kubectl, sandbox: Sandbox, webhook: WebhookServer, tmp_path: Path
) -> None:
    webhook.handlers["/validate"] = allow
    async with WebhookServer(make_tls(["impostor.system.svc"])) as impostor:
        impostor.handlers["/validate"] = allow
        sandbox.register_service_endpoint("system", "webhook-service", 443, "127.0.0.1", impostor.port)
        config = configuration("ValidatingWebhookConfiguration", "strict.example.io", "/validate", impostor.tls)
        await apply(kubectl, tmp_path, config)
        path = configmap_file(tmp_path)
        result = await kubectl("create", "-f", str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error from server (InternalError): error when creating "{path}": Internal error occurred: failed calling '
        'webhook "strict.example.io": failed to call webhook: Post '
        f'"https://{SVC_HOST}:443/validate?timeout=5s": tls: failed to verify certificate: '
        f"x509: certificate is valid for impostor.system.svc, not {SVC_HOST}"
    )
    assert impostor.received == []


async def test_webhook_with_side_effects_is_refused_at_apply_time(kubectl: Kubectl, tmp_path: Path) -> None:
    config = configuration("ValidatingWebhookConfiguration", "effects.example.io", "/validate", make_tls([SVC_HOST]))
    config["webhooks"][0]["sideEffects"] = "Some"
    path = tmp_path / "vwc.yaml"
    path.write_text(yaml.safe_dump(config))
    result = await kubectl("apply", "-f", str(path))
    assert result.returncode == 1
    assert (
        'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"' in result.stderr
    )


async def test_server_dry_run_reaches_side_effect_free_webhooks_and_stores_nothing(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path
) -> None:
    webhook.handlers["/validate"] = allow
    await apply(
        kubectl, tmp_path, configuration("ValidatingWebhookConfiguration", "dry.example.io", "/validate", webhook.tls)
    )
    result = await kubectl("create", "--dry-run=server", "-f", str(configmap_file(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "configmap/settings created (server dry run)"
    assert webhook.calls("/validate")[0].review["request"]["dryRun"] is True
    assert (await kubectl("get", "configmap", "settings")).returncode == 1


async def test_admission_log_records_each_call(
    kubectl: Kubectl, sandbox: Sandbox, webhook: WebhookServer, tmp_path: Path
) -> None:
    webhook.handlers["/validate"] = allow
    await apply(
        kubectl, tmp_path, configuration("ValidatingWebhookConfiguration", "log.example.io", "/validate", webhook.tls)
    )
    assert (await kubectl("create", "-f", str(configmap_file(tmp_path)))).returncode == 0
    entries = [e for e in sandbox.admission_log if e["webhook"] == "log.example.io"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["operation"], entry["resource"], entry["allowed"], entry["error"]) == (
        "CREATE",
        "configmaps",
        True,
        None,
    )
    assert entry["uid"] == webhook.calls("/validate")[0].review["request"]["uid"]
    await asyncio.sleep(0)
