"""What one client connection may cost an aiohttp server of this process, enforced at accept.

With ``failurePolicy: Fail`` an OOM-killed webhook refuses every RayCluster write in the cluster, so
anything that can reach the port must not be able to grow the process. asyncio's TLS layer
allocates a 256 KiB read buffer per connection before the handshake even starts (about 300 KiB per
idle TCP connection measured, so 1,500 idle sockets passed the 512 Mi Deployment limit) and
aiohttp's defaults keep an idle connection for an hour. Every server the process starts (webhook,
probes, metrics) goes through ``ConnectionGate``, which:

* refuses a connection above ``max_connections`` at once (an abort, so the client sees a reset
  instead of a hang, and nothing is allocated for it), leaving established clients alone;
* creates no TLS state for a connection until its first byte arrives, then terminates TLS with
  asyncio's protocol reading through one buffer shared by all connections of the server (asyncio
  gives each its own 256 KiB) and with a handshake deadline counted from accept, so a socket that
  never finishes the handshake is closed after ``handshake_timeout`` instead of asyncio's 60 s;
* gives aiohttp a keep-alive idle timeout and closes a connection whose request head is still
  incomplete ``read_timeout`` after its first byte (slow headers); the webhook handler applies the
  same deadline to reading the body (``webhook.app``);
* offers each read to the server's ``FastAnswer``, if it has one (the webhook's, see
  ``webhook.fastpath``), before aiohttp sees it: whole requests it answers never reach aiohttp, and
  the first read it declines hands the connection to aiohttp for good, starting at that read.

The per-connection figures are measured by ``benchmarks/webhook_connections.py`` and written in
``docs/performance.md``; ``tests/webhook/test_abuse.py`` keeps them under a budget.

Decided against: a global ``SSLProtocol.max_size`` patch (it would change every TLS client in the
process too), and letting excess connections queue in the listen backlog (they still cost a slot
each once accepted, and the client only learns of the refusal by timing out).
"""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from webhook.errors import error_response

CLIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, RequestPayloadError, HttpProcessingError)
"""Errors a client causes; logged at debug (an attacker must not be able to flood the log)."""

DEFAULT_TLS_READ_BUFFER_BYTES = 256 * 1024
"""asyncio's own read size, but one buffer per server instead of one per connection."""


class FastAnswer(Protocol):
    """Answers the request at the start of ``data`` without aiohttp: the response bytes and how many
    bytes of ``data`` the request took, or ``None`` to leave the connection to aiohttp."""

    def __call__(self, data: bytes) -> tuple[bytes, int] | None: ...


FAST_ANSWER_KEY: web.AppKey[FastAnswer] = web.AppKey("fast_answer", FastAnswer)
"""Where an application keeps its ``FastAnswer`` (``webhook.app.build_app`` does); the server passes
it to the gate."""


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds one server applies to each client connection (see the module docstring)."""

    max_connections: int = 1000
    handshake_timeout: float = 10.0
    read_timeout: float = 10.0
    keepalive_timeout: float = 60.0
    tls_read_buffer_bytes: int = DEFAULT_TLS_READ_BUFFER_BYTES

    def handler_kwargs(self) -> dict[str, Any]:
        """aiohttp ``RequestHandler`` options: the idle timeout, and at most ``read_timeout`` spent
        draining a body the handler did not read before the connection is closed."""
        return {"keepalive_timeout": self.keepalive_timeout, "lingering_time": self.read_timeout}


class _BoundedSSLProtocol(sslproto.SSLProtocol):
    """asyncio's server-side TLS protocol reading through a buffer shared by the whole server, that
    frees its slot when closed.

    Sharing is safe: the transport calls ``get_buffer``, fills it and calls ``buffer_updated``
    synchronously, and ``buffer_updated`` copies the bytes into the connection's own TLS input
    before returning, so no two connections ever use the buffer at the same time.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        app_protocol: asyncio.BaseProtocol,
        context: ssl.SSLContext,
        *,
        shared_buffer: bytearray,
        handshake_timeout: float,
        release: Callable[[], None],
    ) -> None:
        # asyncio allocates a read buffer of ``max_size`` in __init__ (typeshed calls it a ClassVar,
        # but it is read through the instance): one byte there, then the shared buffer's size.
        self.max_size = 1  # type: ignore[misc]
        # No waiter (the stubs want a Future): errors close the transport, nothing awaits the handshake.
        waiter: Any = None
        timeout: Any = handshake_timeout  # the stubs say int; asyncio takes any positive number
        super().__init__(loop, app_protocol, context, waiter, server_side=True, ssl_handshake_timeout=timeout)
        self.max_size = len(shared_buffer)  # type: ignore[misc]
        self._ssl_buffer = shared_buffer
        self._ssl_buffer_view = memoryview(shared_buffer)
        self._release = release

    def connection_lost(self, exc: BaseException | None) -> None:
        self._release()
        super().connection_lost(exc)


