"""The RayCluster models load every KubeRay sample shape and give it back unchanged, with KubeRay's wire names."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from ray_operator.api import constants, models
from ray_operator.api.models import (
    K8S_DEFINITION_KEY,
    HeadGroupSpec,
    RayCluster,
    RayClusterSpec,
    ScaleStrategy,
    WorkerGroupSpec,
)

DATA = Path(__file__).parent / "data" / "raycluster"
SAMPLES = sorted(DATA.glob("*.yaml"))


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((DATA / f"{name}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 30


# Every RayCluster sample of reference kuberay-raycluster.md §6 -> the data file holding its shape. Samples
# that differ from another only in values the models do not look inside (pod template contents, label values)
# share that file.
KUBERAY_SAMPLE_SHAPES = {
    "ray-cluster.mini.yaml": "mini",
    "ray-cluster.heterogeneous.yaml": "heterogeneous",
    "ray-cluster.complete.yaml": "complete",
    "ray-cluster.sample.yaml": "sample",
    "ray-cluster.head-command.yaml": "head-command",
    "ray-cluster.overwrite-command.yaml": "overwrite-command",
    "ray-cluster.custom-head-service.yaml": "custom-head-service",
    "ray-cluster.autoscaler.yaml": "autoscaler",
    "ray-cluster.autoscaler-v2.yaml": "autoscaler-v2",
    "ray-cluster.autoscaler-v2-overwrite-cmd.yaml": "autoscaler-v2-overwrite-cmd",
    "ray-cluster-label-selector.yaml": "label-selector",
    "ray-cluster.external-redis.yaml": "external-redis",
    "ray-cluster.external-redis-uri.yaml": "external-redis-uri",
    "ray-cluster.persistent-redis.yaml": "external-redis",
    "ray-cluster.persistent-redis-sidecar.yaml": "persistent-redis-sidecar",
    "ray-cluster.deprecate-gcs-ft.yaml": "deprecate-gcs-ft",
    "ray-cluster.embedded-gcs-ft.yaml": "embedded-gcs-ft",
    "ray-cluster.auth.yaml": "auth",
    "ray-cluster.auth.secret-ref.yaml": "auth-secret-ref",
    "ray-cluster.auth-manual.yaml": "auth-manual",
    "ray-cluster.kubernetes.auth.yaml": "kubernetes-auth",
    "ray-cluster.kubernetes.auth-manual.yaml": "kubernetes-auth-manual",
    "ray-cluster.tls.yaml": "tls",
    "ray-cluster.mtls.yaml": "mtls",
    "ray-cluster.network-policy-deny-all.yaml": "network-policy-deny-all",
    "ray-cluster.separate-ingress.yaml": "separate-ingress",
    "ray-cluster.embed-grafana.yaml": "embed-grafana",
    "ray-cluster.fluentbit.yaml": "fluentbit",
    "ray-cluster.py-spy.yaml": "py-spy",
    "ray-cluster.historyserver.yaml": "historyserver",
    "ray-cluster.platform-events.yaml": "platform-events",
    "ray-cluster.volcano-scheduler.yaml": "volcano-scheduler",
    "ray-cluster.volcano-scheduler-queue.yaml": "volcano-scheduler",
    "ray-cluster.yunikorn-scheduler.yaml": "yunikorn-scheduler",
    "ray-cluster.scheduler-plugins.yaml": "scheduler-plugins",
    "ray-cluster.kai-scheduler.yaml": "kai-gpu-sharing",
    "ray-cluster.kai-gpu-sharing.yaml": "kai-gpu-sharing",
    "ray-cluster.tpu-v4-singlehost.yaml": "tpu-v4-multihost",
    "ray-cluster.tpu-v4-multihost.yaml": "tpu-v4-multihost",
    "ray-cluster.tpu-v6e-singlehost.yaml": "tpu-v4-multihost",
    "ray-cluster.tpu-v6e-16-multihost.yaml": "tpu-v6e-256-multihost",
    "ray-cluster.tpu-v6e-256-multihost.yaml": "tpu-v6e-256-multihost",
    "ray-cluster.verl.yaml": "verl",
    "ray-cluster.gke-bucket.yaml": "gke-bucket",
    "ray-cluster-resource-isolation.gke.yaml": "resource-isolation",
    "ray-cluster-resource-isolation-with-overrides.gke.yaml": "resource-isolation",
    "ray-cluster.uv.yaml": "uv",
    "ray-cluster.sandbox.yaml": "sandbox",
}


@pytest.mark.parametrize("sample", sorted(KUBERAY_SAMPLE_SHAPES))
def test_every_kuberay_sample_shape_has_a_round_trip_file(sample: str) -> None:
    path = DATA / f"{KUBERAY_SAMPLE_SHAPES[sample]}.yaml"
    assert path in SAMPLES, f"{sample}: add its shape as {path.name}"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_round_trips_without_losing_a_field(path: Path) -> None:
    manifest = yaml.safe_load(path.read_text())
    original = copy.deepcopy(manifest)
    cluster = RayCluster.model_validate(manifest)
    assert cluster.to_dict() == original
    assert cluster.model_dump(by_alias=True, exclude_unset=True, mode="json") == original
    assert manifest == original  # parsing does not mutate the input
    # and the dumped form parses again to an equal model
    assert RayCluster.model_validate(cluster.to_dict()) == cluster


# The json tags of KubeRay's Go types (ray-operator/apis/ray/v1/raycluster_types.go), minus alpha-gated fields.
KUBERAY_WIRE_NAMES: dict[type[pydantic.BaseModel], set[str]] = {
    models.RayClusterSpec: {
        "headGroupSpec", "workerGroupSpecs", "rayVersion", "enableInTreeAutoscaling", "autoscalerOptions",
        "headServiceAnnotations", "suspend", "managedBy", "gcsFaultToleranceOptions", "upgradeStrategy",
        "authOptions",
    },
    models.HeadGroupSpec: {
        "template", "rayStartParams", "serviceType", "headService", "enableIngress", "ingressOptions",
        "resources", "labels",
    },
    models.WorkerGroupSpec: {
        "groupName", "replicas", "minReplicas", "maxReplicas", "numOfHosts", "idleTimeoutSeconds", "priority",
        "suspend", "resources", "labels", "rayStartParams", "template", "scaleStrategy",
    },
    models.ScaleStrategy: {"workersToDelete"},
    models.AutoscalerOptions: {
        "resources", "image", "imagePullPolicy", "securityContext", "idleTimeoutSeconds", "upscalingMode",
        "version", "env", "envFrom", "volumeMounts", "command", "args",
    },
    models.IngressOptions: {"host", "path", "pathType", "tls"},
    models.GcsFaultToleranceOptions: {
        "backend", "redisAddress", "redisUsername", "redisPassword", "externalStorageNamespace",
    },
    models.RedisCredential: {"value", "valueFrom"},
    models.RayClusterUpgradeStrategy: {"type"},
    models.AuthOptions: {"mode", "secretName", "enableK8sTokenAuth"},
    models.RayClusterStatus: {
        "state", "reason", "stateTransitionTimes", "conditions", "readyWorkerReplicas", "availableWorkerReplicas",
        "desiredWorkerReplicas", "minWorkerReplicas", "maxWorkerReplicas", "desiredCPU", "desiredMemory",
        "desiredGPU", "desiredTPU", "endpoints", "head", "lastUpdateTime", "observedGeneration",
    },
    models.HeadInfo: {"podIP", "serviceIP", "podName", "serviceName"},
    models.Condition: {"type", "status", "observedGeneration", "lastTransitionTime", "reason", "message"},
    models.RayCluster: {"apiVersion", "kind", "metadata", "spec", "status"},
}  # fmt: skip
# This operator's additions (RollingUpdate, issue 10); KubeRay's CRD prunes or refuses them.
OUR_WIRE_NAMES: dict[type[pydantic.BaseModel], set[str]] = {
    models.WorkerGroupSpec: {"rollingUpdate"},
    models.RayClusterUpgradeStrategy: {"rollingUpdate"},
    models.RayClusterStatus: {"workerGroups"},
    models.HeadInfo: {"revision", "targetRevision"},
}


@pytest.mark.parametrize("model", list(KUBERAY_WIRE_NAMES), ids=lambda m: m.__name__)
def test_wire_names_are_kuberays(model: type[pydantic.BaseModel]) -> None:
    wanted = KUBERAY_WIRE_NAMES[model] | OUR_WIRE_NAMES.get(model, set())
    assert {info.alias for info in model.model_fields.values()} == wanted


def test_all_lists_every_public_model() -> None:
    public = {
        name
        for name, value in vars(models).items()
        if isinstance(value, type) and issubclass(value, models._Model) and not name.startswith("_")
    }
    assert set(models.__all__) == public


def test_python_names_are_snake_case_and_dump_camel_case() -> None:
    cluster = RayCluster(
        metadata={"name": "demo"},
        spec=RayClusterSpec(
            head_group_spec=HeadGroupSpec(template={"spec": {"containers": []}}, ray_start_params={}),
            worker_group_specs=[
                WorkerGroupSpec(
                    group_name="cpu",
                    template={},
                    min_replicas=0,
                    max_replicas=3,
                    scale_strategy=ScaleStrategy(workers_to_delete=["demo-cpu-worker-abcde"]),
                )
            ],
            enable_in_tree_autoscaling=True,
        ),
    )
    wire = cluster.to_dict()
    assert wire["spec"]["headGroupSpec"] == {"template": {"spec": {"containers": []}}, "rayStartParams": {}}
    assert wire["spec"]["workerGroupSpecs"][0]["scaleStrategy"] == {"workersToDelete": ["demo-cpu-worker-abcde"]}
    assert wire["spec"]["enableInTreeAutoscaling"] is True
    assert "status" not in wire


def test_wire_names_and_python_names_both_parse() -> None:
    by_alias = WorkerGroupSpec.model_validate({"groupName": "a", "template": {}, "minReplicas": 1})
    by_name = WorkerGroupSpec.model_validate({"group_name": "a", "template": {}, "min_replicas": 1})
    assert by_alias.min_replicas == by_name.min_replicas == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("replicas", "3"), ("replicas", 1.5), ("replicas", True), ("groupName", 7), ("suspend", "yes")],
)
def test_scalars_are_strict_like_the_api_server(field: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        WorkerGroupSpec.model_validate({"groupName": "a", "template": {}, field: value})


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1])
def test_int32_fields_refuse_out_of_range(value: int) -> None:
    with pytest.raises(pydantic.ValidationError, match="32-bit"):
        WorkerGroupSpec.model_validate({"groupName": "a", "template": {}, "maxReplicas": value})
    assert WorkerGroupSpec.model_validate({"groupName": "a", "template": {}, "maxReplicas": 2**31 - 1})


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"headGroupSpec": {"template": {}, "serviceType": "Headless"}}, "serviceType"),
        ({"headGroupSpec": {"template": {}}, "upgradeStrategy": {"type": "Rolling"}}, "type"),
        ({"headGroupSpec": {"template": {}}, "authOptions": {"mode": "password"}}, "mode"),
        ({"headGroupSpec": {"template": {}}, "managedBy": "someone-else"}, "managedBy"),
        ({"headGroupSpec": {"template": {}}, "autoscalerOptions": {"version": "v3"}}, "version"),
    ],
)
def test_enumerations_refuse_unknown_values(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        RayClusterSpec.model_validate(payload)
    assert info.value.errors()[0]["loc"][-1] == field


def test_unknown_fields_survive_but_are_not_in_the_schema() -> None:
    manifest = load("network-policy-deny-all")
    cluster = RayCluster.model_validate(manifest)
    assert cluster.spec.model_extra is not None and "networkPolicy" in cluster.spec.model_extra
    assert cluster.to_dict()["spec"]["networkPolicy"] == manifest["spec"]["networkPolicy"]
    schema = RayCluster.model_json_schema(by_alias=True)
    assert "additionalProperties" not in schema
    for definition in schema["$defs"].values():
        assert "additionalProperties" not in definition


def test_status_is_typed() -> None:
    cluster = RayCluster.model_validate(load("with-status"))
    assert cluster.status is not None
    assert cluster.status.state is constants.ClusterState.READY
    assert cluster.status.head is not None and cluster.status.head.pod_ip == "10.244.0.6"
    assert cluster.status.desired_cpu == "2"
    assert [cond.type for cond in cluster.status.conditions or []] == [
        constants.ConditionType.HEAD_POD_READY,
        constants.ConditionType.RAY_CLUSTER_PROVISIONED,
    ]


def test_condition_needs_the_metav1_fields() -> None:
    with pytest.raises(pydantic.ValidationError):
        models.Condition.model_validate({"type": "HeadPodReady", "status": "True"})
    with pytest.raises(pydantic.ValidationError):
        models.Condition.model_validate(
            {"type": "HeadPodReady", "status": "Maybe", "reason": "X", "message": "", "lastTransitionTime": "t"}
        )


def _walk_properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name, definition in schema.get("$defs", {}).items():
        for prop, body in definition.get("properties", {}).items():
            found.append((name, prop, body))
    for prop, body in schema.get("properties", {}).items():
        found.append((schema.get("title", "root"), prop, body))
    return found


def test_every_field_has_a_teaching_description() -> None:
    schema = RayCluster.model_json_schema(by_alias=True)
    for model_name, prop, body in _walk_properties(schema):
        description = body.get("description", "")
        assert len(description) >= 10, f"{model_name}.{prop} has no real description"
    for definition in schema["$defs"].values():
        assert definition.get("description"), definition.get("title")


def test_schema_carries_enums_and_int32_formats() -> None:
    schema = RayCluster.model_json_schema(by_alias=True)
    defs = schema["$defs"]

    def enum_of(model: str, prop: str) -> list[str]:
        body = defs[model]["properties"][prop]
        options = body.get("anyOf", [body])
        return next(option["enum"] for option in options if "enum" in option)

    assert enum_of("HeadGroupSpec", "serviceType") == ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
    assert enum_of("RayClusterUpgradeStrategy", "type") == ["Recreate", "RollingUpdate", "None"]
    assert enum_of("AuthOptions", "mode") == ["disabled", "token"]
    assert enum_of("AutoscalerOptions", "upscalingMode") == ["Default", "Aggressive", "Conservative"]
    assert enum_of("AutoscalerOptions", "version") == ["v1", "v2"]
    assert enum_of("IngressOptions", "pathType") == ["Exact", "Prefix", "ImplementationSpecific"]
    assert enum_of("GcsFaultToleranceOptions", "backend") == ["redis", "rocksdb"]
    assert enum_of("RayClusterSpec", "managedBy") == list(constants.MANAGED_BY_VALUES)
    replicas = defs["WorkerGroupSpec"]["properties"]["replicas"]["anyOf"][0]
    assert replicas == {"type": "integer", "format": "int32"}


def test_embedded_kubernetes_objects_name_their_definition() -> None:
    defs = RayCluster.model_json_schema(by_alias=True)["$defs"]
    assert defs["HeadGroupSpec"]["properties"]["template"][K8S_DEFINITION_KEY] == "io.k8s.api.core.v1.PodTemplateSpec"
    assert defs["WorkerGroupSpec"]["properties"]["template"][K8S_DEFINITION_KEY] == "io.k8s.api.core.v1.PodTemplateSpec"
    head_service = defs["HeadGroupSpec"]["properties"]["headService"]
    assert any(
        o.get(K8S_DEFINITION_KEY) == "io.k8s.api.core.v1.Service"
        for o in [head_service, *head_service.get("anyOf", [])]
    )


def test_constants_carry_kuberays_values() -> None:
    assert constants.RAY_CLUSTER_LABEL == "ray.io/cluster"
    assert constants.RAY_NODE_TYPE_LABEL == "ray.io/node-type"
    assert constants.RAY_GROUP_LABEL == "ray.io/group"
    assert constants.RAY_IDENTIFIER_LABEL == "ray.io/identifier"
    assert constants.RAY_IS_RAY_NODE_LABEL == "ray.io/is-ray-node"
    assert constants.KUBERNETES_CREATED_BY_LABEL == "app.kubernetes.io/created-by"
    assert constants.RAY_FT_ENABLED_ANNOTATION == "ray.io/ft-enabled"
    assert constants.GCS_FT_REDIS_CLEANUP_FINALIZER == "ray.io/gcs-ft-redis-cleanup-finalizer"
    assert (constants.DEFAULT_GCS_SERVER_PORT, constants.DEFAULT_DASHBOARD_PORT, constants.DEFAULT_CLIENT_PORT) == (
        6379,
        8265,
        10001,
    )
    assert 63 - len(constants.SERVE_SERVICE_SUFFIX) == constants.MAX_RAYCLUSTER_NAME_LENGTH
    assert constants.EventReason.INVALID_RAYCLUSTER_SPEC.value == "InvalidRayClusterSpec"
    assert constants.ConditionType.REPLICA_FAILURE.value == "ReplicaFailure"


def test_builders_can_pass_constants_enums() -> None:
    """Status builders construct models from the StrEnums in constants; strict mode must accept them."""
    status = models.RayClusterStatus(
        state=constants.ClusterState.READY,
        conditions=[
            models.Condition(
                type=constants.ConditionType.HEAD_POD_READY,
                status="True",
                last_transition_time="2026-01-01T00:00:00Z",
                reason=constants.ConditionReason.HEAD_POD_RUNNING_AND_READY,
                message="",
            )
        ],
    )
    assert status.to_dict() == {
        "state": "ready",
        "conditions": [
            {
                "type": "HeadPodReady",
                "status": "True",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "reason": "HeadPodRunningAndReady",
                "message": "",
            }
        ],
    }
