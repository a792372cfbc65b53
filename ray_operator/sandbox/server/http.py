"""The emulator's HTTP layer: kube-apiserver's header limit, and a ``Status`` for requests aiohttp cannot parse.

kube-apiserver (Go's ``net/http`` with ``MaxHeaderBytes`` of 1 MiB) takes request lines and headers
up to 1 MiB, so a long ``labelSelector`` or ``fieldSelector`` works there; aiohttp's default limit is
8 KiB and its refusals are text pages. Here both limits are 1 MiB, and whatever the parser refuses
(a longer URL, a broken chunked body, a bad Content-Length) is answered with a JSON ``Status`` that
clients can decode, through a request handler whose ``handle_error`` writes one, logged as one
debug line instead of a traceback.

Decided against: Go's plain-text 431 beyond the limit (clients of the emulator decode Status bodies;
the status code is the same).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ray_operator.sandbox import errors
from ray_operator.sandbox.server.responses import error_response

MAX_HEADER_BYTES = 1024 * 1024
"""Go's ``http.DefaultMaxHeaderBytes``, which kube-apiserver keeps."""

PARSER_LIMITS: dict[str, Any] = {"max_line_size": MAX_HEADER_BYTES, "max_field_size": MAX_HEADER_BYTES}


class _StatusErrorHandler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the response was already started")
        log = structlog.get_logger("sandbox")
        if status >= 500:
            log.error("sandbox_handler_failed", path=request.path, exc_info=exc)
            error = errors.internal("Internal error occurred: see the sandbox log")
        else:
            text = (message or (str(exc) if exc is not None else "") or "bad request").strip()
            log.debug("sandbox_request_malformed", status=status, reason=text[:200])
            reason = "RequestHeaderFieldsTooLarge" if "Got more than" in text else "BadRequest"
            error = errors.ApiError(code=431 if reason != "BadRequest" else 400, reason=reason, message=text[:1024])
        response = error_response(error)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """aiohttp's error log (e.g. draining a body that cannot be decoded) as one structured line."""
        exc = kwargs.get("exc_info")
        event = (str(args[0]) % args[1:]) if args else "error"
        error = f"{type(exc).__name__}: {str(exc).strip()[:200]}" if isinstance(exc, BaseException) else ""
        structlog.get_logger("sandbox").debug("sandbox_connection_error", detail=event, error=error)


class StatusSite(web.SockSite):
    """aiohttp's socket site, with connections handled by ``_StatusErrorHandler``."""

    __slots__ = ()

    def __init__(self, runner: web.AppRunner, sock: socket.socket, *, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(runner, sock, ssl_context=ssl_context)

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        options: dict[str, Any] = {"loop": loop, "access_log": None, **PARSER_LIMITS}

        def handler() -> _StatusErrorHandler:
            return _StatusErrorHandler(server, **options)

        self._server = await loop.create_server(handler, sock=self._sock, ssl=self._ssl_context, backlog=self._backlog)
