"""The ray start command (reference §2.3), rule by rule."""

from __future__ import annotations

from typing import Any

import pytest

from ray_operator.api import constants as c
from ray_operator.builders import pods, raystart
from tests.unit.builders.helpers import CONFIG, FQDN, cluster, head, head_container, worker, worker_container

HEAD = c.NodeType.HEAD
WORKER = c.NodeType.WORKER


def params(
    *,
    node_type: c.NodeType = WORKER,
    user: dict[str, str] | None = None,
    group_resources: dict[str, str] | None = None,
    group_labels: dict[str, str] | None = None,
    limits: dict[str, Any] | None = None,
    requests: dict[str, Any] | None = None,
    autoscaling: bool = False,
) -> dict[str, str]:
    resources: dict[str, Any] = {}
    if limits is not None:
        resources["limits"] = limits
    if requests is not None:
        resources["requests"] = requests
    return raystart.build_ray_start_params(
        node_type=node_type,
        params=user,
        group_resources=group_resources,
        group_labels=group_labels,
        worker_address="head:6379",
        autoscaling=autoscaling,
        forced={},
        ray_container={"resources": resources},
    )


# --- 1. group resources and labels ----------------------------------------------------------------


def test_group_cpu_memory_gpu_resources_become_integer_flags_rounded_up() -> None:
    result = params(group_resources={"CPU": "1500m", "Memory": "1Gi", "GPU": "1"})
    assert (result["num-cpus"], result["memory"], result["num-gpus"]) == ("2", "1073741824", "1")


def test_other_group_resources_go_into_the_resources_json() -> None:
    result = params(group_resources={"TPU": "4", "custom": "500m", "a<b": "1"})
    assert result["resources"] == """'{"TPU":4,"a\\u003cb":1,"custom":0.5}'"""


def test_group_resources_override_container_limits() -> None:
    assert params(group_resources={"CPU": "0"}, limits={"cpu": "4"})["num-cpus"] == "0"


def test_group_labels_become_sorted_labels_flag() -> None:
    assert params(group_labels={"zone": "b", "accel": "a100"})["labels"] == "accel=a100,zone=b"


# --- 2. defaults ------------------------------------------------------------------------------------


def test_worker_defaults_address_to_the_head_fqdn_and_port() -> None:
    assert params()["address"] == "head:6379"
    assert params(user={"address": "elsewhere:1"})["address"] == "elsewhere:1"


def test_head_defaults_dashboard_host_to_all_interfaces() -> None:
    assert params(node_type=HEAD)["dashboard-host"] == "0.0.0.0"
    assert "dashboard-host" not in params(node_type=WORKER)
    assert params(node_type=HEAD, user={"dashboard-host": "127.0.0.1"})["dashboard-host"] == "127.0.0.1"


def test_metrics_and_agent_ports_are_defaulted_but_not_overridden() -> None:
    result = params()
    assert (result["metrics-export-port"], result["dashboard-agent-listen-port"]) == ("8080", "52365")
    result = params(user={"metrics-export-port": "9000", "dashboard-agent-listen-port": "1234"})
    assert (result["metrics-export-port"], result["dashboard-agent-listen-port"]) == ("9000", "1234")


def test_block_is_always_forced() -> None:
    assert params(user={"block": "false"})["block"] == "true"


def test_autoscaling_head_gets_no_monitor() -> None:
    assert params(node_type=HEAD, autoscaling=True)["no-monitor"] == "true"
    assert "no-monitor" not in params(node_type=HEAD)
    assert "no-monitor" not in params(node_type=WORKER, autoscaling=True)


# --- 4. values from the container's resources ----------------------------------------------------------


def test_num_cpus_comes_from_the_cpu_limit_rounded_up() -> None:
    assert params(limits={"cpu": "500m"}, requests={"cpu": "4"})["num-cpus"] == "1"


def test_num_cpus_falls_back_to_the_request_without_a_limit() -> None:
    assert params(requests={"cpu": "3"})["num-cpus"] == "3"


