"""Per-container memory and CPU limits through cgroups, where the machine lets us make them.

cgroup v1 (separate ``memory`` and ``cpu`` hierarchies) and v2 (one unified tree with ``memory.max`` and
``cpu.max``) are both handled; anything else - no write access, a controller not enabled - leaves the
container unbounded, and ``Cgroups.kind`` says so in the kubelet's state. Groups are named
``rop-<instance>-...`` so a later start removes those of a crashed sandbox.
"""

from __future__ import annotations

import contextlib
import os
from decimal import Decimal
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def detect() -> str:
    """``v2``, ``v1`` or ``none``."""
    if (ROOT / "cgroup.controllers").exists():
        return "v2" if os.access(ROOT, os.W_OK) else "none"
    if (ROOT / "memory" / "memory.limit_in_bytes").exists() and os.access(ROOT / "memory", os.W_OK):
        return "v1"
    return "none"


class Cgroups:
    def __init__(self) -> None:
        self.kind = detect()

    def create(self, name: str, *, memory: int | None, cpu: Decimal | None) -> tuple[list[str], list[Path]]:
        """Make the groups for one container; (``cgroup.procs`` files to join, directories to remove later)."""
        procs: list[str] = []
        made: list[Path] = []
        if self.kind == "none" or (memory is None and cpu is None):
            return procs, made
        try:
            if self.kind == "v2":
                group = ROOT / name
                group.mkdir(exist_ok=True)
                made.append(group)
                if memory is not None and (group / "memory.max").exists():
                    (group / "memory.max").write_text(str(memory))
                if cpu is not None and (group / "cpu.max").exists():
                    (group / "cpu.max").write_text(f"{max(1000, int(cpu * PERIOD_US))} {PERIOD_US}")
                procs.append(str(group / "cgroup.procs"))
            else:
                if memory is not None:
                    group = ROOT / "memory" / name
                    group.mkdir(exist_ok=True)
                    made.append(group)
                    (group / "memory.limit_in_bytes").write_text(str(memory))
                    procs.append(str(group / "cgroup.procs"))
                if cpu is not None and (ROOT / "cpu").is_dir():
                    group = ROOT / "cpu" / name
                    group.mkdir(exist_ok=True)
                    made.append(group)
                    (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                    (group / "cpu.cfs_quota_us").write_text(str(max(1000, int(cpu * PERIOD_US))))
                    procs.append(str(group / "cgroup.procs"))
        except OSError:
            return procs, made  # partly bounded is still better than refusing to run
        return procs, made

    @staticmethod
    def remove(groups: list[Path]) -> None:
        for group in groups:
            with contextlib.suppress(OSError):
                group.rmdir()

    def leftovers(self, prefix: str) -> list[Path]:
        """Groups named ``prefix*`` in every hierarchy this machine has."""
        bases = [ROOT] if self.kind == "v2" else [ROOT / "memory", ROOT / "cpu"]
        found: list[Path] = []
        for base in bases:
            with contextlib.suppress(OSError):
                found += [p for p in base.iterdir() if p.is_dir() and p.name.startswith(prefix)]
        return found
