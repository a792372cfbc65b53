"""The AdmissionReview wire format: the request body kube-apiserver POSTs, and what a response may say.

``build_review`` is ``CreateV1AdmissionReview`` (``requestKind``/``requestResource`` keep the request's
version when matchPolicy Equivalent sends another); ``verify_response`` checks an answer exactly as
``VerifyAdmissionResponse`` does (uid, apiVersion/kind, patch and patchType rules, v1beta1's laxness);
a webhook's JSON patch is decoded and applied with upstream's failure texts; and the outcomes become
the ``Status`` bodies kubectl prints (apiserver v1.32 texts: ``webhook/errors.ToStatusErr``,
``util/webhook.ErrCallingWebhook``). Warnings go through upstream's recorder rules (``limit_warnings``).

Denials follow v1.32's ``ToStatusErr``: no code, or one below 400, becomes 400 and the webhook's
reason and details pass through (later servers default to 403 and prefix ``<resource> "<name>" is
forbidden:``); controller-runtime webhooks send 403 Forbidden themselves, so kubectl shows the same.
Decided against: typed models of the review (the point is to accept and refuse exactly what
upstream's decoder does, including malformed answers).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonpatch

from ray_operator.sandbox import errors
from ray_operator.sandbox.admission.attributes import AdmissionAttributes, as_str, as_version
from ray_operator.sandbox.resources import ResourceType

KNOWN_REVIEW_VERSIONS = ("v1", "v1beta1")


WARNING_TOTAL_RUNES = 4 * 1024
"""Upstream's warning recorder switches to truncating once this many runes were written."""


WARNING_ITEM_RUNES = 256
"""… and then cuts every warning to this many runes."""


_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


def build_review(
    attrs: AdmissionAttributes,
    obj: dict[str, Any] | None,
    *,
    uid: str,
    version: str,
    as_rt: ResourceType | None = None,
) -> dict[str, Any]:
    """The ``AdmissionReview`` body kube-apiserver POSTs (``CreateV1AdmissionReview``).

    ``as_rt`` is the version the webhook asked for (matchPolicy Equivalent); ``requestKind`` and
    ``requestResource`` keep the version of the request.
    """
    rt = as_rt or attrs.rt
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    resource = {"group": rt.group, "version": rt.version, "resource": rt.resource}
    requested = attrs.rt
    request_kind = {"group": requested.group, "version": requested.version, "kind": requested.kind}
    request_resource = {"group": requested.group, "version": requested.version, "resource": requested.resource}
    user = {"username": as_str(attrs.user_info.get("username"))}
    for key in ("uid", "groups", "extra"):
        if attrs.user_info.get(key):
            user[key] = attrs.user_info[key]
    request: dict[str, Any] = {"uid": uid, "kind": kind, "resource": resource}
    if attrs.sub_resource:
        request["subResource"] = attrs.sub_resource
    request["requestKind"] = request_kind
    request["requestResource"] = request_resource
    if attrs.sub_resource:
        request["requestSubResource"] = attrs.sub_resource
    if attrs.name:
        request["name"] = attrs.name
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    request["operation"] = attrs.operation
    request["userInfo"] = user
    request["object"] = as_version(obj, rt)
    request["oldObject"] = as_version(attrs.old_obj, rt)
    request["dryRun"] = attrs.dry_run
    request["options"] = _options(attrs)
    return {"kind": "AdmissionReview", "apiVersion": f"admission.k8s.io/{version}", "request": request}


def _options(attrs: AdmissionAttributes) -> dict[str, Any] | None:
    kind = _OPTIONS_KIND.get(attrs.operation)
    if kind is None:
        return _public(attrs.options) or None
    options = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    options.update(_public(attrs.options))
    return options


