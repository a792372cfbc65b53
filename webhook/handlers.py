"""Validating and mutating admission for RayCluster as pure functions of one AdmissionRequest.

No API calls, no clock, no state: the answer depends only on the request, so a dry-run request is
as safe as a real one and every path can be tested without a server. The HTTP layer (``app.py``)
parses the review and calls these.

A denial is a ``Status`` shaped exactly like apimachinery's ``errors.NewInvalid``: code 422, reason
``Invalid``, ``details{name, group, kind, causes[]}`` and the message ``RayCluster.ray.io "x" is
invalid: …``. The API server passes reason and details through unchanged (it only prefixes the
message with ``admission webhook "…" denied the request:``), so kubectl prints
``The RayCluster "x" is invalid:`` followed by one ``* field: message`` line per cause.

Decided against: a 403 Forbidden denial with one joined message (kubectl would print a single
unreadable line) and blocking unknown kinds (a mis-scoped webhook configuration must not stop the
cluster; such requests are allowed with a warning and logged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from ray_operator.api import constants
from webhook.patch import diff, encode_patch
from webhook.review import AdmissionRequest, AdmissionResponse, Status, StatusCause, StatusDetails
from webhook.rules import FieldErrorLike, Rules

GROUP = constants.GROUP
KIND = constants.KIND
RESOURCE = constants.PLURAL


def _object_name(request: AdmissionRequest) -> str:
    if request.name:
        return request.name
    for obj in (request.object, request.old_object):
        metadata = obj.get("metadata") if obj else None
        if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
            return str(metadata["name"])
    return ""


def unhandled_resource_warning(request: AdmissionRequest) -> str | None:
    """A warning when the request is not a RayCluster (a mis-scoped webhook configuration), else None."""
    kind, resource = request.kind, request.resource
    if kind.group == GROUP and kind.kind == KIND and resource.resource == RESOURCE and not request.sub_resource:
        return None
    what = f"{resource.resource or kind.kind or 'unknown'}"
    if request.sub_resource:
        what += f"/{request.sub_resource}"
    group = resource.group or kind.group
    return (
        f"the ray-operator webhook does not handle {what}"
        + (f".{group}" if group else "")
        + "; allowed unchanged. Check the rules of the webhook configuration."
    )


def _aggregate(texts: Sequence[str]) -> str:
    unique = list(dict.fromkeys(texts))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def invalid_status(*, name: str, errors: Sequence[FieldErrorLike]) -> Status:
    """The ``Status`` apimachinery's ``errors.NewInvalid(ray.io/RayCluster, name, errors)`` produces."""
    causes = [StatusCause(reason=str(e.type), message=e.message, field=e.path) for e in errors]
    message = f'{KIND}.{GROUP} "{name}" is invalid'
    if causes:
        message += ": " + _aggregate([f"{c.field}: {c.message}" for c in causes])
    return Status(
        status="Failure",
        code=422,
        reason="Invalid",
        message=message,
        details=StatusDetails(name=name, group=GROUP, kind=KIND, causes=causes),
    )


def _internal_error(uid: str, what: str, exc: BaseException) -> AdmissionResponse:
    return AdmissionResponse(
        uid=uid,
        allowed=False,
        status=Status(
            code=500,
            reason="InternalError",
            message=f"internal error while {what}: {type(exc).__name__}: {exc}. This is a ray-operator bug; "
            "please report it with the operator log.",
        ),
    )


def _bad_request(uid: str, message: str) -> AdmissionResponse:
    return AdmissionResponse(uid=uid, allowed=False, status=Status(code=400, reason="BadRequest", message=message))


