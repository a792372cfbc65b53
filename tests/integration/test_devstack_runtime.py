"""``ray-operator sandbox --runtime``: the flag, and the one-line error where namespaces cannot be made."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ray_operator import devstack
from ray_operator.cli import build_parser
from ray_operator.devstack import run_devstack_command
from ray_operator.kube.client import kube_api_client
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


async def test_process_sandbox_prints_each_forwarded_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.rayclusters import Api, fast_settings, wait_until
    from tests.sandbox.process_support import leftovers, namespaces_or_skip

    namespaces_or_skip()
    kubeconfig = tmp_path / "kc"
    stop = asyncio.Event()
    task = asyncio.create_task(
        devstack.run_devstack(kubeconfig=kubeconfig, stop=stop, handle_signals=False, runtime="process")
    )
    try:
        await wait_until(kubeconfig.exists, seconds=60, what="the kubeconfig")
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "python",
                        "command": ["python3", "-m", "http.server", "8000"],
                        "ports": [{"containerPort": 8000}],
                    }
                ]
            },
        }
        async with kube_api_client(fast_settings(kubeconfig)) as client:
            await Api(client).send("POST", "/api/v1/namespaces/default/pods", pod)
        printed = await wait_until(
            lambda: [line for line in capsys.readouterr().out.splitlines() if "forwarded:" in line],
            seconds=30,
            what="a forwarded line",
        )
        assert printed[0].startswith("  forwarded:   pod default/web port 8000 -> 127.0.0.1:")
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == EXIT_OK
    assert leftovers() == []
