"""The emulator's admission chain against a real HTTPS webhook: what is sent, and the errors users see."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ray_operator.sandbox import errors
from ray_operator.sandbox.admission import AdmissionAttributes, AdmissionChain, AdmissionError
from ray_operator.sandbox.admission.review import limit_warnings
from ray_operator.sandbox.resources import ResourceType
from tests.sandbox.webhook_fixture import Tls, WebhookServer, allow, deny, make_tls, patch_response

SVC_HOST = "webhook-service.system.svc"
RAYCLUSTERS = ResourceType(
    group="ray.io",
    version="v1",
    resource="rayclusters",
    kind="RayCluster",
    singular="raycluster",
    namespaced=True,
    list_kind="RayClusterList",
    subresources=("status",),
    is_custom=True,
)
VWC = ResourceType(
    group="admissionregistration.k8s.io",
    version="v1",
    resource="validatingwebhookconfigurations",
    kind="ValidatingWebhookConfiguration",
    singular="validatingwebhookconfiguration",
    namespaced=False,
    list_kind="ValidatingWebhookConfigurationList",
)
NAMESPACES = {
    "default": {"metadata": {"name": "default", "labels": {"kubernetes.io/metadata.name": "default"}}},
    "team-a": {"metadata": {"name": "team-a", "labels": {"team": "a"}}},
}


def raycluster(name: str = "demo", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"headGroupSpec": {"rayStartParams": {}}},
    }


def attrs(
    *,
    operation: str = "CREATE",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    sub_resource: str = "",
    namespace: str = "default",
    dry_run: bool = False,
    rt: ResourceType = RAYCLUSTERS,
    name: str = "demo",
) -> AdmissionAttributes:
    if obj is None and operation in ("CREATE", "UPDATE"):
        obj = raycluster()
    return AdmissionAttributes(
        operation=operation,
        rt=rt,
        sub_resource=sub_resource,
        namespace=namespace,
        name=name,
        obj=obj,
        old_obj=old,
        dry_run=dry_run,
        options={"fieldManager": "kubectl-create", "_internal": True} if operation == "CREATE" else {},
        user_info={"username": "admin", "groups": ["system:masters", "system:authenticated"]},
    )


def hook(tls: Tls, name: str = "vraycluster.kb.io", path: str = "/validate", **over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "clientConfig": {
            "service": {"namespace": "system", "name": "webhook-service", "path": path, "port": 443},
            "caBundle": tls.ca_bundle,
        },
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": ["ray.io"],
                "apiVersions": ["v1"],
                "resources": ["rayclusters"],
            }
        ],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    spec.update(over)
    return spec


def config(name: str, *hooks: dict[str, Any], kind: str = "ValidatingWebhookConfiguration") -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": list(hooks),
    }


@pytest.fixture
def tls() -> Tls:
    return make_tls([SVC_HOST])


@pytest.fixture
async def server(tls: Tls) -> AsyncIterator[WebhookServer]:
    async with WebhookServer(tls) as srv:
        yield srv


@pytest.fixture
def log() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def chain(server: WebhookServer, log: list[dict[str, Any]]) -> AsyncIterator[AdmissionChain]:
    endpoints = {("system", "webhook-service", 443): ("127.0.0.1", server.port)}
    c = AdmissionChain(
        resolve_service=lambda ns, name, port: endpoints.get((ns, name, port)),
        get_namespace=NAMESPACES.get,
        log=log,
    )
    yield c
    await c.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------------------------------- calls


async def test_allowed_request_carries_the_admission_review_kube_apiserver_sends(
    chain: AdmissionChain, server: WebhookServer, tls: Tls, log: list[dict[str, Any]]
) -> None:
    server.handlers["/validate"] = allow
    warnings = await chain.validate(attrs(), [config("c", hook(tls))])
    assert warnings == []
    [call] = server.received
    assert call.query == {"timeout": "10s"}
    assert call.headers["Host"] == f"{SVC_HOST}:443"
    assert call.headers["Content-Type"] == "application/json"
    review = call.review
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    req = review["request"]
    assert req["kind"] == {"group": "ray.io", "version": "v1", "kind": "RayCluster"}
    assert req["resource"] == {"group": "ray.io", "version": "v1", "resource": "rayclusters"}
    assert req["requestKind"] == req["kind"] and req["requestResource"] == req["resource"]
    assert "subResource" not in req
    assert (req["name"], req["namespace"], req["operation"]) == ("demo", "default", "CREATE")
    assert req["userInfo"] == {"username": "admin", "groups": ["system:masters", "system:authenticated"]}
    assert req["object"] == raycluster() and req["oldObject"] is None
    assert req["dryRun"] is False
    assert req["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-create"}
    assert log[0]["uid"] == req["uid"] and log[0]["allowed"] is True and log[0]["webhook"] == "vraycluster.kb.io"


async def test_delete_sends_old_object_and_delete_options(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = allow
    h = hook(tls, rules=[{"operations": ["DELETE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}])
    await chain.validate(attrs(operation="DELETE", old=raycluster()), [config("c", h)])
    req = server.received[0].review["request"]
    assert req["object"] is None and req["oldObject"] == raycluster()
    assert req["options"] == {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}


# ---------------------------------------------------------------------------------------- denials


async def test_denial_with_message_is_rendered_like_kube_apiserver(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = lambda r: deny(
        r, {"code": 403, "reason": "Forbidden", "message": "spec.headGroupSpec is required"}
    )
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls))])
    status = caught.value.status()
    assert status["code"] == 403 and status["reason"] == "Forbidden"
    assert (
        status["message"] == 'admission webhook "vraycluster.kb.io" denied the request: spec.headGroupSpec is required'
    )


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (None, 400, 'admission webhook "vraycluster.kb.io" denied the request without explanation'),
        ({"code": 200, "reason": "NotGood"}, 400, 'admission webhook "vraycluster.kb.io" denied the request: NotGood'),
        ({"code": 409, "message": "m"}, 409, 'admission webhook "vraycluster.kb.io" denied the request: m'),
    ],
)
async def test_denial_code_and_message_fallbacks(
    chain: AdmissionChain, server: WebhookServer, tls: Tls, status: dict[str, Any] | None, code: int, message: str
) -> None:
    server.handlers["/validate"] = lambda r: deny(r, status)
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls))])
    assert (caught.value.code, caught.value.message) == (code, message)


async def test_denial_with_causes_keeps_the_invalid_details(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    causes = [
        {"reason": "FieldValueInvalid", "message": "Invalid value: -1", "field": "spec.workerGroupSpecs[0].replicas"}
    ]
    details = {"name": "demo", "group": "ray.io", "kind": "RayCluster", "causes": causes}
    server.handlers["/validate"] = lambda r: deny(
        r, {"code": 422, "reason": "Invalid", "message": 'RayCluster.ray.io "demo" is invalid', "details": details}
    )
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls))])
    status = caught.value.status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"] == details
    assert status["message"].startswith('admission webhook "vraycluster.kb.io" denied the request: RayCluster')


async def test_first_denial_in_webhook_order_wins_and_validating_calls_run_concurrently(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    async def slow_deny(review: dict[str, Any], text: str) -> dict[str, Any]:
        await asyncio.sleep(0.6)
        return deny(review, {"code": 403, "message": text})

    server.handlers["/a"] = lambda r: slow_deny(r, "from a")
    server.handlers["/b"] = lambda r: slow_deny(r, "from b")
    configs = [
        config("z-second", hook(tls, name="b.example.io", path="/b")),
        config("a-first", hook(tls, name="a.example.io", path="/a")),
    ]
    started = time.monotonic()
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), configs)
    assert time.monotonic() - started < 1.15
    assert caught.value.message == 'admission webhook "a.example.io" denied the request: from a'


# ---------------------------------------------------------------------------------------- mutation, warnings


async def test_mutating_patch_is_applied_and_warnings_are_collected(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/mutate"] = lambda r: patch_response(
        r, [{"op": "add", "path": "/metadata/labels/defaulted", "value": "yes"}], warnings=["spec.x is deprecated"]
    )
    h = hook(tls, name="mraycluster.kb.io", path="/mutate")
    request = attrs()
    obj, warnings = await chain.mutate(request, [config("m", h, kind="MutatingWebhookConfiguration")])
    assert obj is not None and obj["metadata"]["labels"] == {"defaulted": "yes"}
    assert warnings == ["spec.x is deprecated"]
    assert request.obj == raycluster(), "the request's object is patched on a copy, never in place"


async def test_validating_warnings_are_returned_even_when_another_webhook_denies(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/a"] = lambda r: allow(r, warnings=["careful"])
    server.handlers["/b"] = lambda r: deny(r, {"code": 403, "message": "no"})
    configs = [config("a", hook(tls, name="a.example.io", path="/a"), hook(tls, name="b.example.io", path="/b"))]
    with pytest.raises(AdmissionError) as caught:
        await chain.validate(attrs(), configs)
    assert caught.value.warnings == ["careful"]
    server.handlers["/b"] = allow
    assert await chain.validate(attrs(), configs) == ["careful"]


async def test_if_needed_webhook_is_reinvoked_after_a_later_webhook_changes_the_object(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/first"] = allow
    server.handlers["/second"] = lambda r: patch_response(r, [{"op": "add", "path": "/spec/x", "value": 1}])
    first = hook(tls, name="first.example.io", path="/first", reinvocationPolicy="IfNeeded")
    second = hook(tls, name="second.example.io", path="/second")
    configs = [
        config("b", second, kind="MutatingWebhookConfiguration"),
        config("a", first, kind="MutatingWebhookConfiguration"),
    ]
    obj, _ = await chain.mutate(attrs(), configs)
    assert obj is not None and obj["spec"]["x"] == 1
    assert [c.path for c in server.received] == ["/first", "/second", "/first"]
    assert server.received[2].review["request"]["object"]["spec"]["x"] == 1


async def test_patch_that_does_not_apply_is_an_internal_error(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/mutate"] = lambda r: patch_response(r, [{"op": "replace", "path": "/spec/missing/x", "value": 1}])
    h = hook(tls, name="m.example.io", path="/mutate")
    with pytest.raises(errors.ApiError) as caught:
        await chain.mutate(attrs(), [config("m", h, kind="MutatingWebhookConfiguration")])
    assert caught.value.code == 500 and caught.value.reason == "InternalError"
    assert caught.value.message.startswith("Internal error occurred: ")


async def test_patch_on_delete_is_refused(chain: AdmissionChain, server: WebhookServer, tls: Tls) -> None:
    server.handlers["/mutate"] = lambda r: patch_response(r, [{"op": "add", "path": "/x", "value": 1}])
    h = hook(
        tls,
        name="m.example.io",
        path="/mutate",
        rules=[{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}],
    )
    with pytest.raises(errors.ApiError) as caught:
        await chain.mutate(
            attrs(operation="DELETE", old=raycluster()), [config("m", h, kind="MutatingWebhookConfiguration")]
        )
    assert caught.value.message == (
        'Internal error occurred: admission webhook "m.example.io" attempted to modify the object, '
        "which is not supported for this operation"
    )


# ---------------------------------------------------------------------------------------- call failures


def failure_prefix(name: str = "vraycluster.kb.io", path: str = "/validate", timeout: int = 10) -> str:
    return (
        f'Internal error occurred: failed calling webhook "{name}": failed to call webhook: '
        f'Post "https://{SVC_HOST}:443{path}?timeout={timeout}s": '
    )


async def test_certificate_for_another_name_fails_the_call(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = allow
    server.tls = tls  # the server keeps its certificate; the webhook now claims another service name
    other = make_tls(["other.system.svc"])
    async with WebhookServer(other) as wrong:
        wrong.handlers["/validate"] = allow
        c = AdmissionChain(
            resolve_service=lambda ns, name, port: ("127.0.0.1", wrong.port), get_namespace=NAMESPACES.get, log=[]
        )
        try:
            with pytest.raises(errors.ApiError) as caught:
                await c.validate(attrs(), [config("c", hook(other))])
        finally:
            await c.close()
    assert caught.value.code == 500 and caught.value.reason == "InternalError"
    assert caught.value.message == failure_prefix() + (
        "tls: failed to verify certificate: x509: certificate is valid for other.system.svc, not " + SVC_HOST
    )
    assert caught.value.details == {
        "causes": [{"message": caught.value.message.removeprefix("Internal error occurred: ")}]
    }
    assert wrong.received == []


async def test_certificate_from_another_ca_fails_the_call(chain: AdmissionChain, server: WebhookServer) -> None:
    server.handlers["/validate"] = allow
    stranger = make_tls([SVC_HOST])
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(stranger))])
    assert caught.value.message == failure_prefix() + (
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    )
    assert server.received == []


async def test_a_rotated_ca_bundle_is_trusted_on_the_next_call(server: WebhookServer, tls: Tls) -> None:
    """Certificate rotation: the webhook's new certificate and the configuration's new caBundle work without
    a restart, and the old bundle no longer verifies the new certificate."""
    server.handlers["/validate"] = allow
    rotated = make_tls([SVC_HOST])
    async with WebhookServer(rotated) as renewed:
        renewed.handlers["/validate"] = allow
        target = {"port": server.port}
        c = AdmissionChain(
            resolve_service=lambda ns, name, port: ("127.0.0.1", target["port"]), get_namespace=NAMESPACES.get, log=[]
        )
        try:
            assert await c.validate(attrs(), [config("c", hook(tls))]) == []
            target["port"] = renewed.port
            assert await c.validate(attrs(), [config("c", hook(rotated))]) == []
            with pytest.raises(errors.ApiError) as caught:
                await c.validate(attrs(), [config("c", hook(tls))])
        finally:
            await c.close()
    assert caught.value.message == failure_prefix() + (
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    )
    assert len(server.received) == 1 and len(renewed.received) == 1


@pytest.mark.parametrize(
    ("material", "detail"),
    [
        (
            lambda: make_tls([SVC_HOST], san=False),
            "x509: certificate relies on legacy Common Name field, use SANs instead",
        ),
        (
            lambda: make_tls(["not-the-service"], san=False),
            f"x509: certificate is not valid for any names, but wanted to match {SVC_HOST}",
        ),
        (
            lambda: make_tls([SVC_HOST], expired=True),
            "x509: certificate has expired or is not yet valid: current time ",
        ),
    ],
    ids=["common-name-only", "no-names", "expired"],
)
async def test_certificates_go_would_refuse_fail_the_call(material: Any, detail: str) -> None:
    bad = material()
    async with WebhookServer(bad) as srv:
        srv.handlers["/validate"] = allow
        c = AdmissionChain(
            resolve_service=lambda ns, n, p: ("127.0.0.1", srv.port), get_namespace=NAMESPACES.get, log=[]
        )
        try:
            with pytest.raises(errors.ApiError) as caught:
                await c.validate(attrs(), [config("c", hook(bad))])
        finally:
            await c.close()
    assert caught.value.message.startswith(failure_prefix() + "tls: failed to verify certificate: " + detail)
    assert srv.received == []


async def test_ignore_failure_policy_lets_the_request_through(
    chain: AdmissionChain, server: WebhookServer, tls: Tls, log: list[dict[str, Any]]
) -> None:
    stranger = make_tls([SVC_HOST])
    assert await chain.validate(attrs(), [config("c", hook(stranger, failurePolicy="Ignore"))]) == []
    assert log[-1]["failed_open"] is True and "unknown authority" in log[-1]["error"]


async def test_timeout_is_enforced_and_announced(chain: AdmissionChain, server: WebhookServer, tls: Tls) -> None:
    async def slow(review: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(3)
        return allow(review)

    server.handlers["/validate"] = slow
    started = time.monotonic()
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls, timeoutSeconds=1))])
    assert time.monotonic() - started < 2.5
    assert caught.value.message == failure_prefix(timeout=1) + "context deadline exceeded"
    assert server.received[0].query == {"timeout": "1s"}


async def test_connection_refused(tls: Tls) -> None:
    port = free_port()
    c = AdmissionChain(resolve_service=lambda ns, n, p: ("127.0.0.1", port), get_namespace=NAMESPACES.get, log=[])
    try:
        with pytest.raises(errors.ApiError) as caught:
            await c.validate(attrs(), [config("c", hook(tls))])
    finally:
        await c.close()
    assert caught.value.message == failure_prefix() + f"dial tcp 127.0.0.1:{port}: connect: connection refused"


async def test_unknown_service(tls: Tls) -> None:
    c = AdmissionChain(resolve_service=lambda ns, n, p: None, get_namespace=NAMESPACES.get, log=[])
    try:
        with pytest.raises(errors.ApiError) as caught:
            await c.validate(attrs(), [config("c", hook(tls))])
    finally:
        await c.close()
    assert caught.value.message.startswith(failure_prefix())
    assert "webhook-service" in caught.value.message.removeprefix(failure_prefix())


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            lambda r: {**allow(r), "response": {**allow(r)["response"], "uid": "nope"}},
            'expected response.uid="{uid}", got "nope"',
        ),
        (
            lambda r: {**allow(r), "apiVersion": "admission.k8s.io/v1beta1"},
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, "
            "got admission.k8s.io/v1beta1, Kind=AdmissionReview",
        ),
        (lambda r: {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "webhook response was absent"),
        (
            lambda r: {"response": allow(r)["response"]},
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind=",
        ),
        (
            lambda r: allow(r, patch=base64.b64encode(b"[]").decode(), patchType="JSONPatch"),
            "validating webhook may not return response.patch",
        ),
    ],
)
async def test_invalid_responses_are_call_failures(
    chain: AdmissionChain, server: WebhookServer, tls: Tls, answer: Any, reason: str
) -> None:
    server.handlers["/validate"] = answer
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls))])
    uid = server.received[0].review["request"]["uid"]
    assert caught.value.message == (
        'Internal error occurred: failed calling webhook "vraycluster.kb.io": received invalid webhook response: '
        + reason.format(uid=uid)
    )
    assert caught.value.code == 500


async def test_mutating_patch_without_patch_type_is_a_call_failure(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/mutate"] = lambda r: allow(r, patch=base64.b64encode(b"[]").decode())
    h = hook(tls, name="m.example.io", path="/mutate")
    with pytest.raises(errors.ApiError) as caught:
        await chain.mutate(attrs(), [config("m", h, kind="MutatingWebhookConfiguration")])
    assert caught.value.message.endswith("webhook returned response.patch but not response.patchType")


async def test_http_error_from_the_webhook_is_a_call_failure(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls, path="/nowhere"))])
    assert caught.value.message == (
        'Internal error occurred: failed calling webhook "vraycluster.kb.io": '
        "failed to call webhook: the server could not find the requested resource"
    )


async def test_unknown_review_versions_only(chain: AdmissionChain, server: WebhookServer, tls: Tls) -> None:
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls, admissionReviewVersions=["v2"]))])
    assert caught.value.message == (
        'Internal error occurred: failed calling webhook "vraycluster.kb.io": could not create admission objects: '
        "webhook does not accept known AdmissionReview versions (v1, v1beta1)"
    )
    assert server.received == []


async def test_v1beta1_only_webhook_gets_a_v1beta1_review(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = lambda r: {"response": {"allowed": True}, "kind": "AdmissionReview"}
    await chain.validate(attrs(), [config("c", hook(tls, admissionReviewVersions=["v1beta1"]))])
    assert server.received[0].review["apiVersion"] == "admission.k8s.io/v1beta1"


# ---------------------------------------------------------------------------------------- dry run


async def test_dry_run_to_webhook_with_side_effects_is_rejected(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = allow
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(dry_run=True), [config("c", hook(tls, sideEffects="Some", failurePolicy="Ignore"))])
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == 'admission webhook "vraycluster.kb.io" does not support dry run'
    assert server.received == []


async def test_dry_run_reaches_side_effect_free_webhooks(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = allow
    await chain.validate(attrs(dry_run=True), [config("c", hook(tls, sideEffects="NoneOnDryRun"))])
    assert server.received[0].review["request"]["dryRun"] is True


# ---------------------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("overrides", "request_attrs"),
    [
        (
            {
                "rules": [
                    {
                        "operations": ["DELETE"],
                        "apiGroups": ["ray.io"],
                        "apiVersions": ["v1"],
                        "resources": ["rayclusters"],
                    }
                ]
            },
            {},
        ),
        ({"rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["*"], "resources": ["*"]}]}, {}),
        ({"rules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["v2"], "resources": ["*"]}]}, {}),
        (
            {
                "rules": [
                    {
                        "operations": ["*"],
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "resources": ["*"],
                        "scope": "Cluster",
                    }
                ]
            },
            {},
        ),
        ({}, {"operation": "UPDATE", "sub_resource": "status", "old": raycluster()}),
        ({"objectSelector": {"matchLabels": {"app": "ray"}}}, {}),
        ({"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}}, {}),
        ({}, {"rt": VWC, "namespace": "", "obj": config("x")}),
    ],
    ids=[
        "operation",
        "group",
        "version",
        "scope",
        "status-subresource",
        "object-selector",
        "namespace-selector",
        "exempt",
    ],
)
async def test_webhooks_that_do_not_match_are_not_called(
    chain: AdmissionChain, server: WebhookServer, tls: Tls, overrides: dict[str, Any], request_attrs: dict[str, Any]
) -> None:
    server.handlers["/validate"] = lambda r: deny(r, {"code": 403, "message": "called"})
    h = hook(tls, **overrides)
    if request_attrs.get("rt") is VWC:
        h["rules"] = [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]
    assert await chain.validate(attrs(**request_attrs), [config("c", h)]) == []
    assert server.received == []


@pytest.mark.parametrize(
    ("overrides", "request_attrs"),
    [
        (
            {
                "rules": [
                    {
                        "operations": ["UPDATE"],
                        "apiGroups": ["ray.io"],
                        "apiVersions": ["v1"],
                        "resources": ["rayclusters/status"],
                    }
                ]
            },
            {"operation": "UPDATE", "sub_resource": "status", "old": raycluster()},
        ),
        (
            {
                "rules": [
                    {
                        "operations": ["*"],
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "resources": ["*/*"],
                        "scope": "Namespaced",
                    }
                ]
            },
            {"operation": "UPDATE", "sub_resource": "status", "old": raycluster()},
        ),
        ({"objectSelector": {"matchLabels": {"app": "ray"}}}, {"obj": raycluster(labels={"app": "ray"})}),
        (
            {"objectSelector": {"matchLabels": {"app": "ray"}}},
            {"operation": "UPDATE", "obj": raycluster(), "old": raycluster(labels={"app": "ray"})},
        ),
        ({"namespaceSelector": {"matchLabels": {"team": "a"}}}, {"namespace": "team-a"}),
    ],
    ids=["status-rule", "all-subresources", "object-labels", "old-object-labels", "namespace-labels"],
)
async def test_webhooks_that_match_are_called(
    chain: AdmissionChain, server: WebhookServer, tls: Tls, overrides: dict[str, Any], request_attrs: dict[str, Any]
) -> None:
    server.handlers["/validate"] = allow
    await chain.validate(attrs(**request_attrs), [config("c", hook(tls, **overrides))])
    assert len(server.received) == 1
    if request_attrs.get("sub_resource"):
        assert server.received[0].review["request"]["subResource"] == "status"


async def test_namespace_selector_on_a_missing_namespace_is_not_found(chain: AdmissionChain, tls: Tls) -> None:
    h = hook(tls, namespaceSelector={"matchLabels": {"team": "a"}})
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(namespace="ghost"), [config("c", h)])
    assert (caught.value.code, caught.value.message) == (404, 'namespaces "ghost" not found')


# ---------------------------------------------------------------------------------------- pure helpers


def test_warnings_are_deduplicated_and_truncated_past_four_kib() -> None:
    assert limit_warnings(["a", "", "b", "a", "bad\nline"]) == ["a", "b"]
    long = ["x" * 1000 + str(i) for i in range(6)]
    limited = limit_warnings(long)
    assert all(len(w) == 256 for w in limited)
    assert limited == [w[:256] for w in long]


def test_review_bodies_are_json_serialisable() -> None:
    from ray_operator.sandbox.admission.review import build_review

    body = build_review(
        attrs(sub_resource="status", operation="UPDATE", old=raycluster()), raycluster(), uid="u", version="v1"
    )
    assert json.loads(json.dumps(body))["request"]["requestSubResource"] == "status"


# ---------------------------------------------------------------------------------------- robustness

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 50)
    | st.sampled_from(["", "*", "CREATE", "v1", "ray.io", "rayclusters", "Ignore", "None", "/x"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "rules",
                    "clientConfig",
                    "service",
                    "url",
                    "operations",
                    "apiGroups",
                    "apiVersions",
                    "resources",
                    "scope",
                    "failurePolicy",
                    "sideEffects",
                    "admissionReviewVersions",
                    "namespaceSelector",
                    "objectSelector",
                    "matchLabels",
                    "matchExpressions",
                    "timeoutSeconds",
                    "caBundle",
                    "path",
                    "port",
                    "namespace",
                    "webhooks",
                    "metadata",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(configs=st.lists(json_values, max_size=3), dry_run=st.booleans())
async def test_malformed_configurations_never_crash_the_chain(configs: list[Any], dry_run: bool) -> None:
    chain = AdmissionChain(resolve_service=lambda ns, n, p: None, get_namespace=NAMESPACES.get, log=[])
    try:
        for kind in ("mutate", "validate"):
            try:
                if kind == "mutate":
                    await chain.mutate(attrs(dry_run=dry_run), configs)
                else:
                    await chain.validate(attrs(dry_run=dry_run), configs)
            except errors.ApiError as exc:
                assert exc.code in (400, 403, 404, 500) and exc.message
    finally:
        await chain.close()


HOOK_KEYS = st.sampled_from(
    [
        "name",
        "rules",
        "clientConfig",
        "failurePolicy",
        "sideEffects",
        "admissionReviewVersions",
        "namespaceSelector",
        "objectSelector",
        "timeoutSeconds",
        "reinvocationPolicy",
        "matchConditions",
    ]
)


@settings(max_examples=150, deadline=None)
@given(overrides=st.dictionaries(HOOK_KEYS, json_values, max_size=3), dry_run=st.booleans(), delete=st.booleans())
async def test_corrupted_fields_of_a_matching_webhook_never_crash_the_chain(
    overrides: dict[str, Any], dry_run: bool, delete: bool
) -> None:
    spec = hook(
        make_tls_once(), rules=[{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]
    )
    spec.update(overrides)
    request = attrs(operation="DELETE", old=raycluster(), dry_run=dry_run) if delete else attrs(dry_run=dry_run)
    chain = AdmissionChain(resolve_service=lambda ns, n, p: None, get_namespace=NAMESPACES.get, log=[])
    try:
        for configs in ([config("v", spec)], [config("m", spec, kind="MutatingWebhookConfiguration")]):
            try:
                await chain.validate(request, configs)
                await chain.mutate(request, configs)
            except errors.ApiError as exc:
                assert exc.code in (400, 403, 404, 500) and exc.message
    finally:
        await chain.close()


_TLS: list[Tls] = []


def make_tls_once() -> Tls:
    if not _TLS:
        _TLS.append(make_tls([SVC_HOST]))
    return _TLS[0]


# ---------------------------------------------------------------------------------------- matchPolicy


@pytest.fixture
async def versioned_chain(server: WebhookServer) -> AsyncIterator[AdmissionChain]:
    endpoints = {("system", "webhook-service", 443): ("127.0.0.1", server.port)}
    served = {("ray.io", "rayclusters"): ["v1", "v1alpha1"]}
    c = AdmissionChain(
        resolve_service=lambda ns, name, port: endpoints.get((ns, name, port)),
        get_namespace=NAMESPACES.get,
        log=[],
        served_versions=lambda group, resource: served.get((group, resource), []),
    )
    yield c
    await c.close()


def v1alpha1_attrs() -> AdmissionAttributes:
    obj = raycluster()
    obj["apiVersion"] = "ray.io/v1alpha1"
    return attrs(obj=obj, rt=dataclasses.replace(RAYCLUSTERS, version="v1alpha1"))


async def test_equivalent_match_policy_sends_the_object_in_the_rules_version(
    versioned_chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = allow
    await versioned_chain.validate(v1alpha1_attrs(), [config("c", hook(tls))])
    req = server.received[0].review["request"]
    assert req["kind"] == {"group": "ray.io", "version": "v1", "kind": "RayCluster"}
    assert req["resource"]["version"] == "v1" and req["object"]["apiVersion"] == "ray.io/v1"
    assert req["requestKind"]["version"] == "v1alpha1" and req["requestResource"]["version"] == "v1alpha1"


async def test_exact_match_policy_skips_other_versions(
    versioned_chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/validate"] = allow
    await versioned_chain.validate(v1alpha1_attrs(), [config("c", hook(tls, matchPolicy="Exact"))])
    assert server.received == []


async def test_equivalent_mutation_comes_back_in_the_requests_version(
    versioned_chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    server.handlers["/mutate"] = lambda r: patch_response(r, [{"op": "add", "path": "/spec/x", "value": 1}])
    h = hook(tls, name="m.example.io", path="/mutate")
    obj, _ = await versioned_chain.mutate(v1alpha1_attrs(), [config("m", h, kind="MutatingWebhookConfiguration")])
    assert obj is not None and obj["apiVersion"] == "ray.io/v1alpha1" and obj["spec"]["x"] == 1


# ---------------------------------------------------------------------------------------- matchConditions


@pytest.mark.parametrize(
    ("expression", "called"),
    [
        ("request.operation == 'CREATE' && object.metadata.name == 'demo'", True),
        ("!(has(object.metadata.labels) && 'skip' in object.metadata.labels)", False),
        ("request.userInfo.username != 'admin'", False),
    ],
)
async def test_match_conditions_decide_whether_the_webhook_is_called(
    chain: AdmissionChain, server: WebhookServer, tls: Tls, expression: str, called: bool
) -> None:
    server.handlers["/validate"] = allow
    conditions = [{"name": "c", "expression": expression}]
    obj = raycluster(labels={"skip": "yes"})
    await chain.validate(attrs(obj=obj), [config("c", hook(tls, matchConditions=conditions))])
    assert bool(server.received) is called


async def test_match_condition_error_fails_closed_with_forbidden(
    chain: AdmissionChain, server: WebhookServer, tls: Tls
) -> None:
    conditions = [{"name": "c", "expression": "object.metadata.labels.team == 'a'"}]
    with pytest.raises(errors.ApiError) as caught:
        await chain.validate(attrs(), [config("c", hook(tls, matchConditions=conditions))])
    assert (caught.value.code, caught.value.reason) == (403, "Forbidden")
    assert caught.value.message == (
        'rayclusters.ray.io "demo" is forbidden: '
        "expression 'object.metadata.labels.team == 'a'' resulted in error: no such key: team"
    )
    assert (
        await chain.validate(attrs(), [config("c", hook(tls, matchConditions=conditions, failurePolicy="Ignore"))])
        == []
    )
    assert server.received == []
