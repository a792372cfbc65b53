"""The sandbox's own logs: the request and admission logs stay bounded.

A sandbox that serves an operator for hours must not grow without bound: the admission log, like the
request log, keeps only its newest entries (and can still be sliced, as tests do).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ray_operator.sandbox.server import Sandbox

VALIDATING = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"

UNREACHABLE_WEBHOOK: dict[str, Any] = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "logged"},
    "webhooks": [
        {
            "name": "logged.example.io",
            "clientConfig": {"service": {"namespace": "system", "name": "nowhere", "port": 443}},
            "rules": [
                {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}
            ],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }
    ],
}


async def _post(sb: Sandbox, path: str, body: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sb.token}"}) as session,
        session.post(sb.url + path, json=body, ssl=sb.client_ssl_context()) as response,
    ):
        await response.read()
        return response.status


@pytest.mark.parametrize("sandbox", [{"log_size": 3}], indirect=True)
async def test_admission_log_keeps_only_its_newest_entries(sandbox: Sandbox) -> None:
    assert await _post(sandbox, VALIDATING, UNREACHABLE_WEBHOOK) == 201
    for i in range(5):  # the webhook cannot be reached; failurePolicy Ignore admits, and every call is logged
        assert await _post(sandbox, CONFIGMAPS, {"metadata": {"name": f"cm-{i}"}}) == 201

    assert [e["name"] for e in sandbox.admission_log] == ["cm-2", "cm-3", "cm-4"]
    assert [e["name"] for e in sandbox.admission_log[1:]] == ["cm-3", "cm-4"]
    assert sandbox.admission_log[-1]["failed_open"] is True
    assert len(sandbox.control.requests) == 3

    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"}) as session,
        session.get(sandbox.url + "/_sandbox/admission-log", ssl=sandbox.client_ssl_context()) as resp,
    ):
        assert [e["name"] for e in (await resp.json())["items"]] == ["cm-2", "cm-3", "cm-4"]

    sandbox.control.reset()
    assert len(sandbox.admission_log) == 0
