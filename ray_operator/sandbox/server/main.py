"""``ray-operator sandbox --api-only``: serve the emulator alone until SIGINT/SIGTERM, then exit 0.

The kubeconfig is written only once the server accepts requests, so a script that waits for the file
can use it at once; it is removed again on exit so a stale file never points at a dead port.
Log events (the sandbox logs with structlog) go to stderr from warning level up, so stdout carries only
the ready line.
Decided against: daemonizing or a PID file; the command runs in the foreground like ``kubectl proxy``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

import structlog

from ray_operator.sandbox.server import Sandbox


async def serve(*, kubeconfig: Path, port: int, kubelet: bool, stop: asyncio.Event | None = None) -> int:
    done = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    async with Sandbox(tls=True, port=port, kubelet=kubelet) as sb:
        path = sb.write_kubeconfig(kubeconfig)
        print(f"sandbox API server at {sb.url}; use: kubectl --kubeconfig {path} get ns", flush=True)
        try:
            await done.wait()
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
    return 0


def run_sandbox_command(args: argparse.Namespace) -> int:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    try:
        return asyncio.run(
            serve(kubeconfig=Path(args.kubeconfig), port=int(args.port), kubelet=not bool(args.no_kubelet))
        )
    except OSError as exc:
        print(f"error: cannot start the sandbox on port {args.port}: {exc}", file=sys.stderr)
        return 1
