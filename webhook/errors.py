"""The body of every HTTP error the process's servers send: a JSON ``Status``, never a text page.

The API server shows a failed webhook call's body in its error message, and log pipelines and
scripts probing the port parse JSON; aiohttp's own error pages are text (and for a 500 say only
"Server got itself in trouble"). The shape is Kubernetes' ``meta/v1 Status`` so a reader already
knows its fields.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "Timeout",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    431: "RequestHeaderFieldsTooLarge",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def status_body(code: int, message: str) -> bytes:
    """A compact ``Status`` JSON document for an HTTP error ``code``."""
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, "Unknown"),
        "code": code,
    }
    return json.dumps(status, separators=(",", ":")).encode()


def error_response(code: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=code, body=status_body(code, message), content_type="application/json", headers=headers)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp's own refusals (404 for an unknown path, 405 for a method a route lacks) as a ``Status``."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, f"{exc.reason}: {request.method} {request.path}", headers=headers)