def _public(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as sent on the wire: no kind/apiVersion override, no server-internal ``_`` keys."""
    return {k: v for k, v in options.items() if k not in ("kind", "apiVersion") and not k.startswith("_")}


@dataclass(frozen=True, kw_only=True)
class ReviewResult:
    allowed: bool
    patch: bytes | None
    patch_type: str
    status: dict[str, Any] | None
    warnings: list[str]
    audit_annotations: dict[str, str]


class InvalidResponse(ValueError):
    """``VerifyAdmissionResponse`` failed; the text is upstream's."""


def verify_response(review: Any, *, uid: str, mutating: bool, version: str) -> ReviewResult:
    """Check a decoded response body exactly as ``VerifyAdmissionResponse`` does."""
    if not isinstance(review, Mapping):
        raise InvalidResponse("webhook response was absent")
    response = review.get("response")
    if not isinstance(response, Mapping):
        raise InvalidResponse("webhook response was absent")
    raw_patch = response.get("patch")
    patch_type = response.get("patchType")
    if version == "v1":
        got_uid = as_str(response.get("uid"))
        if got_uid != uid:
            raise InvalidResponse(f'expected response.uid="{uid}", got "{got_uid}"')
        got_gv = as_str(review.get("apiVersion"))
        group, _, ver = got_gv.rpartition("/")
        got = f"{group}/{ver}, Kind={as_str(review.get('kind'))}"
        if got != "admission.k8s.io/v1, Kind=AdmissionReview":
            raise InvalidResponse(f"expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {got}")
        if mutating:
            if raw_patch and patch_type is None:
                raise InvalidResponse("webhook returned response.patch but not response.patchType")
            if not raw_patch and patch_type is not None:
                raise InvalidResponse("webhook returned response.patchType but not response.patch")
            if patch_type is not None and not as_str(patch_type):
                raise InvalidResponse(f'webhook returned invalid response.patchType of "{as_str(patch_type)}"')
        else:
            if raw_patch:
                raise InvalidResponse("validating webhook may not return response.patch")
            if patch_type is not None:
                raise InvalidResponse("validating webhook may not return response.patchType")
    else:  # v1beta1: neither uid nor kind were checked, and the patch type is pinned to JSONPatch
        patch_type = "JSONPatch" if (mutating and raw_patch) else None
    patch: bytes | None = None
    if mutating and raw_patch:
        if not isinstance(raw_patch, str):
            raise InvalidResponse(
                "json: cannot unmarshal non-string into Go struct field response.patch of type []byte"
            )
        try:
            patch = base64.b64decode(raw_patch, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidResponse(f"illegal base64 data in response.patch: {exc}") from None
    status = response.get("status")
    warnings = response.get("warnings")
    annotations = response.get("auditAnnotations")
    return ReviewResult(
        allowed=response.get("allowed") is True,
        patch=patch,
        patch_type=as_str(patch_type),
        status=dict(status) if isinstance(status, Mapping) else None,
        warnings=[w for w in warnings if isinstance(w, str)] if isinstance(warnings, list) else [],
        audit_annotations={str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, Mapping) else {},
    )


class CallFailure(Exception):
    """``ErrCallingWebhook``: subject to the failure policy. ``str`` is the reason text."""


class Rejection(Exception):
    def __init__(self, error: errors.ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def denial_error(webhook_name: str, status: Mapping[str, Any] | None) -> errors.ApiError:
    """``ToStatusErr``: a webhook's ``allowed: false`` as the API error the client sees."""
    result = dict(status or {})
    code = result.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code < 400:
        code = 400
    denied_by = f'admission webhook "{webhook_name}" denied the request'
    message, reason = as_str(result.get("message")), as_str(result.get("reason"))
    if message:
        text = f"{denied_by}: {message}"
    elif reason:
        text = f"{denied_by}: {reason}"
    else:
        text = f"{denied_by} without explanation"
    details = result.get("details")
    return errors.ApiError(
        code=code, reason=reason, message=text, details=dict(details) if isinstance(details, Mapping) else None
    )


def internal_error(inner: str) -> errors.ApiError:
    """``apierrors.NewInternalError``: 500 with the inner text as the single cause."""
    return errors.ApiError(
        code=500,
        reason="InternalError",
        message=f"Internal error occurred: {inner}",
        details={"causes": [{"message": inner}]},
    )


def call_failure_error(webhook_name: str, reason: str) -> errors.ApiError:
    """``ErrCallingWebhook`` under ``failurePolicy: Fail``."""
    return internal_error(f'failed calling webhook "{webhook_name}": {reason}')


def dry_run_unsupported(webhook_name: str) -> errors.ApiError:
    return errors.bad_request(f'admission webhook "{webhook_name}" does not support dry run')


def limit_warnings(texts: Iterable[str]) -> list[str]:
    """Upstream's warning recorder: drop empty and duplicate texts; past 4 KiB runes cut each to 256."""
    seen: set[str] = set()
    ordered: list[str] = []
    for text in texts:
        if not text or text in seen or any(ord(c) < 0x20 and c != "\t" for c in text) or "\x7f" in text:
            continue
        seen.add(text)
        ordered.append(text)
    if sum(len(t) for t in ordered) <= WARNING_TOTAL_RUNES:
        return ordered
    out: list[str] = []
    written = 0
    for text in ordered:
        if written >= WARNING_TOTAL_RUNES:
            break
        cut = text[:WARNING_ITEM_RUNES]
        out.append(cut)
        written += len(cut)
    return out


def decode_patch(raw_patch: bytes) -> list[Any]:
    """The RFC 6902 operations of a webhook's patch; ``CallFailure`` if undecodable (upstream's text)."""
    try:
        ops = json.loads(raw_patch)
    except ValueError as exc:
        raise CallFailure(f"received undecodable patch in webhook response: {exc}") from None
    if not isinstance(ops, list):
        raise CallFailure(
            "received undecodable patch in webhook response: json: cannot unmarshal object into Go value of type "
            "jsonpatch.Patch"
        )
    return ops


def apply_json_patch(obj: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply RFC 6902 operations to a copy of ``obj``; a patch that does not apply is a 500, as upstream."""
    try:
        patched = jsonpatch.JsonPatch(ops).apply(obj)  # not in place: jsonpatch copies the document itself
    except jsonpatch.JsonPatchTestFailed as exc:
        raise internal_error(f"testing value failed: {exc}") from None
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as exc:
        raise internal_error(_patch_failure_text(ops, exc)) from None
    if not isinstance(patched, dict):
        raise internal_error("patched object is not a JSON object")
    return patched


def _patch_failure_text(ops: list[Any], exc: Exception) -> str:
    for op in ops:
        if isinstance(op, Mapping) and isinstance(op.get("path"), str) and op["path"] in str(exc):
            return (
                f'{as_str(op.get("op"))} operation does not apply: doc is missing path: "{op["path"]}": missing value'
            )
    return f"jsonpatch failed to apply: {exc}"
