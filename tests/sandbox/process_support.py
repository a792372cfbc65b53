"""Shared by the process-runtime tests: skip where namespaces cannot be made (never under CI=true), and
check that nothing the runtime made is left behind."""

from __future__ import annotations

import os
import subprocess

import pytest

from ray_operator.sandbox.kubelet.process import netns


def namespaces_or_skip() -> None:
    """Skip with the reason when this machine cannot create network namespaces; under CI=true, fail instead."""
    try:
        netns.check_support()
        probe = f"{netns.PREFIX}probe{os.getpid()}"
        result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise netns.NamespacesUnavailable(netns.unavailable_message(result.stderr.strip()))
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True, check=False)
    except netns.NamespacesUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the process-runtime tests: {exc}")
        pytest.skip(str(exc))


def runtime_namespaces(instance: str) -> list[str]:
    return [n for n in netns.namespaces() if n.startswith(f"{netns.PREFIX}{instance}-")]


def processes_in(names: list[str]) -> list[int]:
    return [pid for name in names for pid in netns.pids_in(name)]


def leftovers() -> list[str]:
    """Namespaces of this process's runtimes, and Ray processes from this environment's Ray, still present."""
    import contextlib
    import sys
    from pathlib import Path

    mine = [n for n in netns.namespaces() if (inst := netns.instance_of(n)) and _owned_here(inst)]
    prefix = str(Path(sys.prefix).resolve())
    ray_processes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            exe = str((entry / "exe").resolve())
            if exe.startswith(prefix) and ("raylet" in exe or "gcs_server" in exe):
                ray_processes.append(f"{entry.name} {exe}")
    return mine + ray_processes


def _owned_here(instance: str) -> bool:
    """An instance whose owner is this process, or one whose owner is gone (a namespace nobody will remove)."""
    try:
        pid = int((netns.OWNERS_DIR / f"{instance}.pid").read_text().strip())
    except (OSError, ValueError):
        return True
    return pid == os.getpid()