class _BoundedRequestHandler(RequestHandler):
    """aiohttp's connection handler with a deadline for each request head, counted to its first byte."""

    __slots__ = ("_fast", "_head_deadline", "_head_timeout", "_release")

    def __init__(
        self,
        manager: web.Server,
        *,
        head_timeout: float,
        release: Callable[[], None] | None,
        fast: FastAnswer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._head_timeout = head_timeout
        self._head_deadline: asyncio.TimerHandle | None = None
        self._release = release
        self._fast = fast

    def _waiting_for_head(self) -> bool:
        # aiohttp waits on ``_waiter`` exactly while no complete request head is queued (its own
        # keep-alive check uses the same test).
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def data_received(self, data: bytes) -> None:
        if self._fast is not None:
            data = self._answer_fast(data)
            if not data:
                return
        super().data_received(data)
        if not self._waiting_for_head():
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None
        elif self._head_deadline is None and data:
            self._head_deadline = self._loop.call_later(self._head_timeout, self._head_timed_out)

    def _answer_fast(self, data: bytes) -> bytes:
        """Answer the whole requests at the start of ``data``; the bytes left for aiohttp (if any, the
        connection is aiohttp's from now on: its parser has seen nothing, so it starts at a request)."""
        fast = self._fast
        transport = self.transport
        answered = False
        while fast is not None and data and transport is not None:
            if self._force_close or self._close or self.writing_paused:  # aiohttp's close and back-pressure
                break
            try:
                result = fast(data)
            except Exception:  # a bug in the fast path: aiohttp answers this request instead
                structlog.get_logger("http").exception("http_fast_path_failed")
                result = None
            if result is None:
                break
            response, consumed = result
            transport.write(response)
            data = data[consumed:]
            answered = True
        if answered:  # the idle timeout counts from the last answer, as after an aiohttp response
            self._next_keepalive_close_time = self._loop.time() + self._keepalive_timeout
        if data:
            self._fast = None
        return data

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self._waiting_for_head():
            structlog.get_logger("http").debug("http_request_head_timeout", seconds=self._head_timeout)
            self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer to a request it could not parse (or a handler that raised): a JSON
        ``Status`` and one log line, where aiohttp writes a text page and a traceback."""
        if request.writer.output_size > 0:  # a response is already under way: only closing is left
            raise ConnectionError("the response was already started")
        log = structlog.get_logger("http")
        if status >= 500:
            log.error("http_handler_failed", path=request.path, status=status, exc_info=exc)
            text = "internal error; see the operator log"
        else:
            text = (message or (str(exc) if exc is not None else "") or "bad request").strip()
            log.debug("http_request_malformed", status=status, reason=text)
        response = error_response(status, text)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """aiohttp's error log, as one structured line: debug for what a client caused (a body it
        broke off or mis-encoded), error with the traceback as a field for anything else."""
        exc = kwargs.get("exc_info")
        event = (str(args[0]) % args[1:]) if args else "error"
        log = structlog.get_logger("http")
        if isinstance(exc, CLIENT_ERRORS):
            log.debug("http_client_error", detail=event, error=f"{type(exc).__name__}: {str(exc).strip()}")
        else:
            log.error("http_server_error", detail=event, exc_info=exc if isinstance(exc, BaseException) else True)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        if self._release is not None:
            self._release()
            self._release = None
        super().connection_lost(exc)


class _Refused(asyncio.Protocol):
    """The protocol of a connection over the cap: reset at once, nothing else allocated."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


