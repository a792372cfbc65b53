"""The process runtime's pure kubelet rules: environment resolution, /etc/hosts, phase and probes' counting."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from ray_operator.sandbox.kubelet.process import podenv
from ray_operator.sandbox.kubelet.process.probes import ProbeState, timing
from ray_operator.sandbox.kubelet.process.runtime import is_ray_command
from ray_operator.sandbox.kubelet.process.status import ContainerView, phase, pod_status

POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"ray.io/cluster": "c1"}},
    "spec": {"nodeName": "node", "serviceAccountName": "sa"},
    "status": {"podIP": "10.244.0.9"},
}


def env_of(container: dict[str, Any], **kw: Any) -> dict[str, str]:
    return podenv.container_env(
        POD,
        container,
        api_host="127.0.0.1",
        api_port=443,
        secrets=kw.get("secrets", {}),
        config_maps=kw.get("config_maps", {}),
    )


def test_env_values_expand_earlier_variables_and_keep_unknown_references() -> None:
    env = env_of(
        {
            "env": [
                {"name": "A", "value": "x"},
                {"name": "B", "value": "$(A)-$(MISSING)-$$(A)"},
                {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "CLUSTER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            ]
        }
    )
    assert env["B"] == "x-$(MISSING)-$(A)"
    assert (env["NAME"], env["CLUSTER"], env["IP"]) == ("p", "c1", "10.244.0.9")
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"


def test_env_resource_field_secret_and_configmap_refs() -> None:
    container = {
        "resources": {"limits": {"cpu": "1500m", "memory": "1Gi"}},
        "env": [
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "mode"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "nope", "optional": True}}},
        ],
        "envFrom": [{"configMapRef": {"name": "m"}, "prefix": "M_"}],
    }
    env = env_of(
        container,
        secrets={"s": {"data": {"pw": base64.b64encode(b"hunter2").decode()}}},
        config_maps={"m": {"data": {"mode": "fast"}}},
    )
    assert (env["CPU"], env["MEM"], env["PW"], env["MODE"], env["M_mode"]) == ("2", "1024", "hunter2", "fast", "fast")
    assert "OPT" not in env


def test_env_missing_required_key_names_it() -> None:
    with pytest.raises(podenv.EnvError, match=r'couldn\'t find key pw in secret "s" \(env PW\)'):
        env_of({"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}}]}, secrets={"s": {}})
    with pytest.raises(podenv.EnvError, match='configmap "m" not found'):
        env_of({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}}]})


def test_command_expansion_is_done_before_any_shell() -> None:
    container = {"command": ["/bin/bash", "-c", "--"], "args": ["ray kuberay-autoscaler --cluster-name $(N)"]}
    assert podenv.expand_command(container, {"N": "c1"})[-1] == "ray kuberay-autoscaler --cluster-name c1"
    assert is_ray_command(podenv.expand_command(container, {}))
    assert not is_ray_command(["/bin/sh", "-c", "sleep 5; echo array"])


def _pod(name: str, ip: str, labels: dict[str, str], ready: bool, ns: str = "ns") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_hosts_file_maps_every_service_name_form_to_a_ready_endpoint() -> None:
    services = [
        {"metadata": {"name": "head-svc", "namespace": "ns"}, "spec": {"selector": {"role": "head"}}},
        {"metadata": {"name": "other", "namespace": "ns2"}, "spec": {"selector": {"a": "b"}}},
        {"metadata": {"name": "pending", "namespace": "ns"}, "spec": {"selector": {"role": "nobody"}}},
    ]
    pods = [
        _pod("h", "10.244.0.2", {"role": "head"}, ready=True),
        _pod("o", "10.244.0.5", {"a": "b"}, ready=True, ns="ns2"),
        _pod("x", "10.244.0.6", {"role": "nobody"}, ready=False),
    ]
    text = podenv.hosts_file(POD, "10.244.0.9", services, pods, api_host="127.0.0.1")
    assert "10.244.0.2\thead-svc.ns.svc.cluster.local head-svc.ns.svc head-svc.ns head-svc\n" in text
    assert "10.244.0.5\tother.ns2.svc.cluster.local other.ns2.svc other.ns2\n" in text  # no bare name across ns
    assert "10.244.0.6" not in text  # not ready, and not publishNotReadyAddresses
    services[2]["spec"]["publishNotReadyAddresses"] = True
    assert "10.244.0.6\tpending.ns.svc" in podenv.hosts_file(POD, "10.244.0.9", services, pods, api_host="127.0.0.1")
    assert "10.244.0.9\tp\n" in text


def _view(state: dict[str, Any], *, init: bool = False, restarts: int = 0, again: bool = True) -> ContainerView:
    return ContainerView(name="c", image="i", init=init, state=state, restarts=restarts, will_restart=again)


def test_phase_follows_the_kubelet() -> None:
    running = {"running": {"startedAt": "t"}}
    done = {"terminated": {"exitCode": 0}}
    failed = {"terminated": {"exitCode": 2}}
    waiting = {"waiting": {"reason": "ContainerCreating"}}
    assert phase([_view(running, init=True)], [_view(waiting)], init_failed=False) == "Pending"
    assert phase([_view(done, init=True, again=False)], [_view(running)], init_failed=False) == "Running"
    assert phase([], [_view(failed, again=False)], init_failed=False) == "Failed"
    assert phase([], [_view(done, again=False)], init_failed=False) == "Succeeded"
    assert phase([], [_view({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=2)], init_failed=False) == "Running"
    assert phase([_view(failed, init=True, again=False)], [_view(waiting)], init_failed=True) == "Failed"


def test_pod_status_conditions_and_container_statuses() -> None:
    ready = _view({"running": {"startedAt": "t"}})
    ready.ready = True
    status = pod_status(
        POD,
        pod_ip="10.244.0.9",
        host_ip="172.18.0.2",
        now="2026-01-01T00:00:00Z",
        sandbox_ready=True,
        inits=[],
        containers=[ready],
        init_failed=False,
    )
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert status["phase"] == "Running" and status["podIP"] == "10.244.0.9"
    assert status["containerStatuses"][0]["state"] == {"running": {"startedAt": "t"}}


def test_probe_thresholds_count_consecutive_results() -> None:
    state = ProbeState(success_threshold=2, failure_threshold=3)
    assert not state.record(True) and state.ok is None
    assert state.record(True) and state.ok is True
    assert not state.record(False) and not state.record(False)
    assert state.record(False) and state.ok is False
    assert timing({}) == (0.0, 10.0, 1.0, 1, 3)


def test_only_tmp_ray_is_private_so_an_environment_under_tmp_stays_reachable(tmp_path: Path) -> None:
    """A checkout (and its venv) under /tmp must stay visible in pods: only Ray's /tmp/ray is private."""
    from ray_operator.sandbox.kubelet.process.volumes import container_mounts

    mounts = container_mounts(
        directory=tmp_path / "pod", shm=tmp_path / "shm", name="ray-head", container={}, spec={}
    )
    targets = [m["target"] for m in mounts]
    assert "/tmp/ray" in targets and "/tmp" not in targets
    assert "/dev/shm" in targets
