"""Fixtures for the webhook tests: loopback HTTPS servers, a test PKI and stand-in rules.

The stand-in rules let the HTTP and review layers be tested independently of how the real
validation evolves (and let a rule raise on purpose); tests of the real rules use
``webhook.rules.raycluster_rules()``.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.webhook.tls import SERVER_NAME, Pki, make_pki
from webhook.app import build_app
from webhook.rules import Rules
from webhook.server import HttpsServer


@dataclass(frozen=True)
class FakeFieldError:
    path: str
    type: str
    detail: str

    @property
    def message(self) -> str:
        return f"Invalid value: {self.detail}"


@dataclass
class FakeResult:
    errors: list[FakeFieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def fake_validate(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> FakeResult:
    """Every ``spec.bad*`` key is an error; ``spec.warn`` a warning; changing ``spec.fixed`` on update is an error."""
    spec = new.get("spec") or {}
    result = FakeResult()
    for key in sorted(spec):
        if key.startswith("bad"):
            result.errors.append(FakeFieldError(f"spec.{key}", "FieldValueInvalid", f"{spec[key]!r}: must not be set"))
    if "warn" in spec:
        result.warnings.append(f"spec.warn: {spec['warn']}")
    if old is not None and (old.get("spec") or {}).get("fixed") != spec.get("fixed"):
        result.errors.append(FakeFieldError("spec.fixed", "FieldValueForbidden", "field is immutable"))
    return result


def fake_defaults(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    spec = out.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    out.setdefault("metadata", {}).setdefault("labels", {}).setdefault("ray.io/a~b", "defaulted")
    return out


FAKE_RULES = Rules(validate=fake_validate, apply_defaults=fake_defaults)


def review(
    obj: Mapping[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    kind: str = "RayCluster",
    group: str = "ray.io",
    resource: str = "rayclusters",
    dry_run: bool = False,
) -> dict[str, Any]:
    """An AdmissionReview as kube-apiserver sends it for a RayCluster."""
    name = ((obj or old or {}).get("metadata") or {}).get("name", "")
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "requestKind": {"group": group, "version": "v1", "kind": kind},
            "requestResource": {"group": group, "version": "v1", "resource": resource},
            "name": name,
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": obj,
            "oldObject": old,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


@dataclass
class RunningServer:
    url: str
    port: int
    session: aiohttp.ClientSession

    async def post(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        kwargs.setdefault("server_hostname", SERVER_NAME)  # verify the Service DNS name, as the API server does
        async with self.session.post(self.url + path, json=body, **kwargs) as resp:
            data = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, data


ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def webhook_server(pki: Pki, tmp_path: Path) -> AsyncIterator[ServerFactory]:
    servers: list[HttpsServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(*, rules: Rules = FAKE_RULES, max_body_bytes: int = 64 * 1024, **app_kw: Any) -> RunningServer:
        app = build_app(rules=rules, max_body_bytes=max_body_bytes, **app_kw)
        server = HttpsServer(app, host="127.0.0.1", port=0, ssl_context=pki.server_context(tmp_path))
        port = await server.start()
        servers.append(server)
        connector = aiohttp.TCPConnector(ssl=pki.client_context())
        session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10))
        sessions.append(session)
        return RunningServer(url=f"https://127.0.0.1:{port}", port=port, session=session)

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.stop()
