"""Head and worker pods (reference §2.2, §2.6-§2.10)."""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ray_operator.builders import pods, revisions
from ray_operator.builders.config import BuildConfig
from tests.unit.builders.helpers import (
    CONFIG,
    FQDN,
    UID,
    cluster,
    deep,
    env_names,
    env_of,
    head,
    head_container,
    worker,
    worker_container,
)


def head_pod(edit: Any = None, config: BuildConfig = CONFIG) -> dict[str, Any]:
    return pods.build_head_pod(cluster=cluster(edit), config=config)


def worker_pod(edit: Any = None, config: BuildConfig = CONFIG, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("replica_index", 0)
    return pods.build_worker_pod(cluster=cluster(edit), group_name="small", config=config, **kwargs)


def ray(pod: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = pod["spec"]["containers"][0]
    return result


# --- metadata (§2.2) -----------------------------------------------------------------------------------


def test_head_pod_uses_generate_name_and_the_cluster_namespace() -> None:
    def edit(raw: dict[str, Any]) -> None:
        head(raw)["template"]["metadata"] = {"name": "fixed", "namespace": "elsewhere"}

    meta = head_pod(edit)["metadata"]
    assert (meta.get("name"), meta["generateName"], meta["namespace"]) == (None, "demo-head-", "ray")


def test_deterministic_head_pod_name() -> None:
    meta = head_pod(config=replace(CONFIG, enable_deterministic_head_pod_name=True))["metadata"]
    assert (meta["name"], meta.get("generateName")) == ("demo-head", None)


def test_worker_pod_drops_a_template_name() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker(raw)["template"]["metadata"] = {"name": "fixed"}

    meta = worker_pod(edit)["metadata"]
    assert (meta.get("name"), meta["generateName"]) == (None, "demo-small-worker-")


def test_operator_labels_on_head_and_worker() -> None:
    labels = dict(head_pod()["metadata"]["labels"])
    assert labels.pop("ray.io/template-revision") == revisions.head_pod_revision(cluster())
    assert labels == {
        "ray.io/is-ray-node": "yes",
        "ray.io/cluster": "demo",
        "ray.io/node-type": "head",
        "ray.io/group": "headgroup",
        "ray.io/identifier": "demo-head",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    labels = worker_pod()["metadata"]["labels"]
    assert (labels["ray.io/node-type"], labels["ray.io/group"], labels["ray.io/identifier"]) == (
        "worker",
        "small",
        "demo-worker",
    )


def test_user_labels_cannot_override_cluster_node_type_or_group_but_can_override_the_rest() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker(raw)["template"]["metadata"] = {
            "labels": {
                "ray.io/cluster": "x",
                "ray.io/node-type": "head",
                "ray.io/group": "x",
                "app.kubernetes.io/name": "mine",
                "ray.io/identifier": "mine",
                "team": "a",
            }
        }

    labels = worker_pod(edit)["metadata"]["labels"]
    assert (labels["ray.io/cluster"], labels["ray.io/node-type"], labels["ray.io/group"]) == ("demo", "worker", "small")
    assert (labels["app.kubernetes.io/name"], labels["ray.io/identifier"], labels["team"]) == ("mine", "mine", "a")


def test_group_labels_win_over_template_labels() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker(raw)["template"]["metadata"] = {"labels": {"zone": "template"}}
        worker(raw)["labels"] = {"zone": "group"}

    pod = worker_pod(edit)
    assert pod["metadata"]["labels"]["zone"] == "group"
    assert " --labels=zone=group " in ray(pod)["args"][0]


def test_replica_index_label_and_multi_host_labels() -> None:
    assert worker_pod(replica_index=3)["metadata"]["labels"]["ray.io/worker-group-replica-index"] == "3"
    assert "ray.io/worker-group-replica-name" not in worker_pod()["metadata"]["labels"]

    def multi(raw: dict[str, Any]) -> None:
        worker(raw)["numOfHosts"] = 2

    labels = worker_pod(multi, replica_index=1, replica_name="small-abcde", host_index=1)["metadata"]["labels"]
    assert (labels["ray.io/worker-group-replica-name"], labels["ray.io/replica-host-index"]) == ("small-abcde", "1")
    with pytest.raises(ValueError, match="replica_name and host_index"):
        worker_pod(multi)


def test_unknown_group_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        pods.build_worker_pod(cluster=cluster(), group_name="nope", config=CONFIG, replica_index=0)


def test_head_annotations_ft_disabled_hash_and_version() -> None:
    annotations = head_pod()["metadata"]["annotations"]
    assert annotations["ray.io/ft-enabled"] == "false"
    assert annotations["ray.io/kuberay-version"] == "0.1.0"
    assert len(annotations["ray.io/upgrade-strategy-recreate-hash"]) == 64
    assert "ray.io/external-storage-namespace" not in annotations


def test_head_annotations_with_redis_ft() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}

    annotations = head_pod(edit)["metadata"]["annotations"]
    assert (annotations["ray.io/ft-enabled"], annotations["ray.io/external-storage-namespace"]) == ("true", UID)


def test_template_annotations_are_kept_and_workers_get_no_head_annotations() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker(raw)["template"]["metadata"] = {"annotations": {"scrape": "yes"}}

    assert worker_pod(edit)["metadata"]["annotations"] == {"scrape": "yes"}
    assert "annotations" not in worker_pod()["metadata"]


def test_every_pod_has_the_controller_owner_reference() -> None:
    for pod in (head_pod(), worker_pod()):
        assert pod["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "ray.io/v1",
                "kind": "RayCluster",
                "name": "demo",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


def test_operator_default_labels_and_annotations_fill_only_missing_keys() -> None:
    config = replace(
        CONFIG,
        default_pod_labels={"team": "default", "ray.io/node-type": "nope"},
        default_pod_annotations={"note": "default"},
    )

    def edit(raw: dict[str, Any]) -> None:
        head(raw)["template"]["metadata"] = {"labels": {"team": "mine"}}

    meta = head_pod(edit, config)["metadata"]
    assert (meta["labels"]["team"], meta["labels"]["ray.io/node-type"], meta["annotations"]["note"]) == (
        "mine",
        "head",
        "default",
    )


def test_builders_do_not_mutate_the_cluster() -> None:
    built = cluster()
    before = deep(built.to_dict())
    pods.build_head_pod(cluster=built, config=CONFIG)
    pods.build_worker_pod(cluster=built, group_name="small", config=CONFIG, replica_index=0)
    assert built.to_dict() == before


# --- env (§2.7) -----------------------------------------------------------------------------------------


def test_head_env_names_and_order() -> None:
    def edit(raw: dict[str, Any]) -> None:
        head_container(raw)["env"] = [{"name": "MINE", "value": "1"}]

    assert env_names(ray(head_pod(edit))) == [
        "MINE",
        "RAY_CLUSTER_NAME",
        "RAY_CLUSTER_NAMESPACE",
        "RAY_CLOUD_INSTANCE_ID",
        "RAY_NODE_TYPE_NAME",
        "KUBERAY_GEN_RAY_START_CMD",
        "RAY_PORT",
        "RAY_ADDRESS",
        "RAY_USAGE_STATS_KUBERAY_IN_USE",
        "RAY_USAGE_STATS_EXTRA_TAGS",
        "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE",
    ]


def test_worker_env_names_and_order() -> None:
    assert env_names(ray(worker_pod())) == [
        "FQ_RAY_IP",
        "RAY_IP",
        "RAY_CLUSTER_NAME",
        "RAY_CLUSTER_NAMESPACE",
        "RAY_CLOUD_INSTANCE_ID",
        "RAY_NODE_TYPE_NAME",
        "KUBERAY_GEN_RAY_START_CMD",
        "RAY_PORT",
        "RAY_ADDRESS",
        "RAY_USAGE_STATS_KUBERAY_IN_USE",
        "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE",
    ]


def test_env_values() -> None:
    head_env = env_of(ray(head_pod()))
    assert head_env["RAY_CLUSTER_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}}
    assert head_env["RAY_CLUSTER_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert head_env["RAY_CLOUD_INSTANCE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert head_env["RAY_NODE_TYPE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['ray.io/group']"}}
    assert head_env["RAY_ADDRESS"]["value"] == "127.0.0.1:6379"
    assert head_env["RAY_USAGE_STATS_EXTRA_TAGS"]["value"] == "kuberay_version=0.1.0;kuberay_crd=RayCluster"
    assert head_env["RAY_USAGE_STATS_KUBERAY_IN_USE"]["value"] == "1"
    assert head_env["RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE"]["value"] == "1"
    worker_env = env_of(ray(worker_pod()))
    assert (worker_env["FQ_RAY_IP"]["value"], worker_env["RAY_IP"]["value"]) == (FQDN, "demo-head-svc")
    assert worker_env["RAY_ADDRESS"]["value"] == f"{FQDN}:6379"
    assert worker_env["KUBERAY_GEN_RAY_START_CMD"]["value"] == ray(worker_pod())["args"][0].split("; ", 1)[1]


@pytest.mark.parametrize(
    "name", ["RAY_PORT", "RAY_ADDRESS", "RAY_USAGE_STATS_KUBERAY_IN_USE", "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE"]
)
def test_if_unset_variables_keep_the_users_value(name: str) -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker_container(raw)["env"] = [{"name": name, "value": "mine"}]

    assert env_of(ray(worker_pod(edit)))[name] == {"name": name, "value": "mine"}


@pytest.mark.parametrize("name", ["RAY_CLUSTER_NAME", "KUBERAY_GEN_RAY_START_CMD", "FQ_RAY_IP"])
def test_operator_owned_variables_replace_the_users_without_duplicates(name: str) -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker_container(raw)["env"] = [{"name": name, "value": "mine"}, {"name": "KEEP", "value": "1"}]

    env = env_of(ray(worker_pod(edit)))  # env_of asserts there is no duplicate
    assert env[name].get("value") != "mine"
    assert env["KEEP"]["value"] == "1"


def test_default_container_env_is_added_only_when_unset() -> None:
    config = replace(CONFIG, default_container_env=({"name": "A", "value": "default"}, {"name": "B", "value": "b"}))

    def edit(raw: dict[str, Any]) -> None:
        worker_container(raw)["env"] = [{"name": "A", "value": "mine"}]

    env = env_of(ray(worker_pod(edit, config)))
    assert (env["A"]["value"], env["B"]["value"]) == ("mine", "b")


def test_rayservice_created_cluster_gets_serve_labels_and_timeouts() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["metadata"]["labels"] = {"ray.io/originated-from-crd": "RayService"}

    head_result, worker_result = head_pod(edit), worker_pod(edit)
    assert (head_result["metadata"]["labels"]["ray.io/serve"], worker_result["metadata"]["labels"]["ray.io/serve"]) == (
        "false",
        "true",
    )
    env = env_of(ray(worker_result))
    assert env["RAY_timeout_ms_task_wait_for_death_info"]["value"] == "0"
    assert env["RAY_gcs_server_request_timeout_seconds"]["value"] == "5"
    assert env["RAY_SERVE_KV_TIMEOUT_S"]["value"] == "5"
    assert env_of(ray(head_result))["RAY_USAGE_STATS_EXTRA_TAGS"]["value"].endswith("kuberay_crd=RayService")
    assert "RAY_SERVE_KV_TIMEOUT_S" not in env_of(ray(worker_pod()))


def test_worker_gcs_reconnect_timeout_only_with_ft_and_if_unset() -> None:
    def ft(raw: dict[str, Any]) -> None:
        raw["metadata"]["annotations"] = {"ray.io/ft-enabled": "true"}

    assert env_of(ray(worker_pod(ft)))["RAY_gcs_rpc_server_reconnect_timeout_s"]["value"] == "600"
    assert "RAY_gcs_rpc_server_reconnect_timeout_s" not in env_of(ray(worker_pod()))

    def ft_custom(raw: dict[str, Any]) -> None:
        ft(raw)
        worker_container(raw)["env"] = [{"name": "RAY_gcs_rpc_server_reconnect_timeout_s", "value": "30"}]

    assert env_of(ray(worker_pod(ft_custom)))["RAY_gcs_rpc_server_reconnect_timeout_s"]["value"] == "30"


# --- probes (§2.8) ---------------------------------------------------------------------------------------

EXEC_WORKER = "wget --tries 1 -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success"
EXEC_HEAD = EXEC_WORKER + " && wget --tries 1 -T 10 -q -O- http://localhost:8265/api/gcs_healthz | grep success"


def version(value: str) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        raw["spec"]["rayVersion"] = value

    return edit


def test_ray_2_52_gets_exec_wget_probes_with_the_table_numbers() -> None:
    head_ray, worker_ray = ray(head_pod(version("2.52.0"))), ray(worker_pod(version("2.52.0")))
    assert head_ray["livenessProbe"] == {
        "initialDelaySeconds": 30,
        "timeoutSeconds": 5,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 120,
        "exec": {"command": ["bash", "-c", EXEC_HEAD]},
    }
    assert head_ray["readinessProbe"] == {
        "initialDelaySeconds": 10,
        "timeoutSeconds": 5,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 10,
        "exec": {"command": ["bash", "-c", EXEC_HEAD]},
    }
    assert worker_ray["livenessProbe"]["timeoutSeconds"] == 2
    assert worker_ray["readinessProbe"]["exec"] == {"command": ["bash", "-c", EXEC_WORKER]}


def test_ray_2_53_gets_http_probes_on_the_agent_port() -> None:
    for pod in (head_pod(version("2.53.0")), worker_pod(version("2.53.0"))):
        for key in ("livenessProbe", "readinessProbe"):
            probe = ray(pod)[key]
            assert probe["httpGet"] == {"path": "/api/healthz", "port": 52365}
            assert "exec" not in probe


@pytest.mark.parametrize("value", ["nightly", "2", ""])
def test_unparsable_version_falls_back_to_exec(value: str) -> None:
    assert "exec" in ray(head_pod(version(value)))["readinessProbe"]


def test_probe_ports_follow_ray_start_params() -> None:
    def edit(raw: dict[str, Any]) -> None:
        head(raw)["rayStartParams"] = {"dashboard-agent-listen-port": "1111", "dashboard-port": "2222"}

    command = ray(head_pod(edit))["readinessProbe"]["exec"]["command"][2]
    assert "localhost:1111/api/local_raylet_healthz" in command and "localhost:2222/api/gcs_healthz" in command
    http = ray(head_pod(lambda raw: (edit(raw), version("2.60.0")(raw))))["livenessProbe"]["httpGet"]
    assert http["port"] == 1111


def test_a_user_probe_is_kept_and_the_other_still_injected() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker_container(raw)["readinessProbe"] = {"tcpSocket": {"port": 6379}}

    result = ray(worker_pod(edit))
    assert result["readinessProbe"] == {"tcpSocket": {"port": 6379}}
    assert "exec" in result["livenessProbe"]


def test_probe_injection_switch_off() -> None:
    result = ray(head_pod(config=replace(CONFIG, enable_probes_injection=False)))
    assert "livenessProbe" not in result and "readinessProbe" not in result


def test_rayservice_worker_readiness_also_checks_the_serve_proxy() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["metadata"]["labels"] = {"ray.io/originated-from-crd": "RayService"}
        raw["spec"]["rayVersion"] = "2.60.0"
        worker_container(raw)["ports"] = [{"name": "serve", "containerPort": 9000}]

    readiness = ray(worker_pod(edit))["readinessProbe"]
    assert readiness["failureThreshold"] == 1
    assert "httpGet" not in readiness
    assert readiness["exec"]["command"][2] == (
        EXEC_WORKER + " && wget --tries 1 -T 10 -q -O- http://localhost:9000/-/healthz | grep success"
    )


# --- init containers (§2.9) --------------------------------------------------------------------------------


def test_wait_gcs_ready_is_added_to_workers_only() -> None:
    assert "initContainers" not in head_pod()["spec"]
    (init,) = worker_pod()["spec"]["initContainers"]
    assert init["name"] == "wait-gcs-ready"
    assert init["command"] == ["/bin/bash", "-c", "--"]
    assert init["resources"] == {
        "limits": {"cpu": "200m", "memory": "256Mi"},
        "requests": {"cpu": "200m", "memory": "256Mi"},
    }
    assert f"ray health-check --address {FQDN}:6379" in init["args"][0]


def test_wait_gcs_ready_copies_image_policy_security_context_user_env_and_mounts() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker_container(raw).update(
            imagePullPolicy="Always",
            securityContext={"runAsUser": 1000},
            env=[{"name": "RAY_USE_TLS", "value": "1"}],
            volumeMounts=[{"name": "certs", "mountPath": "/etc/certs"}],
        )

    (init,) = worker_pod(edit)["spec"]["initContainers"]
    assert (init["image"], init["imagePullPolicy"], init["securityContext"]) == (
        "rayproject/ray:2.52.0",
        "Always",
        {"runAsUser": 1000},
    )
    # The user's env (not the operator's Ray env), then FQ_RAY_IP and RAY_IP.
    assert init["env"] == [
        {"name": "RAY_USE_TLS", "value": "1"},
        {"name": "FQ_RAY_IP", "value": FQDN},
        {"name": "RAY_IP", "value": "demo-head-svc"},
    ]
    assert init["volumeMounts"] == [{"name": "certs", "mountPath": "/etc/certs"}]


def test_every_init_container_gets_fq_ray_ip_and_ray_ip() -> None:
    def edit(raw: dict[str, Any]) -> None:
        head(raw)["template"]["spec"]["initContainers"] = [{"name": "mine", "image": "busybox"}]

    (init,) = head_pod(edit)["spec"]["initContainers"]
    assert init["env"] == [{"name": "FQ_RAY_IP", "value": FQDN}, {"name": "RAY_IP", "value": "demo-head-svc"}]


def test_init_container_injection_switch_off() -> None:
    assert "initContainers" not in worker_pod(config=replace(CONFIG, enable_init_container_injection=False))["spec"]


def _fake_bin(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_wait_gcs_ready_script_retries_quietly_until_the_gcs_answers(tmp_path: Path) -> None:
    # A fake `ray` that fails twice (noisily) and then succeeds, and a `sleep` that does not wait.
    _fake_bin(
        tmp_path,
        "ray",
        f"n=$(cat {tmp_path}/count 2>/dev/null || echo 0); echo $((n+1)) > {tmp_path}/count\n"
        '[ "$n" -ge 2 ] && exit 0; echo "connection refused" >&2; exit 1',
    )
    _fake_bin(tmp_path, "sleep", "exit 0")
    (init,) = worker_pod()["spec"]["initContainers"]
    result = subprocess.run(
        ["bash", "-c", "--", init["args"][0]],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert (tmp_path / "count").read_text().strip() == "3"
    assert result.stdout.count("waiting for the GCS") == 2
    assert result.stdout.strip().endswith("GCS is ready.")
    assert "connection refused" not in result.stdout + result.stderr  # quiet during the first 120 s


# --- volumes and ports (§2.10, §2.4) -------------------------------------------------------------------------


def test_shared_memory_sized_from_the_memory_limit() -> None:
    spec = head_pod()["spec"]
    assert spec["volumes"] == [{"name": "shared-mem", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}}]
    assert {"mountPath": "/dev/shm", "name": "shared-mem"} in ray({"spec": spec})["volumeMounts"]


def test_shared_memory_falls_back_to_the_request_then_to_no_limit() -> None:
    def request_only(raw: dict[str, Any]) -> None:
        worker_container(raw)["resources"] = {"requests": {"memory": "1536Mi"}}

    def nothing(raw: dict[str, Any]) -> None:
        worker_container(raw)["resources"] = {}

    assert worker_pod(request_only)["spec"]["volumes"][0]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1536Mi"}
    assert worker_pod(nothing)["spec"]["volumes"][0]["emptyDir"] == {"medium": "Memory"}


def test_shared_memory_is_skipped_with_plasma_directory_or_an_existing_mount() -> None:
    def plasma(raw: dict[str, Any]) -> None:
        worker(raw)["rayStartParams"] = {"plasma-directory": "/plasma"}

    def mounted(raw: dict[str, Any]) -> None:
        worker_container(raw)["volumeMounts"] = [{"name": "mine", "mountPath": "/dev/shm"}]
        worker(raw)["template"]["spec"]["volumes"] = [{"name": "mine", "emptyDir": {}}]

    assert "volumes" not in worker_pod(plasma)["spec"]
    assert worker_pod(mounted)["spec"]["volumes"] == [{"name": "mine", "emptyDir": {}}]
    assert ray(worker_pod(mounted))["volumeMounts"] == [{"name": "mine", "mountPath": "/dev/shm"}]


def autoscaling(raw: dict[str, Any]) -> None:
    raw["spec"]["enableInTreeAutoscaling"] = True


def test_autoscaler_shares_a_ray_logs_volume_at_tmp_ray() -> None:
    pod = head_pod(autoscaling)
    ray_container, sidecar = pod["spec"]["containers"]
    assert {"name": "ray-logs", "emptyDir": {}} in pod["spec"]["volumes"]
    assert {"mountPath": "/tmp/ray", "name": "ray-logs"} in ray_container["volumeMounts"]
    assert sidecar["volumeMounts"] == [{"mountPath": "/tmp/ray", "name": "ray-logs"}]
    assert not any(v["name"] == "ray-logs" for v in head_pod()["spec"]["volumes"])  # no sidecar, no volume


def test_autoscaler_mounts_the_volume_the_ray_container_already_uses_for_tmp_ray() -> None:
    def edit(raw: dict[str, Any]) -> None:
        autoscaling(raw)
        head_container(raw)["volumeMounts"] = [{"name": "logs", "mountPath": "/tmp/ray"}]
        head(raw)["template"]["spec"]["volumes"] = [{"name": "logs", "emptyDir": {}}]

    pod = head_pod(edit)
    assert not any(v["name"] == "ray-logs" for v in pod["spec"]["volumes"])
    assert pod["spec"]["containers"][1]["volumeMounts"] == [{"mountPath": "/tmp/ray", "name": "logs"}]


def test_metrics_container_port_is_added_once() -> None:
    assert {"name": "metrics", "containerPort": 8080} in ray(head_pod())["ports"]

    def own(raw: dict[str, Any]) -> None:
        head_container(raw)["ports"] = [{"name": "metrics", "containerPort": 9999}]

    assert ray(head_pod(own))["ports"] == [{"name": "metrics", "containerPort": 9999}]


# --- autoscaler v2/v1 (§2.6) -----------------------------------------------------------------------------------


def version_option(value: str | None) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        autoscaling(raw)
        if value is not None:
            raw["spec"]["autoscalerOptions"] = {"version": value}

    return edit


def test_autoscaler_v2_sets_env_and_restart_policy_never_on_head_and_workers() -> None:
    head_result, worker_result = head_pod(version_option("v2")), worker_pod(version_option("v2"))
    assert env_of(ray(head_result))["RAY_enable_autoscaler_v2"]["value"] == "true"
    assert head_result["spec"]["restartPolicy"] == worker_result["spec"]["restartPolicy"] == "Never"
    assert "RAY_enable_autoscaler_v2" not in env_of(ray(worker_result))


def test_autoscaler_v1_sets_env_false_and_keeps_the_restart_policy() -> None:
    head_result = head_pod(version_option("v1"))
    assert env_of(ray(head_result))["RAY_enable_autoscaler_v2"]["value"] == "false"
    assert "restartPolicy" not in head_result["spec"]


def test_unset_autoscaler_version_sets_nothing() -> None:
    head_result = head_pod(version_option(None))
    assert "RAY_enable_autoscaler_v2" not in env_of(ray(head_result))
    assert "restartPolicy" not in head_result["spec"]


def test_v2_through_the_head_env_also_gets_restart_policy_never() -> None:
    def edit(raw: dict[str, Any]) -> None:
        autoscaling(raw)
        head_container(raw)["env"] = [{"name": "RAY_enable_autoscaler_v2", "value": "1"}]

    assert worker_pod(edit)["spec"]["restartPolicy"] == "Never"
    assert env_of(ray(head_pod(edit)))["RAY_enable_autoscaler_v2"]["value"] == "1"


def test_autoscaling_head_runs_no_monitor_and_the_autoscaler_service_account() -> None:
    pod = head_pod(autoscaling)
    assert " --no-monitor " in ray(pod)["args"][0]
    assert pod["spec"]["serviceAccountName"] == "demo"
    assert [c["name"] for c in pod["spec"]["containers"]] == ["ray-head", "autoscaler"]


def test_operator_sidecars_are_appended() -> None:
    config = replace(CONFIG, head_sidecar_containers=({"name": "log", "image": "fluent"},))
    assert [c["name"] for c in head_pod(config=config)["spec"]["containers"]] == ["ray-head", "log"]
    assert [c["name"] for c in worker_pod(config=config)["spec"]["containers"]] == ["ray-worker"]
