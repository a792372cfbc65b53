"""Kubernetes ``Status`` error bodies, with the real API server's codes, reasons and message texts.

Every failure the emulator returns goes through ``ApiError`` so that kubectl prints
``Error from server (<Reason>): <message>`` and kubernetes_asyncio raises ``ApiException(status=code)``
exactly as against kube-apiserver. Message formats follow apimachinery's ``errors.New*`` helpers.
Decided against: aiohttp's HTTP exceptions as errors (their bodies are not ``Status`` objects, and
kubectl would print them as unknown errors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Cause:
    """One ``details.causes[]`` entry; ``reason`` is a FieldValue* type such as ``FieldValueInvalid``."""

    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


class ApiError(Exception):
    """An error answered as a ``meta/v1 Status`` with an HTTP code."""

    def __init__(
        self,
        *,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def qualified_resource(resource: str, group: str) -> str:
    """``rayclusters.ray.io`` for a grouped resource, ``pods`` for the core group."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        code=404,
        reason="NotFound",
        message=f'{qualified_resource(resource, group)} "{name}" not found',
        details=_details(name, group, resource),
    )


def no_such_route() -> ApiError:
    return ApiError(code=404, reason="NotFound", message="the server could not find the requested resource")


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        code=409,
        reason="AlreadyExists",
        message=f'{qualified_resource(resource, group)} "{name}" already exists',
        details=_details(name, group, resource),
    )


def conflict(resource: str, group: str, name: str, detail: str) -> ApiError:
    """409 Conflict, e.g. ``Operation cannot be fulfilled on rayclusters.ray.io "x": <detail>``."""
    return ApiError(
        code=409,
        reason="Conflict",
        message=f'Operation cannot be fulfilled on {qualified_resource(resource, group)} "{name}": {detail}',
        details=_details(name, group, resource),
    )


STALE_OBJECT_DETAIL = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(kind: str, group: str, name: str, causes: Iterable[Cause]) -> ApiError:
    """422 Invalid: ``Kind.group "name" is invalid: <field>: <detail>`` or ``[e1, e2]`` for several."""
    cause_list = list(causes)
    texts = [f"{c.field}: {c.message}" if c.field else c.message for c in cause_list]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    details = _details(name, group, kind)
    details["causes"] = [c.to_dict() for c in cause_list]
    return ApiError(code=422, reason="Invalid", message=f'{qualified} "{name}" is invalid: {joined}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(code=400, reason="BadRequest", message=message)


def forbidden(message: str, details: Mapping[str, Any] | None = None) -> ApiError:
    return ApiError(code=403, reason="Forbidden", message=message, details=details)


def unauthorized() -> ApiError:
    return ApiError(code=401, reason="Unauthorized", message="Unauthorized")


def method_not_allowed() -> ApiError:
    return ApiError(
        code=405,
        reason="MethodNotAllowed",
        message="the server does not allow this method on the requested resource",
    )


CR_PATCH_MEDIA_TYPES = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
BUILTIN_PATCH_MEDIA_TYPES = (
    "application/json-patch+json, application/merge-patch+json, "
    "application/apply-patch+yaml, application/strategic-merge-patch+json"
)


def unsupported_media_type(accepted: str) -> ApiError:
    return ApiError(
        code=415,
        reason="UnsupportedMediaType",
        message=f"the body of the request was in an unknown format - accepted media types include: {accepted}",
    )


def gone(message: str) -> ApiError:
    """410 Expired, as sent for a watch or continue token older than the event history."""
    return ApiError(code=410, reason="Expired", message=message)


def internal(message: str) -> ApiError:
    return ApiError(code=500, reason="InternalError", message=message)


def timeout(message: str) -> ApiError:
    return ApiError(code=504, reason="Timeout", message=message)
