"""Content negotiation: what a response looks like for the ``Accept`` a client sent, and the ``Warning`` header.

Responses are JSON whatever the Accept asks (protobuf included, which clients accept), except that
Tables (``as=Table;g=meta.k8s.io``), PartialObjectMetadata and aggregated discovery
(``as=APIGroupDiscoveryList``) are honoured when asked for, as kubectl and metadata informers need
them. Every error is a ``Status`` body with the code, reason and headers of its ``ApiError``;
warnings are ``299 - "text"`` headers escaped the way Go's ``net/http`` writes them.
Decided against: protobuf responses (they would need the Kubernetes descriptors; clients fall back).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ray_operator.sandbox import errors

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"


def json_response(
    body: Any, *, status: int = 200, warnings: list[str] | None = None, content_type: str = "application/json"
) -> web.Response:
    response = web.Response(
        status=status, body=json.dumps(body, separators=(",", ":")).encode(), content_type="application/json"
    )
    if content_type != "application/json":
        response.headers["Content-Type"] = content_type
    for text in warnings or ():
        response.headers.add("Warning", warning_header(text))
    return response


def warning_header(text: str) -> str:
    """``299 - "text"`` with quotes and backslashes escaped and control characters written as ``\\uXXXX``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if 0x20 <= ord(c) != 0x7F else f"\\u{ord(c):04x}" for c in escaped)
    return f'299 - "{escaped}"'


def error_response(exc: errors.ApiError, *, warnings: list[str] | None = None) -> web.Response:
    response = json_response(exc.status(), status=exc.code, warnings=warnings)
    for key, value in exc.headers.items():
        response.headers[key] = value
    return response


def _accepts(request: web.Request, marker: str) -> bool:
    return any(marker in part for part in request.headers.get("Accept", "").split(","))


def wants_table(request: web.Request) -> bool:
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in request.headers.get("Accept", "").split(","))


def aggregated_version(request: web.Request) -> str | None:
    for part in request.headers.get("Accept", "").split(","):
        if "as=APIGroupDiscoveryList" in part and "g=apidiscovery.k8s.io" in part:
            if "v=v2beta1" in part:
                return "v2beta1"
            if "v=v2" in part:
                return "v2"
    return None


def wants_partial(request: web.Request) -> bool:
    """``as=PartialObjectMetadata[List]`` (metadata-only informers); Table takes precedence when both are listed."""
    accept = request.headers.get("Accept", "")
    return "as=PartialObjectMetadata" in accept and "g=meta.k8s.io" in accept


def partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}