def test_memory_comes_from_the_limit_only() -> None:
    assert params(limits={"memory": "1Gi"})["memory"] == "1073741824"
    assert "memory" not in params(requests={"memory": "1Gi"})


def test_user_num_cpus_and_memory_win() -> None:
    result = params(user={"num-cpus": "0", "memory": "5"}, limits={"cpu": "8", "memory": "8Gi"})
    assert (result["num-cpus"], result["memory"]) == ("0", "5")


def test_num_gpus_comes_from_the_first_gpu_limit_in_name_order() -> None:
    assert params(limits={"nvidia.com/gpu": "2", "amd.com/gpu": "1"})["num-gpus"] == "1"
    assert params(limits={"nvidia.com/mig-1g.5gb": "3"})["num-gpus"] == "3"
    assert "num-gpus" not in params(limits={"nvidia.com/gpu": "0"})


def test_first_accelerator_limit_is_merged_into_resources_under_its_ray_name() -> None:
    assert params(limits={"google.com/tpu": "4"})["resources"] == """'{"TPU":4}'"""
    merged = params(user={"resources": '{"custom": 2}'}, limits={"aws.amazon.com/neuroncore": "2"})
    assert merged["resources"] == """'{"custom":2,"neuron_cores":2}'"""


def test_accelerator_is_not_added_when_resources_already_names_one() -> None:
    result = params(user={"resources": "'{\"neuron_cores\": 1}'"}, limits={"google.com/tpu": "4"})
    assert result["resources"] == "'{\"neuron_cores\": 1}'"


def test_unparsable_resources_param_is_kept_and_gpus_still_derived() -> None:
    result = params(user={"resources": "not json"}, limits={"google.com/tpu": "4", "nvidia.com/gpu": "1"})
    assert (result["resources"], result["num-gpus"]) == ("not json", "1")


# --- 5. rendering ----------------------------------------------------------------------------------------


def test_flags_are_sorted_and_wrapped_in_spaces() -> None:
    assert raystart.render_flags({"b": "2", "a": "1"}) == " --a=1  --b=2 "


def test_true_renders_a_bare_flag_in_any_case() -> None:
    assert raystart.render_flags({"block": "true", "x": "True"}) == " --block  --x "


def test_false_drops_the_flag() -> None:
    assert raystart.render_flags({"include-webui": "false"}) == ""


@pytest.mark.parametrize("key", ["log-color", "include-dashboard", "include-log-monitor"])
def test_three_flags_render_an_explicit_false(key: str) -> None:
    assert raystart.render_flags({key: "false"}) == f" --{key}=false "


def test_head_and_worker_commands() -> None:
    assert raystart.ray_start_command(node_type=HEAD, params={"block": "true"}) == "ray start --head  --block "
    assert raystart.ray_start_command(node_type=WORKER, params={"block": "true"}) == "ray start  --block "


# --- 6. container command and args --------------------------------------------------------------------------


def test_full_head_command_of_the_base_cluster() -> None:
    ray = pods.build_head_pod(cluster=cluster(), config=CONFIG)["spec"]["containers"][0]
    assert ray["command"] == ["/bin/bash", "-c", "--"]
    assert ray["args"] == [
        "ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; "
        "ray start --head  --block  --dashboard-agent-listen-port=52365  --dashboard-host=0.0.0.0 "
        " --memory=2147483648  --metrics-export-port=8080  --num-cpus=1 "
    ]


def test_full_worker_command_of_the_base_cluster() -> None:
    pod = pods.build_worker_pod(cluster=cluster(), group_name="small", config=CONFIG, replica_index=0)
    assert pod["spec"]["containers"][0]["args"] == [
        "ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; "
        f"ray start  --address={FQDN}:6379  --block  --dashboard-agent-listen-port=52365 "
        " --memory=1073741824  --metrics-export-port=8080  --num-cpus=1 "
    ]


