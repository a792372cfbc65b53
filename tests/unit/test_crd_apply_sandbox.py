"""The CRD as users install it: plain ``kubectl apply -f`` against the sandbox API server, then the samples.

Client-side apply stores the whole object in the last-applied-configuration annotation, which is
exactly what fails with KubeRay's 0.9 MB CRD; here it must succeed. The sandbox (``ray-operator
sandbox --api-only``) runs as a separate process on a free port, with the real kubectl from the
test dependencies and a fresh cache directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
RAY_OPERATOR = Path(sys.executable).parent / "ray-operator"


class Cluster:
    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("sandbox")
    kubeconfig = workdir / "kubeconfig"
    log = (workdir / "sandbox.log").open("w")
    proc = subprocess.Popen(
        [str(RAY_OPERATOR), "sandbox", "--api-only", "--port", "0", "--kubeconfig", str(kubeconfig)],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if not kubeconfig.exists():
            pytest.fail(f"the sandbox did not start: {(workdir / 'sandbox.log').read_text()[-2000:]}")
        time.sleep(0.2)  # the kubeconfig is written once the server accepts requests
        yield Cluster(kubeconfig, workdir / "kubectl-cache")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def installed(cluster: Cluster) -> Cluster:
    result = cluster.kubectl("apply", "-f", str(REPO / "config/crd/bases/ray.io_rayclusters.yaml"))
    assert result.returncode == 0, result.stderr
    return cluster


def test_plain_kubectl_apply_stores_the_crd_with_its_last_applied_annotation(installed: Cluster) -> None:
    result = installed.kubectl("get", "crd", "rayclusters.ray.io", "-o", "json")
    assert result.returncode == 0, result.stderr
    crd = json.loads(result.stdout)
    annotation = crd["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert len(annotation) < 262144
    # A second apply (the usual upgrade path) is a no-op, not an error.
    again = installed.kubectl("apply", "-f", str(REPO / "config/crd/bases/ray.io_rayclusters.yaml"))
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("sample", sorted((REPO / "samples").glob("ray_v1_raycluster.*.yaml")), ids=lambda p: p.name)
def test_sample_applies(installed: Cluster, sample: Path) -> None:
    result = installed.kubectl("apply", "-f", str(sample))
    assert result.returncode == 0, result.stderr


def test_schema_defaults_are_written_and_quantities_kept(installed: Cluster) -> None:
    assert installed.kubectl("apply", "-f", str(REPO / "samples/ray_v1_raycluster.mini.yaml")).returncode == 0
    stored = json.loads(installed.kubectl("get", "raycluster", "raycluster-mini", "-o", "json").stdout)
    group = stored["spec"]["workerGroupSpecs"][0]
    assert (group["numOfHosts"], group["priority"]) == (1, 0)
    container = stored["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert {p["protocol"] for p in container["ports"]} == {"TCP"}


def test_managed_by_is_immutable(installed: Cluster) -> None:
    manifest = (
        (REPO / "samples/ray_v1_raycluster.mini.yaml")
        .read_text()
        .replace("name: raycluster-mini", "name: raycluster-managed")
        .replace("spec:\n", "spec:\n  managedBy: ray.io/kuberay-operator\n", 1)
    )
    assert installed.kubectl("apply", "-f", "-", stdin=manifest).returncode == 0
    patch = json.dumps({"spec": {"managedBy": "kueue.x-k8s.io/multikueue"}})
    result = installed.kubectl("patch", "raycluster", "raycluster-managed", "--type", "merge", "-p", patch)
    assert result.returncode != 0
    assert "the managedBy field is immutable" in result.stderr


def test_gcs_backend_is_immutable(installed: Cluster) -> None:
    manifest = (
        (REPO / "samples/ray_v1_raycluster.mini.yaml")
        .read_text()
        .replace("name: raycluster-mini", "name: raycluster-backend")
        .replace("spec:\n", "spec:\n  gcsFaultToleranceOptions:\n    backend: redis\n    redisAddress: redis:6379\n", 1)
    )
    assert installed.kubectl("apply", "-f", "-", stdin=manifest).returncode == 0
    patch = json.dumps({"spec": {"gcsFaultToleranceOptions": {"backend": "rocksdb"}}})
    result = installed.kubectl("patch", "raycluster", "raycluster-backend", "--type", "merge", "-p", patch)
    assert result.returncode != 0
    assert "gcsFaultToleranceOptions.backend is immutable" in result.stderr


def test_kubectl_explain_teaches_our_fields(installed: Cluster) -> None:
    result = installed.kubectl("explain", "rayclusters.spec.workerGroupSpecs")
    assert result.returncode == 0, result.stderr
    assert "groupName" in result.stdout and "-required-" in result.stdout
    assert "minReplicas" in result.stdout


def test_get_prints_kuberays_columns(installed: Cluster) -> None:
    assert installed.kubectl("apply", "-f", str(REPO / "samples/ray_v1_raycluster.mini.yaml")).returncode == 0
    header = installed.kubectl("get", "rayclusters").stdout.splitlines()[0].split()
    assert header[:3] == ["NAME", "DESIRED", "WORKERS"]
    assert "STATUS" in header and "AGE" in header
    wide = installed.kubectl("get", "rayclusters", "-o", "wide").stdout.splitlines()[0]
    assert "TPUS" in wide and "HEAD POD IP" in wide and "HEAD SERVICE IP" in wide