class _RequestLog:
    """Log lines of one admission carrying ``admission_uid``, ``raycluster``, ``namespace``… as fields.

    The context is passed per call rather than bound up front: most admissions log nothing at the
    default level, and binding would cost a logger copy on every request of the hot path.
    """

    __slots__ = ("_context", "_logger")

    def __init__(self, request: AdmissionRequest, logger: Any) -> None:
        self._logger = logger
        self._context = {
            "admission_uid": request.uid,
            "operation": request.operation,
            "namespace": request.namespace,
            "raycluster": _object_name(request),
            "dry_run": request.dry_run,
        }

    def debug(self, event: str, **kw: Any) -> None:
        self._logger.debug(event, **self._context, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._logger.info(event, **self._context, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._logger.warning(event, **self._context, **kw)

    def exception(self, event: str, **kw: Any) -> None:
        self._logger.exception(event, **self._context, **kw)


def _allow_unhandled(request: AdmissionRequest, log: _RequestLog) -> AdmissionResponse | None:
    """The answer to a request that is not for a RayCluster (allowed, with a warning), else None."""
    warning = unhandled_resource_warning(request)
    if warning is None:
        return None
    log.warning("admission_resource_unhandled", kind=request.kind.kind, resource=request.resource.resource)
    return AdmissionResponse(uid=request.uid, allowed=True, warnings=[warning])


def validate_request(request: AdmissionRequest, *, rules: Rules, logger: Any = None) -> AdmissionResponse:
    """CREATE validates the new object, UPDATE the new against the old; DELETE and CONNECT are allowed."""
    log = _RequestLog(request, logger or structlog.get_logger("webhook.validate"))
    uid = request.uid
    unhandled = _allow_unhandled(request, log)
    if unhandled is not None:
        return unhandled
    if request.operation not in ("CREATE", "UPDATE"):
        return AdmissionResponse(uid=uid, allowed=True)
    if request.object is None:
        return _bad_request(uid, f"request.object is required for {request.operation}")
    old: Mapping[str, Any] | None = None
    if request.operation == "UPDATE":
        if request.old_object is None:
            return _bad_request(uid, "request.oldObject is required for UPDATE")
        old = request.old_object
    try:
        result = rules.validate(request.object, old)
        errors = list(result.errors)
        warnings = [str(w) for w in result.warnings]
        denial = invalid_status(name=_object_name(request), errors=errors) if errors else None
    except Exception as exc:
        log.exception("admission_validation_failed")
        return _internal_error(uid, "validating the RayCluster", exc)
    if denial is not None:
        log.info(
            "admission_denied",
            causes=[f"{c.field}: {c.message}" for c in denial.details.causes] if denial.details else [],
        )
        return AdmissionResponse(uid=uid, allowed=False, status=denial, warnings=warnings or None)
    log.debug("admission_allowed", warnings=len(warnings))
    return AdmissionResponse(uid=uid, allowed=True, warnings=warnings or None)


def mutate_request(request: AdmissionRequest, *, rules: Rules, logger: Any = None) -> AdmissionResponse:
    """Apply the defaults on CREATE and UPDATE; answer only the JSON patch operations they need.

    An object the defaulting cannot handle is let through unchanged: the validating webhook names
    the broken field, which is a better message than any the mutating webhook could give.
    """
    log = _RequestLog(request, logger or structlog.get_logger("webhook.mutate"))
    uid = request.uid
    unhandled = _allow_unhandled(request, log)
    if unhandled is not None:
        return unhandled
    if request.operation not in ("CREATE", "UPDATE") or request.object is None:
        return AdmissionResponse(uid=uid, allowed=True)
    try:
        defaulted = rules.apply_defaults(request.object)
        if not isinstance(defaulted, dict):
            raise TypeError(f"defaulting returned {type(defaulted).__name__}, not an object")
        ops = diff(request.object, defaulted)
    except Exception as exc:
        log.warning("admission_defaulting_skipped", error=f"{type(exc).__name__}: {exc}")
        return AdmissionResponse(uid=uid, allowed=True)
    if not ops:
        log.debug("admission_defaulting_unneeded")
        return AdmissionResponse(uid=uid, allowed=True)
    log.debug("admission_defaulted", operations=len(ops))
    return AdmissionResponse(uid=uid, allowed=True, patch=encode_patch(ops), patch_type="JSONPatch")
