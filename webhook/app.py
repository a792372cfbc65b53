"""The aiohttp application behind the two admission webhook paths, and its HTTP-level guards.

Everything the API server (or anything else that reaches the port) can send is answered with a
deliberate status and a JSON ``Status`` body (``webhook.errors``): 405 for a method other than POST,
415 for a body that is not ``application/json``, 413 above the size limit (checked from
Content-Length before reading, and again while reading a chunked or compressed body), 408 for a
body that does not arrive within the read timeout, 400 with a message for a body that cannot be
decoded (e.g. ``Content-Encoding: gzip`` that is not gzip), malformed JSON or a review without
``request``. A failure inside a rule function becomes a denial with code 500 *inside* a well-formed
review, so the API server reports it as the webhook's answer instead of a broken call. The HTTP
status 500 is never sent by our code. A client that disconnects mid-request is one debug log line.

Metrics are reported through a small observer protocol so that this package stays independent of
the operator's metrics registry (``ray_operator.metrics`` implements it).

Decided against: ``web.json_response`` with ``json.dumps`` of model dumps (pydantic serialises in one
pass) and aiohttp's default error pages (text without a reason the user can act on).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from pydantic import ValidationError

from ray_operator.api import constants
from webhook.connections import FAST_ANSWER_KEY
from webhook.errors import error_response, status_body
from webhook.fastpath import json_response, parse_simple_post
from webhook.handlers import mutate_request, validate_request
from webhook.review import (
    ADMISSION_GROUP_VERSIONS,
    AdmissionRequest,
    AdmissionResponse,
    AdmissionReviewRequest,
    AdmissionReviewResponse,
    Status,
)
from webhook.rules import Rules

VALIDATE_PATH = constants.VALIDATING_WEBHOOK_PATH
MUTATE_PATH = constants.MUTATING_WEBHOOK_PATH


class RequestObserver(Protocol):
    """Receives one ``started`` and one ``finished`` call per request on a webhook path.

    ``code`` is the HTTP status sent, or ``None`` when the request was abandoned (client gone).
    """

    def started(self, webhook: str) -> None: ...

    def finished(self, webhook: str, code: int | None, seconds: float) -> None: ...


class _NoObserver:
    def started(self, webhook: str) -> None:
        return None

    def finished(self, webhook: str, code: int | None, seconds: float) -> None:
        return None


DEFAULT_READ_TIMEOUT = 10.0


class _ClientGone(Exception):
    """The client closed the connection before its request body arrived."""


def describe_validation_error(exc: ValidationError, *, limit: int = 5) -> str:
    """A short, input-free description: ``malformed JSON: …`` or ``malformed AdmissionReview: loc: msg; …``."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if errors and errors[0]["type"] == "json_invalid":
        return f"malformed JSON: {errors[0]['msg']}"
    parts = []
    for err in errors[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "malformed AdmissionReview: " + "; ".join(parts) + more


def parse_review(body: bytes) -> AdmissionReviewRequest | str:
    """The parsed review, or the 400 message explaining why it cannot be used."""
    try:
        review = AdmissionReviewRequest.model_validate_json(body)
    except ValidationError as exc:
        return describe_validation_error(exc)
    if review.api_version not in ADMISSION_GROUP_VERSIONS or review.kind != "AdmissionReview":
        return (
            f"expected an AdmissionReview of {' or '.join(ADMISSION_GROUP_VERSIONS)}, "
            f"got apiVersion {review.api_version!r} kind {review.kind!r}"
        )
    if review.request is None:
        return "the AdmissionReview has no request"
    return review


def build_app(
    *,
    rules: Rules,
    max_body_bytes: int,
    logger: Any = None,
    observer: RequestObserver | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> web.Application:
    """The webhook application: POST ``VALIDATE_PATH`` and ``MUTATE_PATH``, everything else refused.

    The application also carries (under ``FAST_ANSWER_KEY``) the same two endpoints for the
    connection handler's fast path (``webhook.fastpath``); both paths answer through ``admit``.
    """
    # ``bind()`` resolves a lazy structlog proxy once, instead of on every admission.
    log = (logger if logger is not None else structlog.get_logger("webhook")).bind()
    obs: RequestObserver = observer if observer is not None else _NoObserver()
    app = web.Application(client_max_size=max_body_bytes)
    handlers: dict[str, Callable[[AdmissionRequest], AdmissionResponse]] = {
        VALIDATE_PATH: lambda r: validate_request(r, rules=rules, logger=log),
        MUTATE_PATH: lambda r: mutate_request(r, rules=rules, logger=log),
    }

    def endpoint(
        path: str, handler: Callable[[AdmissionRequest], AdmissionResponse]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            obs.started(path)
            began = time.perf_counter()
            code: int | None = None  # stays None if the client went away mid-request
            try:
                response = await _serve(
                    request, handler, max_body_bytes=max_body_bytes, read_timeout=read_timeout, logger=log
                )
                code = response.status
                return response
            except _ClientGone as gone:
                log.debug("admission_client_disconnected", path=path, error=str(gone))
                response = error_response(400, "the client disconnected")
                response.force_close()
                return response  # aiohttp drops it quietly: the transport is gone
            finally:
                obs.finished(path, code, time.perf_counter() - began)

        return serve

    for path, handler in handlers.items():
        app.router.add_route("*", path, endpoint(path, handler))

    paths = frozenset(handlers)

    def fast_answer(data: bytes) -> tuple[bytes, int] | None:
        request = parse_simple_post(data, paths=paths, max_body_bytes=max_body_bytes)
        if request is None:
            return None
        obs.started(request.path)
        began = time.perf_counter()
        code: int | None = None  # stays None only if admit itself failed: aiohttp then answers
        try:
            code, body = admit(request.body, handlers[request.path], path=request.path, logger=log)
            return json_response(code, body), request.consumed
        finally:
            obs.finished(request.path, code, time.perf_counter() - began)

    app[FAST_ANSWER_KEY] = fast_answer
    return app


def admit(
    body: bytes, handler: Callable[[AdmissionRequest], AdmissionResponse], *, path: str, logger: Any
) -> tuple[int, bytes]:
    """The HTTP status and JSON body answering one request body: the review's answer (200), or a 400
    ``Status`` when the body is not a usable AdmissionReview. Never raises for a bug in ``handler``."""
    parsed = parse_review(body)
    if isinstance(parsed, str):
        logger.info("admission_request_malformed", path=path, reason=parsed)
        return 400, status_body(400, parsed)
    assert parsed.request is not None  # parse_review guarantees it
    uid = parsed.request.uid
    try:
        return 200, AdmissionReviewResponse(apiVersion=parsed.api_version, response=handler(parsed.request)).to_json()
    except Exception as exc:  # a bug in our handlers: still answer the review, never an HTTP 500
        logger.exception("admission_handler_failed", admission_uid=uid)
        failure = AdmissionResponse(
            uid=uid,
            allowed=False,
            status=Status(
                code=500,
                reason="InternalError",
                message=f"internal error in the ray-operator webhook ({type(exc).__name__}); see the operator log",
            ),
        )
        return 200, AdmissionReviewResponse(apiVersion=parsed.api_version, response=failure).to_json()


async def _serve(
    request: web.Request,
    handler: Callable[[AdmissionRequest], AdmissionResponse],
    *,
    max_body_bytes: int,
    read_timeout: float,
    logger: Any,
) -> web.StreamResponse:
    if request.method != "POST":
        return error_response(405, f"method {request.method} is not allowed; send POST", headers={"Allow": "POST"})
    if request.content_type != "application/json":
        return error_response(415, f"content type {request.content_type!r} is not supported; send application/json")
    length = request.content_length
    if length is not None and length > max_body_bytes:
        return _unread(413, f"request body of {length} bytes is larger than the limit of {max_body_bytes} bytes")
    try:
        async with asyncio.timeout(read_timeout):
            body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _unread(413, f"request body is larger than the limit of {max_body_bytes} bytes")
    except TimeoutError:
        return _unread(408, f"the request body did not arrive within {read_timeout:g} s")
    except RequestPayloadError as exc:  # e.g. Content-Encoding: gzip with a body that is not gzip
        cause = getattr(exc.__cause__, "message", None) or str(exc).strip()
        return _unread(400, f"could not decode the request body: {cause}")
    except ConnectionError as exc:
        raise _ClientGone(f"{type(exc).__name__}: {exc}") from None
    except (aiohttp.ClientError, ValueError) as exc:  # a truncated or mis-encoded body
        return _unread(400, f"could not read the request body: {type(exc).__name__}: {exc}")
    code, answer = admit(body, handler, path=request.path, logger=logger)
    return web.Response(status=code, body=answer, content_type="application/json")


def _unread(code: int, message: str) -> web.Response:
    """An error answered before the body was read in full: the connection closes after it, so the
    rest of the body is not drained or parsed as the next request."""
    response = error_response(code, message)
    response.force_close()
    return response
