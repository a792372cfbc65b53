"""``ray-operator sandbox --runtime``: the flag, and the one-line error where namespaces cannot be made."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ray_operator import devstack
from ray_operator.cli import build_parser
from ray_operator.devstack import run_devstack_command
from ray_operator.runtime import EXIT_OK


def test_runtime_defaults_to_fake_and_accepts_process() -> None:
    parser = build_parser()
    assert parser.parse_args(["sandbox"]).runtime == "fake"
    assert parser.parse_args(["sandbox", "--runtime", "process"]).runtime == "process"
    with pytest.raises(SystemExit):
        parser.parse_args(["sandbox", "--runtime", "docker"])


def test_process_runtime_without_namespaces_fails_in_one_line_naming_the_fake_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # what an ordinary user's machine says
    monkeypatch.setattr(devstack, "configure_logging", lambda **_: None)  # keep structlog off captured stderr
    kubeconfig = tmp_path / "kc"
    args = build_parser().parse_args(["sandbox", "--runtime", "process", "--kubeconfig", str(kubeconfig)])
    code = run_devstack_command(args)
    assert code != EXIT_OK
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "not running as root" in lines[0] and "use --runtime fake instead" in lines[0]
    assert not kubeconfig.exists()
