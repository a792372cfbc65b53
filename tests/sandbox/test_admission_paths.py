"""Admission on the request paths kube-apiserver wires it into, as kubectl sees it.

Three upstream behaviours the plain create/update tests do not reach: warnings gathered before a
denial are still sent as ``Warning`` headers; DELETE calls mutating webhooks too (with ``oldObject``
only, and a patch is an error); and a rule naming one served version of a CRD matches requests
through another (``matchPolicy: Equivalent``, the default), converted to the version the rule names.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl
from tests.sandbox.test_admission_kubectl import SVC_HOST, apply, configmap_file, configuration
from tests.sandbox.webhook_fixture import WebhookServer, allow, deny, make_tls, patch_response


@pytest.fixture
async def webhook(sandbox: Sandbox) -> AsyncIterator[WebhookServer]:
    async with WebhookServer(make_tls([SVC_HOST])) as server:
        sandbox.register_service_endpoint("system", "webhook-service", 443, "127.0.0.1", server.port)
        yield server


async def test_warnings_collected_before_a_denial_are_still_printed(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path
) -> None:
    webhook.handlers["/m"] = lambda r: allow(r, warnings=["defaulted data from the mutating webhook"])
    webhook.handlers["/v"] = lambda r: deny(
        r, {"code": 403, "message": "configmaps are frozen"}, warnings=["the validating webhook also warns"]
    )
    await apply(kubectl, tmp_path, configuration("MutatingWebhookConfiguration", "m.example.io", "/m", webhook.tls))
    await apply(kubectl, tmp_path, configuration("ValidatingWebhookConfiguration", "v.example.io", "/v", webhook.tls))
    out = await kubectl("create", "-f", str(configmap_file(tmp_path)))
    assert out.returncode == 1
    assert "Warning: defaulted data from the mutating webhook" in out.stderr
    assert "Warning: the validating webhook also warns" in out.stderr
    assert 'admission webhook "v.example.io" denied the request: configmaps are frozen' in out.stderr


async def test_delete_calls_mutating_then_validating_webhooks_with_the_old_object(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path
) -> None:
    out = await kubectl("create", "-f", str(configmap_file(tmp_path)))
    assert out.returncode == 0, out.stderr
    order: list[str] = []

    def mutating(review: dict[str, Any]) -> dict[str, Any]:
        order.append("mutating")
        return allow(review)

    def validating(review: dict[str, Any]) -> dict[str, Any]:
        order.append("validating")
        return allow(review)

    webhook.handlers["/m"] = mutating
    webhook.handlers["/v"] = validating
    rules = [{"operations": ["DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]
    for kind, name, path in (("Mutating", "m.example.io", "/m"), ("Validating", "v.example.io", "/v")):
        config = configuration(f"{kind}WebhookConfiguration", name, path, webhook.tls, rules=rules)
        await apply(kubectl, tmp_path, config)
    out = await kubectl("delete", "configmap", "settings")
    assert out.returncode == 0, out.stderr
    assert order == ["mutating", "validating"]
    for received in webhook.calls("/m") + webhook.calls("/v"):
        request = received.review["request"]
        assert request["operation"] == "DELETE"
        assert request["object"] is None
        assert request["oldObject"]["data"] == {"k": "v"}
        assert request["options"]["kind"] == "DeleteOptions"


async def test_a_mutating_webhook_cannot_patch_a_delete(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path
) -> None:
    out = await kubectl("create", "-f", str(configmap_file(tmp_path)))
    assert out.returncode == 0, out.stderr
    webhook.handlers["/m"] = lambda r: patch_response(r, [{"op": "add", "path": "/metadata/labels", "value": {}}])
    rules = [{"operations": ["DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]
    await apply(
        kubectl, tmp_path, configuration("MutatingWebhookConfiguration", "m.example.io", "/m", webhook.tls, rules=rules)
    )
    out = await kubectl("delete", "configmap", "settings")
    assert out.returncode == 1
    assert (
        'Internal error occurred: admission webhook "m.example.io" attempted to modify the object, '
        "which is not supported for this operation"
    ) in out.stderr
    assert (await kubectl("get", "configmap", "settings")).returncode == 0  # not deleted


def two_version_crd() -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.io"},
        "spec": {
            "group": "example.io",
            "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v2", "served": True, "storage": False, "schema": schema},
            ],
        },
    }


@pytest.mark.parametrize(("policy", "called"), [("Equivalent", True), ("Exact", False)])
async def test_a_rule_for_one_served_version_matches_requests_through_another(
    kubectl: Kubectl, webhook: WebhookServer, tmp_path: Path, policy: str, called: bool
) -> None:
    out = await kubectl("apply", "-f", "-", input=json.dumps(two_version_crd()))
    assert out.returncode == 0, out.stderr
    webhook.handlers["/v"] = lambda r: deny(r, {"code": 403, "message": "no gadgets"})
    rules = [{"operations": ["CREATE"], "apiGroups": ["example.io"], "apiVersions": ["v1"], "resources": ["gadgets"]}]
    config = configuration(
        "ValidatingWebhookConfiguration", "v.example.io", "/v", webhook.tls, rules=rules, matchPolicy=policy
    )
    await apply(kubectl, tmp_path, config)
    gadget = {"apiVersion": "example.io/v2", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"size": 1}}
    out = await kubectl("create", "-f", "-", input=json.dumps(gadget))
    if not called:
        assert out.returncode == 0, out.stderr
        assert webhook.calls("/v") == []
        return
    assert out.returncode == 1
    assert 'admission webhook "v.example.io" denied the request: no gadgets' in out.stderr
    [received] = webhook.calls("/v")
    request = received.review["request"]
    assert request["kind"] == {"group": "example.io", "version": "v1", "kind": "Gadget"}
    assert request["requestKind"] == {"group": "example.io", "version": "v2", "kind": "Gadget"}
    assert request["object"]["apiVersion"] == "example.io/v1"


async def test_a_webhook_reached_by_url_is_called_and_its_certificate_checked(
    kubectl: Kubectl, sandbox: Sandbox, tmp_path: Path
) -> None:
    async with WebhookServer(make_tls(["localhost"])) as server:
        server.handlers["/by-url"] = lambda r: deny(r, {"code": 403, "message": "reached by url"})
        config = configuration("ValidatingWebhookConfiguration", "u.example.io", "/by-url", server.tls)
        config["webhooks"][0]["clientConfig"] = {
            "url": f"https://localhost:{server.port}/by-url",
            "caBundle": server.tls.ca_bundle,
        }
        await apply(kubectl, tmp_path, config)
        out = await kubectl("create", "-f", str(configmap_file(tmp_path)))
        assert out.returncode == 1
        assert 'admission webhook "u.example.io" denied the request: reached by url' in out.stderr
        [received] = server.calls("/by-url")
        assert received.query == {"timeout": "5s"}
        assert received.review["request"]["operation"] == "CREATE"
        # The same endpoint behind a certificate for another name is a call failure (failurePolicy Fail).
        config["webhooks"][0]["clientConfig"]["url"] = f"https://127.0.0.1:{server.port}/by-url"
        await apply(kubectl, tmp_path, config)
        out = await kubectl("create", "-f", str(configmap_file(tmp_path)))
        assert out.returncode == 1
        assert (
            'Internal error occurred: failed calling webhook "u.example.io": failed to call webhook: Post '
            f'"https://127.0.0.1:{server.port}/by-url?timeout=5s": tls: failed to verify certificate: x509: '
            "cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"
        ) in out.stderr
        assert len(server.calls("/by-url")) == 1
