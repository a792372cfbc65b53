"""The admission request the API server sends, recognised and answered without aiohttp's request machinery.

kube-apiserver calls a webhook with one request shape: ``POST <path>?timeout=…`` over HTTP/1.1
keep-alive, ``Content-Type: application/json``, a ``Content-Length`` body, no transfer or content
coding. For that shape aiohttp's per-request work (a task, a request and a response object, the
router, the middleware chain, a streamed writer) costs about as much CPU as the TLS layer, so at
saturation it sets the webhook's latency. ``parse_simple_post`` recognises exactly that shape when a
whole request has arrived in one read and returns its path and body; the connection handler
(``webhook.connections``) then answers it synchronously with one write, in the same bytes the
aiohttp path produces (``webhook.app`` shares one ``admit`` function between the two).

Anything else — another method or path, chunked or compressed bodies, ``Expect``, ``Connection``
headers, HTTP/1.0, a request split across reads, a malformed or oversized head, duplicate
``Content-Length`` — is not parsed here at all: the bytes go to aiohttp unchanged and that
connection stays with aiohttp from then on, so every refusal, limit and timeout keeps its one
implementation. The parser is deliberately stricter than aiohttp (only token header names, only
visible ASCII in values, one ``Content-Length`` of digits): it may decline a request aiohttp would
accept, never accept one aiohttp would refuse.

Decided against: our own HTTP server for every request (every edge case would need a second
implementation) and aiohttp's low-level ``web.Server`` (it keeps the task and the objects).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import formatdate

MAX_HEAD_BYTES = 8190
"""aiohttp's default line limit; a longer head is left to aiohttp, which applies its own limits."""

_REQUEST_LINE = re.compile(rb"POST (/[!-~]*) HTTP/1\.1")
# One header per line: a token name, a colon, visible ASCII or tabs. No obs-fold, no obs-text.
_HEADER_BLOCK = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t -~]*\r\n)*")
# Headers whose presence means a shape this path does not handle.
_DECLINED = frozenset({b"transfer-encoding", b"expect", b"connection", b"upgrade", b"te", b"trailer"})


@dataclass(frozen=True, slots=True)
class SimplePost:
    """One complete request: the path without its query, the body, and how many bytes it took."""

    path: str
    body: bytes
    consumed: int


def parse_simple_post(data: bytes, *, paths: frozenset[str], max_body_bytes: int) -> SimplePost | None:
    """The request at the start of ``data`` if it is a whole simple JSON POST to one of ``paths``, else None."""
    end = data.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 4)
    if end < 0:
        return None
    line_end = data.find(b"\r\n", 0, end + 2)
    request_line = _REQUEST_LINE.fullmatch(data, 0, line_end)
    if request_line is None:
        return None
    path = request_line.group(1).partition(b"?")[0].decode("ascii")
    if path not in paths:
        return None
    block_start, block_end = line_end + 2, end + 2
    if _HEADER_BLOCK.fullmatch(data, block_start, block_end) is None:
        return None
    length: int | None = None
    json_body = False
    for header in data[block_start:end].split(b"\r\n"):
        name, _, value = header.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        if name == b"content-length":
            if length is not None or not value.isdigit() or len(value) > 12:
                return None
            length = int(value)
        elif name == b"content-type":
            json_body = value.partition(b";")[0].strip(b" \t").lower() == b"application/json"
        elif name == b"content-encoding":
            if value.lower() != b"identity":
                return None
        elif name in _DECLINED:
            return None
    if length is None or not json_body or length > max_body_bytes:
        return None
    body_start = end + 4
    if len(data) - body_start < length:
        return None
    return SimplePost(path=path, body=data[body_start : body_start + length], consumed=body_start + length)


_REASONS = {200: b"OK", 400: b"Bad Request"}
_date_second = -1
_date_header = b""


def _date() -> bytes:
    """The ``Date`` header value, formatted once per second (as aiohttp does)."""
    global _date_second, _date_header
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_header = formatdate(now, usegmt=True).encode("ascii")
    return _date_header


def json_response(status: int, body: bytes) -> bytes:
    """A complete HTTP/1.1 keep-alive response carrying a JSON ``body``."""
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown")),
            b"Content-Type: application/json\r\nContent-Length: %d\r\nDate: %s\r\n\r\n" % (len(body), _date()),
            body,
        )
    )