class _Slot:
    """One counted connection: its transport (for ``abort_all``) and a release that runs once."""

    __slots__ = ("_gate", "released", "transport")

    def __init__(self, gate: ConnectionGate) -> None:
        self._gate = gate
        self.transport: asyncio.Transport | None = None
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._gate._release(self)


class _AwaitingClientHello(asyncio.Protocol):
    """A TLS connection before its first byte: no TLS state yet (OpenSSL's per-connection buffers
    are most of an idle socket's cost), only a deadline. The first data builds the TLS protocol."""

    __slots__ = ("_accepted_at", "_deadline", "_gate", "_slot")

    def __init__(self, gate: ConnectionGate, slot: _Slot) -> None:
        self._gate = gate
        self._slot = slot
        self._deadline: asyncio.TimerHandle | None = None
        self._accepted_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._slot.transport = transport
        loop = self._gate.loop
        self._accepted_at = loop.time()
        self._deadline = loop.call_later(self._gate.limits.handshake_timeout, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        transport = self._slot.transport
        assert transport is not None
        spent = self._gate.loop.time() - self._accepted_at
        remaining = max(self._gate.limits.handshake_timeout - spent, 0.001)
        tls = self._gate.tls_protocol(self._slot, handshake_timeout=remaining)
        transport.set_protocol(tls)
        tls.connection_made(transport)
        view = memoryview(data)
        while view and not transport.is_closing():
            buffer = tls.get_buffer(len(view))
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            tls.buffer_updated(n)
            view = view[n:]

    def eof_received(self) -> bool:
        return False  # closes the transport

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._slot.release()


class ConnectionGate:
    """The protocol factory of one listening socket: counts live connections and bounds each one."""

    def __init__(
        self,
        server: web.Server,
        limits: ConnectionLimits,
        *,
        ssl_context: ssl.SSLContext | None,
        loop: asyncio.AbstractEventLoop,
        fast: FastAnswer | None = None,
    ) -> None:
        self._server = server
        self._fast = fast
        self.limits = limits
        self._ssl = ssl_context
        self.loop = loop
        self._handler_kwargs = {"loop": loop, "access_log": None, **limits.handler_kwargs()}
        self.refused = 0
        self._live: set[_Slot] = set()
        self._tls_buffer = bytearray(limits.tls_read_buffer_bytes)

    @property
    def active(self) -> int:
        """Connections held now (in any phase: before, during or after the TLS handshake)."""
        return len(self._live)

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self._live) >= self.limits.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                structlog.get_logger("http").warning(
                    "http_connection_refused",
                    reason="connection limit reached",
                    max_connections=self.limits.max_connections,
                    refused_total=self.refused,
                )
            return _Refused()
        slot = _Slot(self)
        self._live.add(slot)
        if self._ssl is not None:
            return _AwaitingClientHello(self, slot)
        return self._handler(release=slot.release)

    def _handler(self, *, release: Callable[[], None] | None) -> _BoundedRequestHandler:
        return _BoundedRequestHandler(
            self._server,
            head_timeout=self.limits.read_timeout,
            release=release,
            fast=self._fast,
            **self._handler_kwargs,
        )

    def tls_protocol(self, slot: _Slot, *, handshake_timeout: float) -> _BoundedSSLProtocol:
        assert self._ssl is not None
        return _BoundedSSLProtocol(
            self.loop,
            self._handler(release=None),
            self._ssl,
            shared_buffer=self._tls_buffer,
            handshake_timeout=handshake_timeout,
            release=slot.release,
        )

    def _release(self, slot: _Slot) -> None:
        self._live.discard(slot)

    def abort_all(self) -> None:
        """Reset every connection still open (after aiohttp's graceful shutdown, e.g. mid-handshake)."""
        for slot in list(self._live):
            if slot.transport is not None:
                slot.transport.abort()
