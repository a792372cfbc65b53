"""``pods/log``: a container's output, as ``kubectl logs POD [-c NAME] [-f] [-p] [--tail N]`` reads it.

The kubelet's runtime says where a container's output is (``log_file``); this route streams it as
``text/plain``: the whole file, its last ``tailLines``, and with ``follow=true`` whatever is appended
until the container exits (or restarts into a new file) or the client goes. Errors are
the API server's: 404 for a missing pod, 400 naming the choices when a multi-container pod is asked
without ``container``, 400 when the container has not started (or the runtime runs nothing - the
``fake`` runtime has no output to serve).
Decided against: serving logs through the control API (``kubectl logs`` must work unchanged).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from ray_operator.sandbox import errors
from ray_operator.sandbox.engine.context import parse_bool

FOLLOW_POLL_SECONDS = 0.25
LOG_PATH = "/api/v1/namespaces/{namespace}/pods/{name}/log"


class LogSource(Protocol):
    def log_file(self, key: tuple[str, str], container: str, *, previous: bool = False) -> Path | None: ...

    def is_running(self, key: tuple[str, str], container: str) -> bool: ...


def _tail(data: bytes, lines: int) -> bytes:
    if lines <= 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


def routes(get_pod: Callable[[str, str], dict[str, Any]], source: Callable[[], LogSource | None]) -> list[web.RouteDef]:
    """``get_pod(namespace, name)`` raises the emulator's 404; ``source()`` is the running runtime, if any."""

    async def handle(request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        pod = get_pod(namespace, name)
        spec: dict[str, Any] = pod["spec"] if isinstance(pod.get("spec"), dict) else {}
        names = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict)]
        inits = [str(c.get("name")) for c in spec.get("initContainers") or [] if isinstance(c, dict)]
        container = request.query.get("container", "")
        if not container:
            if len(names) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
                    + (f" or one of the init containers: [{' '.join(inits)}]" if inits else "")
                )
            container = names[0]
        elif container not in names and container not in inits:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        previous = parse_bool(request.query.get("previous", "false"))
        follow = parse_bool(request.query.get("follow", "false"))
        runtime = source()
        path = runtime.log_file((namespace, name), container, previous=previous) if runtime is not None else None
        if path is None:
            what = "previous terminated container" if previous else "container"
            raise errors.bad_request(
                f'{what} "{container}" in pod "{name}" is waiting to start or has no output'
                + ("" if runtime is not None else ": the fake kubelet runs no containers")
            )
        data = path.read_bytes()
        tail = request.query.get("tailLines")
        if tail is not None and tail.lstrip("-").isdigit():
            data = _tail(data, int(tail))
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(data)
        if follow and not previous:
            offset = path.stat().st_size if path.exists() else 0
            while runtime is not None and runtime.log_file((namespace, name), container) == path:
                running = runtime.is_running((namespace, name), container)
                await asyncio.sleep(FOLLOW_POLL_SECONDS)
                try:
                    with path.open("rb") as handle:
                        handle.seek(offset)
                        chunk = handle.read()
                except OSError:
                    break
                if chunk:
                    offset += len(chunk)
                    await response.write(chunk)
                elif not running:
                    break  # the container exited and everything it wrote has been sent
        await response.write_eof()
        return response

    return [web.get(LOG_PATH, handle)]
