"""``ray-operator sandbox --apply FILE``: the manifests are created once the operator is ready and the
progress view shows the cluster converge; on a terminal (a pseudo-terminal here) it redraws in place,
elsewhere it prints plain lines; Ctrl-C (SIGINT) ends it with exit 0.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MINI = REPO / "samples" / "ray_v1_raycluster.mini.yaml"
EXE = Path(sys.executable).parent / "ray-operator"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RAY_OPERATOR_")}


def test_on_a_terminal_the_view_redraws_until_the_cluster_is_ready_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    argv = [str(EXE), "sandbox", "--kubeconfig", str(tmp_path / "kubeconfig"), "--apply", str(MINI)]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its stdin, stdout and stderr
        os.execve(argv[0], argv, {**_env(), "COLUMNS": "160", "TERM": "xterm"})
    output = b""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    output += os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
            screen = output.decode(errors="replace")
            if "default/raycluster-mini  ready  head ready" in screen and "workers: workers 1/1" in screen:
                break
        screen = output.decode(errors="replace")
        assert "default/raycluster-mini  ready  head ready" in screen, screen[-3000:]
        assert "raycluster/raycluster-mini -n default created" in screen
        assert "\x1b[J" in screen and "\x1b[" in screen.split("raycluster/raycluster-mini -n default created")[1]
        assert "last event: " in screen
        assert "[info" not in screen and "warning" not in screen, "log lines would tear the live view"
        log = (tmp_path / "kubeconfig.log").read_text()
        assert '"event": "leader_elected"' in log, "the operator logs to the file named above the view"
        assert f"operator logs: {tmp_path / 'kubeconfig.log'}" in screen
        os.kill(pid, signal.SIGINT)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def test_without_a_terminal_the_view_prints_plain_lines(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(EXE), "sandbox", "--kubeconfig", str(tmp_path / "kubeconfig"), "--apply", str(MINI)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(),
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "state=ready" in line and "workers=workers1/1" in line:
                break
        assert "raycluster/raycluster-mini -n default created" in lines, lines
        views = [line for line in lines if line.startswith("raycluster default/raycluster-mini ")]
        assert views and "state=ready head=ready" in views[-1] and "workers=workers1/1" in views[-1], lines
        assert len(views) == len(set(views)), "a line is printed only when what it shows changes"
        assert not any("\x1b[" in line for line in lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_unreadable_manifest_is_refused_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    done = subprocess.run(
        [str(EXE), "sandbox", "--kubeconfig", str(tmp_path / "kc"), "--apply", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert done.returncode == 2 and done.stderr.startswith(f"error: cannot read {bad}:"), done.stderr
    assert not (tmp_path / "kc").exists()
