"""The Ray autoscaler sidecar and the RBAC it needs (reference §2.6).

Why: with ``enableInTreeAutoscaling: true`` the Ray autoscaler runs next to the head's Ray
container and patches ``workerGroupSpecs[].replicas`` and ``scaleStrategy.workersToDelete`` itself,
so it needs a ServiceAccount bound to a Role that can read and patch pods and RayClusters.

The container (KubeRay's): name ``autoscaler``, the head's Ray image, ``IfNotPresent``,
``/bin/bash -c --`` running ``ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME)
--cluster-namespace $(RAY_CLUSTER_NAMESPACE)``, env ``RAY_CLUSTER_NAME`` (from the pod's
``ray.io/cluster`` label), ``RAY_CLUSTER_NAMESPACE``, ``RAY_HEAD_POD_NAME``, ``KUBERAY_CRD_VER=v1`` and
``KUBERAY_GEN_AUTOSCALER_START_CMD`` (so custom args can still run the generated command), 500m/512Mi
with requests equal to limits, then the auth env when token auth is on. ``autoscalerOptions`` then
*replaces* resources, image, pull policy, securityContext, command and args (when given, non-empty
for command and args) and *appends* env, envFrom and volumeMounts.

RBAC: the ServiceAccount is the head template's ``serviceAccountName`` or ``<cluster>``, through
``check_name``; when the template names one, the user owns it and the operator must not create it
(a missing one is the user's to fix, KubeRay's ``AutoscalerServiceAccountNotFound``; issue #1123).
Role and RoleBinding are ``check_name(<cluster>)``. All three carry ``ray.io/cluster`` and the two
``app.kubernetes.io`` labels and a controller ownerReference. KubeRay creates them once and never
updates them; these builders give the desired objects and leave that choice to the reconciler.
"""

from __future__ import annotations

import copy
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders import envs
from ray_operator.builders.auth import apply_auth
from ray_operator.builders.config import BuildConfig
from ray_operator.builders.names import check_name, cluster_ref, owner_reference
from ray_operator.builders.raystart import container_command
from ray_operator.builders.resources import fixed_resources

__all__ = [
    "AUTOSCALER_ROLE_RULES",
    "autoscaler_service_account_name",
    "autoscaling_enabled",
    "build_autoscaler_container",
    "build_autoscaler_role",
    "build_autoscaler_role_binding",
    "build_autoscaler_service_account",
    "user_provided_service_account",
]

AUTOSCALER_ROLE_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["pods/resize"], "verbs": ["patch"]},
    {"apiGroups": [c.GROUP], "resources": [c.PLURAL], "verbs": ["get", "patch"]},
)
"""What the autoscaler does: watch and patch pods (including in-place resize) and get/patch its RayCluster."""


def autoscaling_enabled(cluster: RayCluster) -> bool:
    return cluster.spec.enable_in_tree_autoscaling is True


def _template_service_account(cluster: RayCluster) -> str | None:
    spec = cluster.spec.head_group_spec.template.get("spec")
    name = spec.get("serviceAccountName") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else None


def autoscaler_service_account_name(cluster: RayCluster) -> str:
    """The head pod's ServiceAccount with autoscaling: the template's, else ``<cluster>`` (through check_name)."""
    return check_name(_template_service_account(cluster) or cluster_ref(cluster).name)


def user_provided_service_account(cluster: RayCluster) -> str | None:
    """The ServiceAccount the user named for the head, which the operator must find rather than create."""
    name = _template_service_account(cluster)
    return name if name is not None and name == autoscaler_service_account_name(cluster) else None


def _rbac_metadata(cluster: RayCluster, name: str) -> dict[str, Any]:
    ref = cluster_ref(cluster)
    return {
        "name": name,
        "namespace": ref.namespace,
        "labels": {
            c.RAY_CLUSTER_LABEL: ref.name,
            c.KUBERNETES_APP_NAME_LABEL: c.APPLICATION_NAME,
            c.KUBERNETES_CREATED_BY_LABEL: c.COMPONENT_NAME,
        },
        "ownerReferences": [owner_reference(ref)],
    }


def build_autoscaler_service_account(cluster: RayCluster) -> dict[str, Any] | None:
    """The ServiceAccount to create, or None without autoscaling or when the user named their own."""
    if not autoscaling_enabled(cluster) or user_provided_service_account(cluster) is not None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _rbac_metadata(cluster, autoscaler_service_account_name(cluster)),
    }


def build_autoscaler_role(cluster: RayCluster) -> dict[str, Any] | None:
    if not autoscaling_enabled(cluster):
        return None
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _rbac_metadata(cluster, check_name(cluster_ref(cluster).name)),
        "rules": copy.deepcopy(list(AUTOSCALER_ROLE_RULES)),
    }


def build_autoscaler_role_binding(cluster: RayCluster) -> dict[str, Any] | None:
    if not autoscaling_enabled(cluster):
        return None
    ref = cluster_ref(cluster)
    name = check_name(ref.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _rbac_metadata(cluster, name),
        "subjects": [
            {"kind": "ServiceAccount", "name": autoscaler_service_account_name(cluster), "namespace": ref.namespace}
        ],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
    }


def build_autoscaler_container(*, cluster: RayCluster, ray_image: Any, config: BuildConfig) -> dict[str, Any]:
    """The ``autoscaler`` sidecar of the head pod, with ``autoscalerOptions`` applied."""
    container: dict[str, Any] = {
        "name": c.AUTOSCALER_CONTAINER_NAME,
        "image": ray_image,
        "imagePullPolicy": "IfNotPresent",
        "env": [
            envs.field_ref(c.ENV_RAY_CLUSTER_NAME, f"metadata.labels['{c.RAY_CLUSTER_LABEL}']"),
            envs.field_ref(c.ENV_RAY_CLUSTER_NAMESPACE, "metadata.namespace"),
            envs.field_ref(c.ENV_RAY_HEAD_POD_NAME, "metadata.name"),
            envs.value(c.ENV_KUBERAY_CRD_VER, c.KUBERAY_CRD_VERSION),
            envs.value(c.ENV_KUBERAY_GEN_AUTOSCALER_START_CMD, c.AUTOSCALER_START_COMMAND),
        ],
        "command": container_command(login_shell=config.enable_login_shell),
        "args": [c.AUTOSCALER_START_COMMAND],
        "resources": fixed_resources(c.AUTOSCALER_DEFAULT_CPU, c.AUTOSCALER_DEFAULT_MEMORY),
    }
    apply_auth(container, cluster=cluster)
    options = cluster.spec.autoscaler_options
    if options is None:
        return container
    if options.resources is not None:
        container["resources"] = copy.deepcopy(options.resources)
    if options.image is not None:
        container["image"] = options.image
    if options.image_pull_policy is not None:
        container["imagePullPolicy"] = options.image_pull_policy
    for key, extra in (("env", options.env), ("envFrom", options.env_from), ("volumeMounts", options.volume_mounts)):
        if extra:
            container.setdefault(key, []).extend(copy.deepcopy(extra))
    if options.security_context is not None:
        container["securityContext"] = copy.deepcopy(options.security_context)
    if options.command:
        container["command"] = list(options.command)
    if options.args:
        container["args"] = list(options.args)
    return container
