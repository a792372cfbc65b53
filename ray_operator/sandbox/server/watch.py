"""Watch responses: a chunked stream of one JSON event per line, as kube-apiserver sends them.

Headers go out at once (clients wait for them before reading), then events from the watcher's queue,
BOOKMARKs on the configured interval when asked for, and the stream ends cleanly at ``timeoutSeconds``.
A resourceVersion older than the retained history gets a single ERROR event with a 410 Status, the
way a real server answers after etcd compaction. The stream is closed when the watcher overflowed,
and the client re-watches, as with the real server. Objects are rendered per event (version view,
PartialObjectMetadata or a one-row Table) by a callable the handler passes in, so this module knows
nothing of Tables.
Decided against: WebSocket watches (neither kubectl nor kubernetes_asyncio needs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web

from ray_operator.sandbox import errors
from ray_operator.sandbox.storage.store import Store, Watcher

log = structlog.get_logger(__name__)


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return (json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n").encode()


def expired_event(requested: int, oldest: int) -> dict[str, Any]:
    return errors.gone(f"too old resource version: {requested} ({oldest})").status()


async def stream_expired(request: web.Request, requested: int, oldest: int) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(_line("ERROR", expired_event(requested, oldest)))
    await response.write_eof()
    return response


async def stream_watch(
    request: web.Request,
    *,
    store: Store,
    watcher: Watcher,
    render: Callable[[dict[str, Any]], dict[str, Any]],
    bookmark: Callable[[int, bool], dict[str, Any]] | None,
    timeout: float,  # noqa: ASYNC109 - the watch's own timeoutSeconds, not a call timeout
    bookmark_interval: float,
    initial_events_end: bool = False,
) -> web.StreamResponse:
    """Serve one watch until timeout, overflow, or the client going away."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
    )
    response.enable_chunked_encoding()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_bookmark = loop.time() + bookmark_interval

    async def drain() -> None:
        while watcher.queue:
            kind, obj = watcher.queue.popleft()
            await response.write(_line(kind, render(obj)))

    try:
        await response.prepare(request)
        if initial_events_end and bookmark is not None:
            await drain()
            await response.write(_line("BOOKMARK", bookmark(store.rv, True)))
        while True:
            watcher.wakeup.clear()
            await drain()
            if watcher.closed:
                break
            now = loop.time()
            if now >= deadline:
                if bookmark is not None:
                    await response.write(_line("BOOKMARK", bookmark(store.rv, False)))
                break
            wait = deadline - now
            if bookmark is not None:
                wait = min(wait, max(next_bookmark - now, 0.0))
            try:
                await asyncio.wait_for(watcher.wakeup.wait(), timeout=wait)
            except TimeoutError:
                if bookmark is not None and loop.time() >= next_bookmark:
                    await response.write(_line("BOOKMARK", bookmark(store.rv, False)))
                    next_bookmark = loop.time() + bookmark_interval
        await response.write_eof()
    except ConnectionError:
        log.debug("watch_client_disconnected")
    except Exception as exc:  # a rendering bug ends this stream with an ERROR event, never the server
        log.exception("watch_stream_failed")
        error = errors.internal(f"Internal error occurred: {exc}")
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(_line("ERROR", error.status()))
            await response.write_eof()
    finally:
        store.unwatch(watcher)
    return response
