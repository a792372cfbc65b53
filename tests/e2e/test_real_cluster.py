"""Opt-in checks against a real cluster where config/default is deployed.

Everything else runs against the sandbox; these tests exist for what only a real kube-apiserver can
prove: that the webhook Service, the self-signed CA injected into the webhook configurations and the
operator pods work together. Set RAY_OPERATOR_E2E_KUBECONFIG to a kubeconfig whose cluster runs
`kubectl kustomize config/default | kubectl apply -f -`; without it every test here is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBECONFIG = os.environ.get("RAY_OPERATOR_E2E_KUBECONFIG")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not KUBECONFIG, reason="set RAY_OPERATOR_E2E_KUBECONFIG to run against a real cluster"),
]


def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "kubectl"
    return subprocess.run(
        [str(binary), f"--kubeconfig={KUBECONFIG}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"ray-e2e-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def test_webhook_configurations_carry_the_operator_ca() -> None:
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        out = kubectl("get", kind, "-o", "json")
        assert out.returncode == 0, out.stderr
        ours = [c for c in json.loads(out.stdout)["items"] if c["metadata"]["name"].startswith("ray-operator-")]
        assert ours, f"no ray-operator {kind} deployed"
        for webhook in ours[0]["webhooks"]:
            assert webhook["clientConfig"].get("caBundle"), f"{webhook['name']} has no caBundle yet"


def test_invalid_raycluster_is_refused_naming_each_field(namespace: str) -> None:
    cluster = yaml.safe_load((ROOT / "samples" / "ray_v1_raycluster.mini.yaml").read_text())
    cluster["metadata"] = {"name": "bad", "namespace": namespace}
    group = cluster["spec"]["workerGroupSpecs"][0]
    group["minReplicas"], group["maxReplicas"] = 5, 1
    out = kubectl("create", "-f", "-", stdin=json.dumps(cluster))
    assert out.returncode != 0
    assert 'The RayCluster "bad" is invalid' in out.stderr
    assert "spec.workerGroupSpecs[0]" in out.stderr


def test_valid_raycluster_is_stored_with_defaults(namespace: str) -> None:
    cluster = yaml.safe_load((ROOT / "samples" / "ray_v1_raycluster.mini.yaml").read_text())
    cluster["metadata"] = {"name": "good", "namespace": namespace}
    out = kubectl("create", "-f", "-", stdin=json.dumps(cluster))
    assert out.returncode == 0, out.stderr
    stored = json.loads(kubectl("get", "raycluster", "good", "-n", namespace, "-o", "json").stdout)
    for group in stored["spec"]["workerGroupSpecs"]:
        assert group["scaleStrategy"] == {} or "workersToDelete" in group["scaleStrategy"]
        assert "rayStartParams" in group
