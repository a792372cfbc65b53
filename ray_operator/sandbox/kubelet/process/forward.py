"""TCP forwarders between the host's loopback and pod namespaces, without any route between them.

Two directions, both made of sockets that were created inside the right namespace (``netns.socket_in``):

* into a pod: the API server is reachable inside every pod at ``127.0.0.1:443`` - a listener created in
  the pod's namespace whose connections are piped to the emulator on the host's loopback, so the
  emulator's certificate for ``IP:127.0.0.1`` verifies unchanged (the Ray autoscaler checks it);
* out of a pod: a listener on the host's ``127.0.0.1:<free port>`` whose connections are opened from the
  hub namespace to ``<pod IP>:<port>`` - how ``ray job submit`` reaches a head's dashboard.

Decided against: ``socat``/``iptables`` DNAT (another tool to require, and a route into pod space).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import structlog

from ray_operator.sandbox.kubelet.process import netns

log = structlog.get_logger(__name__)

Connector = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


async def _splice(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, connect: Connector) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.wait_for(connect(), 10)
    except (OSError, TimeoutError):
        client_writer.close()
        return
    try:
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
    finally:
        for writer in (client_writer, upstream_writer):
            writer.close()


def connect_host(port: int) -> Connector:
    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    return connect


def connect_from(namespace: str, ip: str, port: int) -> Connector:
    """Connections to ``ip:port`` opened from inside ``namespace``."""

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, netns.socket_in, namespace)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (ip, port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    return connect


class Forwarder:
    """One listening socket piping each accepted connection to ``connect()``."""

    def __init__(self, listener: socket.socket, connect: Connector) -> None:
        self._listener = listener
        self._connect = connect
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = int(listener.getsockname()[1])

    async def start(self) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._connections.add(task)
            try:
                await _splice(reader, writer, self._connect)
            finally:
                self._connections.discard(task)

        self._server = await asyncio.start_server(handle, sock=self._listener)

    async def close(self) -> None:
        """Stop listening and cut the open connections (their pod is going away)."""
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
            self._server = None


async def host_listener(connect: Connector) -> Forwarder:
    """A forwarder on the host's ``127.0.0.1:<free port>``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    forwarder = Forwarder(sock, connect)
    await forwarder.start()
    return forwarder


async def pod_listener(namespace: str, port: int, connect: Connector) -> Forwarder:
    """A forwarder on ``127.0.0.1:port`` inside the pod namespace ``namespace``."""
    loop = asyncio.get_running_loop()
    sock = await loop.run_in_executor(None, netns.listener_in, namespace, "127.0.0.1", port)
    forwarder = Forwarder(sock, connect)
    await forwarder.start()
    return forwarder
