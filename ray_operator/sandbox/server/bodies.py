"""Reading requests: the body (JSON, YAML, or the protobuf kubectl's generators send), DeleteOptions, write options.

kube-apiserver decodes what its clients send, so the sandbox must too: ``kubectl create namespace``
posts protobuf, ``kubectl apply --server-side`` YAML, ``kubectl delete`` a DeleteOptions body or only
query parameters. ``write_context`` turns ``dryRun``, ``fieldValidation``, ``fieldManager`` and
``force`` into the ``WriteContext`` the engine uses, with the refusals (400) and defaults (a field
manager from the User-Agent) of the real server, and keeps the options admission reviews carry.
A body over 3 MiB is a 413 (chunked too), and decoding keeps upstream's depth and alias limits (``limits``).
Decided against: CBOR bodies (answered 415 naming the JSON types; no client of ours sends them).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from ray_operator.sandbox import errors, limits
from ray_operator.sandbox.engine import WriteContext
from ray_operator.sandbox.engine.context import parse_bool
from ray_operator.sandbox.server import protobuf

MAX_BODY = limits.MAX_BODY_BYTES
USER_KEY = web.RequestKey("user", dict)
WRITE_CONTEXT_KEY = web.RequestKey("write_context", WriteContext)
"""The write's context, so an error response still carries the warnings collected before the error."""


def write_context(request: web.Request, *, body_options: dict[str, Any] | None = None) -> WriteContext:
    query = request.query
    dry_run_values = list(query.getall("dryRun", []))
    if body_options and isinstance(body_options.get("dryRun"), list):
        dry_run_values += body_options["dryRun"]
    for value in dry_run_values:
        if value != "All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    validation = query.get("fieldValidation", "Warn") or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(
            f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore", "Strict", "Warn"'
        )
    manager = query.get("fieldManager", "")
    options: dict[str, Any] = {}
    if not manager:
        manager = request.headers.get("User-Agent", "unknown").split("/")[0] or "unknown"
        options["_manager_defaulted"] = True
    elif len(manager) > 128:
        raise errors.bad_request("fieldManager: Too long: must have at most 128 bytes")
    ctx = WriteContext(
        dry_run=bool(dry_run_values),
        field_manager=manager,
        field_validation=validation,
        user=dict(request.get(USER_KEY) or {}),
        force=parse_bool(query.get("force")),
    )
    # What admission reviews carry as CreateOptions/UpdateOptions/DeleteOptions (as sent by the client).
    if query.get("fieldManager"):
        options["fieldManager"] = manager
    if dry_run_values:
        options["dryRun"] = ["All"]
    if query.get("fieldValidation"):
        options["fieldValidation"] = validation
    if query.get("force"):
        options["force"] = ctx.force
    if body_options:
        options.update({k: v for k, v in body_options.items() if k not in ("kind", "apiVersion")})
    ctx.options = options
    request[WRITE_CONTEXT_KEY] = ctx
    return ctx


async def read_body(request: web.Request) -> bytes:
    """The body, refused with upstream's 413 past 3 MiB whether or not it announced its length."""
    if request.content_length and request.content_length > MAX_BODY:
        raise limits.body_too_large()
    body = bytearray()
    try:
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_BODY:
                raise limits.body_too_large()
    except RequestPayloadError as exc:  # e.g. Content-Encoding: gzip with a body that is not gzip
        cause = getattr(exc.__cause__, "message", None) or str(exc).strip()
        error = errors.bad_request(f"the request body could not be read: {cause}")
        error.headers.update(limits.CLOSE)
        raise error from None
    return bytes(body)


async def read_object(request: web.Request) -> Any:
    """The request's object: JSON or YAML, or protobuf for the kinds kubectl's generators send."""
    raw = await read_body(request)
    media = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media == "application/vnd.kubernetes.protobuf":
        return protobuf.decode(raw)
    if media == "application/cbor":
        raise errors.unsupported_media_type("application/json, application/yaml")
    return decode(raw)


def decode(raw: bytes) -> Any:
    """JSON, else YAML (as upstream's decoder), within the depth and alias limits of ``limits``."""
    if not raw.strip():
        raise errors.bad_request("the body of the request was empty")
    try:
        return limits.loads_json(raw)
    except limits.DepthError as exc:
        raise errors.bad_request(f"couldn't decode the request body as JSON: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        try:
            return limits.load_yaml(raw.decode())
        except limits.AliasError as alias:
            raise errors.bad_request(str(alias)) from exc
        except Exception:
            raise errors.bad_request(f"couldn't decode the request body as JSON: {exc}") from exc


def delete_options(request: web.Request, raw: bytes) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if raw.strip():
        try:
            decoded = limits.loads_json(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"couldn't decode DeleteOptions: {exc}") from exc
        if not isinstance(decoded, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        options.update(decoded)
    query = request.query
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "gracePeriodSeconds" in query:
        try:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError as exc:
            raise errors.bad_request(f"gracePeriodSeconds: {exc}") from exc
    if "orphanDependents" in query:
        options["orphanDependents"] = parse_bool(query["orphanDependents"])
    if query.getall("dryRun", []):
        options["dryRun"] = list(query.getall("dryRun"))
    return options
