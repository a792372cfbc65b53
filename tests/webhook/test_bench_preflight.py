"""The webhook benchmark script stops with install instructions, not a traceback, when ``wrk`` is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "webhook_bench.py"


def test_without_wrk_the_benchmark_says_how_to_install_it(tmp_path: Path) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--no-kopf", "--seconds", "1", "--rounds", "1"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": str(empty_path)},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "wrk" in done.stderr and "apt-get install wrk" in done.stderr and "--python-load" in done.stderr
    assert done.stdout == ""  # stopped before starting any server
