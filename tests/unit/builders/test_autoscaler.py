"""The autoscaler sidecar and its RBAC (reference §2.6)."""

from __future__ import annotations

from typing import Any

from ray_operator.builders import autoscaler, pods
from tests.unit.builders.helpers import CONFIG, UID, cluster, env_of, head

START = "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"
LABELS = {
    "ray.io/cluster": "demo",
    "app.kubernetes.io/name": "kuberay",
    "app.kubernetes.io/created-by": "kuberay-operator",
}
OWNER = [
    {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": "demo",
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }
]


def scaling(extra: dict[str, Any] | None = None, service_account: str | None = None) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        raw["spec"]["enableInTreeAutoscaling"] = True
        if extra is not None:
            raw["spec"]["autoscalerOptions"] = extra
        if service_account is not None:
            head(raw)["template"]["spec"]["serviceAccountName"] = service_account

    return cluster(edit)


def sidecar(built: Any) -> dict[str, Any]:
    result: dict[str, Any] = autoscaler.build_autoscaler_container(cluster=built, ray_image="ray:x", config=CONFIG)
    return result


def test_default_autoscaler_container() -> None:
    assert sidecar(scaling()) == {
        "name": "autoscaler",
        "image": "ray:x",
        "imagePullPolicy": "IfNotPresent",
        "env": [
            {"name": "RAY_CLUSTER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}}},
            {"name": "RAY_CLUSTER_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "RAY_HEAD_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "KUBERAY_CRD_VER", "value": "v1"},
            {"name": "KUBERAY_GEN_AUTOSCALER_START_CMD", "value": START},
        ],
        "command": ["/bin/bash", "-c", "--"],
        "args": [START],
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "512Mi"}},
    }


def test_head_pod_sidecar_uses_the_ray_image() -> None:
    pod = pods.build_head_pod(cluster=scaling(), config=CONFIG)
    assert pod["spec"]["containers"][1]["image"] == "rayproject/ray:2.52.0"


def test_options_replace_resources_image_policy_security_context_command_and_args() -> None:
    options = {
        "resources": {"limits": {"cpu": "1"}},
        "image": "custom:1",
        "imagePullPolicy": "Always",
        "securityContext": {"runAsNonRoot": True},
        "command": ["/bin/bash", "-lc", "--"],
        "args": ["echo hi; $KUBERAY_GEN_AUTOSCALER_START_CMD"],
    }
    result = sidecar(scaling(options))
    assert result["resources"] == {"limits": {"cpu": "1"}}
    assert (result["image"], result["imagePullPolicy"]) == ("custom:1", "Always")
    assert result["securityContext"] == {"runAsNonRoot": True}
    assert (result["command"], result["args"]) == (options["command"], options["args"])


def test_options_append_env_env_from_and_volume_mounts() -> None:
    options = {
        "env": [{"name": "EXTRA", "value": "1"}],
        "envFrom": [{"configMapRef": {"name": "cm"}}],
        "volumeMounts": [{"name": "tls", "mountPath": "/tls"}],
    }
    result = sidecar(scaling(options))
    assert result["env"][-1] == {"name": "EXTRA", "value": "1"}
    assert len(result["env"]) == 6
    assert result["envFrom"] == [{"configMapRef": {"name": "cm"}}]
    assert result["volumeMounts"] == [{"name": "tls", "mountPath": "/tls"}]


def test_empty_command_and_args_options_keep_the_defaults() -> None:
    result = sidecar(scaling({"command": [], "args": []}))
    assert (result["command"], result["args"]) == (["/bin/bash", "-c", "--"], [START])


def test_token_auth_env_goes_into_the_sidecar() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["spec"]["enableInTreeAutoscaling"] = True
        raw["spec"]["authOptions"] = {"mode": "token"}

    env = env_of(sidecar(cluster(edit)))
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "demo", "key": "auth_token"}}


def test_service_account_role_and_binding() -> None:
    built = scaling()
    assert autoscaler.build_autoscaler_service_account(built) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "demo", "namespace": "ray", "labels": LABELS, "ownerReferences": OWNER},
    }
    assert autoscaler.build_autoscaler_role(built) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "demo", "namespace": "ray", "labels": LABELS, "ownerReferences": OWNER},
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": [""], "resources": ["pods/resize"], "verbs": ["patch"]},
            {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get", "patch"]},
        ],
    }
    assert autoscaler.build_autoscaler_role_binding(built) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "demo", "namespace": "ray", "labels": LABELS, "ownerReferences": OWNER},
        "subjects": [{"kind": "ServiceAccount", "name": "demo", "namespace": "ray"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "demo"},
    }


def test_user_named_service_account_is_bound_but_not_created() -> None:
    built = scaling(service_account="my-sa")
    assert autoscaler.user_provided_service_account(built) == "my-sa"
    assert autoscaler.build_autoscaler_service_account(built) is None
    binding = autoscaler.build_autoscaler_role_binding(built)
    assert binding is not None and binding["subjects"][0]["name"] == "my-sa"
    assert pods.build_head_pod(cluster=built, config=CONFIG)["spec"]["serviceAccountName"] == "my-sa"


def test_long_service_account_name_goes_through_check_name() -> None:
    long_name = "1" + "s" * 59
    built = scaling(service_account=long_name)
    assert autoscaler.autoscaler_service_account_name(built) == "s" * 50  # the last 50 characters
    # The clipped name differs from the template's, so the operator creates it (KubeRay does the same).
    assert autoscaler.user_provided_service_account(built) is None


def test_nothing_without_autoscaling() -> None:
    built = cluster()
    assert autoscaler.build_autoscaler_service_account(built) is None
    assert autoscaler.build_autoscaler_role(built) is None
    assert autoscaler.build_autoscaler_role_binding(built) is None