def test_user_command_and_args_run_before_ray_start() -> None:
    def edit(raw: dict[str, Any]) -> None:
        head_container(raw).update(command=["echo", "123"], args=["456"])

    ray = pods.build_head_pod(cluster=cluster(edit), config=CONFIG)["spec"]["containers"][0]
    assert ray["command"] == ["/bin/bash", "-c", "--"]
    assert ray["args"][0].startswith(" echo  123  456  && ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start")


def test_user_command_running_ray_start_is_left_untouched() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker_container(raw).update(command=["sh", "-c"], args=["ray start --address=x --block"])

    pod = pods.build_worker_pod(cluster=cluster(edit), group_name="small", config=CONFIG, replica_index=0)
    ray = pod["spec"]["containers"][0]
    assert (ray["command"], ray["args"]) == (["sh", "-c"], ["ray start --address=x --block"])


def test_overwrite_container_cmd_annotation_keeps_the_users_command_and_still_exports_the_generated_one() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["metadata"]["annotations"] = {"ray.io/overwrite-container-cmd": "True"}
        head_container(raw).update(command=["bash", "-c"], args=["echo hi; $KUBERAY_GEN_RAY_START_CMD"])

    pod = pods.build_head_pod(cluster=cluster(edit), config=CONFIG)
    ray = pod["spec"]["containers"][0]
    assert ray["args"] == ["echo hi; $KUBERAY_GEN_RAY_START_CMD"]
    generated = next(e for e in ray["env"] if e["name"] == "KUBERAY_GEN_RAY_START_CMD")["value"]
    assert generated.startswith("ray start --head ")
    assert pod["metadata"]["annotations"]["ray.io/overwrite-container-cmd"] == "true"


def test_login_shell_switch_uses_bash_cl() -> None:
    from dataclasses import replace

    ray = pods.build_head_pod(cluster=cluster(), config=replace(CONFIG, enable_login_shell=True))["spec"]["containers"][
        0
    ]
    assert ray["command"] == ["/bin/bash", "-cl", "--"]


# --- 7. head port ------------------------------------------------------------------------------------------------


def test_head_port_defaults_to_6379() -> None:
    assert raystart.head_port({}) == "6379"
    assert raystart.head_port(None) == "6379"


def test_custom_head_port_reaches_worker_address_and_env() -> None:
    def edit(raw: dict[str, Any]) -> None:
        head(raw)["rayStartParams"] = {"port": "6380"}

    built = cluster(edit)
    ray = pods.build_worker_pod(cluster=built, group_name="small", config=CONFIG, replica_index=0)["spec"][
        "containers"
    ][0]
    env = {e["name"]: e.get("value") for e in ray["env"]}
    assert f"--address={FQDN}:6380" in ray["args"][0]
    assert (env["RAY_PORT"], env["RAY_ADDRESS"]) == ("6380", f"{FQDN}:6380")
    head_env = {
        e["name"]: e.get("value")
        for e in pods.build_head_pod(cluster=built, config=CONFIG)["spec"]["containers"][0]["env"]
    }
    assert (head_env["RAY_PORT"], head_env["RAY_ADDRESS"]) == ("6380", "127.0.0.1:6380")


def test_group_resources_of_a_worker_group_reach_its_command() -> None:
    def edit(raw: dict[str, Any]) -> None:
        worker(raw)["resources"] = {"CPU": "2", "special": "1"}

    pod = pods.build_worker_pod(cluster=cluster(edit), group_name="small", config=CONFIG, replica_index=0)
    args = pod["spec"]["containers"][0]["args"][0]
    assert " --num-cpus=2 " in args
    assert """ --resources='{"special":1}' """ in args


def test_go_float_formatting_of_resource_amounts() -> None:
    assert params(group_resources={"a": "1", "b": "0.25", "c": "100n", "d": "1E"})["resources"] == (
        """'{"a":1,"b":0.25,"c":1e-7,"d":1000000000000000000}'"""
    )
