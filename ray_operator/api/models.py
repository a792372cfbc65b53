"""Pydantic v2 models of the RayCluster ``ray.io/v1`` API, field-compatible with KubeRay v1.

Why: every part of the operator (webhook, controller, builders, the CRD generator, the sandbox)
needs one typed view of a RayCluster. The models use KubeRay's camelCase names on the wire and
snake_case in Python, so any KubeRay manifest loads unchanged and the Ray autoscaler's patches
(``/spec/workerGroupSpecs/i/replicas``, ``.../scaleStrategy/workersToDelete``) keep working.

Decisions:

* **Lossless round trip.** ``RayCluster.model_validate(manifest).to_dict()`` returns the manifest
  unchanged: unknown fields (for example KubeRay's alpha-gated ``networkPolicy``, ``tlsOptions``,
  ``historyServerOptions`` or the RocksDB ``storage`` block) are kept as extras instead of being
  dropped, and only fields that were present are dumped (``exclude_unset``). The generated JSON
  schema still says nothing about extras (``additionalProperties`` is removed), so the CRD stays
  structural and the API server prunes what we do not model.
* **Embedded Kubernetes objects stay raw dicts** (pod templates, ``headService``, env vars,
  ``securityContext``, ``valueFrom``, ingress TLS). Re-modelling core/v1 here would duplicate
  Kubernetes' own schema and drift from it; the CRD generator substitutes the real Kubernetes
  OpenAPI definition named by each field's ``x-ray-operator-k8s-definition`` schema hint.
* **Strict scalars.** ``strict=True``: ``replicas: "3"`` or ``enableIngress: "yes"`` is a type
  error, as it is for the API server, instead of being silently coerced.
* **Schema constraints only where KubeRay's CRD has them** (enums, int32 formats, metav1.Condition's
  limits). Semantic rules (min ≤ max, negative replicas, version gates…) live in ``api.validation``
  so that they carry KubeRay's messages and are reported together with every other error.
* No unions of objects and no maps of mixed value types: the JSON schema must convert to a
  structural CRD schema without hand edits.

One file of about 680 lines on purpose, like KubeRay's ``raycluster_types.go``: it is the API's one
definition and reads top to bottom as the schema (spec, groups, options, status); nearly every model
is referenced from another, so split by area a reader would chase one field across files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ray_operator.api.constants import ClusterState

__all__ = [
    "AuthOptions",
    "AutoscalerOptions",
    "ClusterRollingUpdateOptions",
    "Condition",
    "GcsFaultToleranceOptions",
    "HeadGroupSpec",
    "HeadInfo",
    "IngressOptions",
    "RayCluster",
    "RayClusterSpec",
    "RayClusterStatus",
    "RayClusterUpgradeStrategy",
    "RedisCredential",
    "RollingUpdateOptions",
    "ScaleStrategy",
    "WorkerGroupSpec",
    "WorkerGroupStatus",
]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

K8S_DEFINITION_KEY = "x-ray-operator-k8s-definition"
"""Schema hint naming the Kubernetes OpenAPI definition an embedded raw-dict field holds."""


def _drop_additional_properties(schema: dict[str, Any]) -> None:
    """Keep ``extra="allow"`` out of the generated schema: extras are for round trips, not for the CRD."""
    schema.pop("additionalProperties", None)


def _check_int32(value: int) -> int:
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"must be a 32-bit integer (between {INT32_MIN} and {INT32_MAX})")
    return value


def _check_int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"must be a 64-bit integer (between {INT64_MIN} and {INT64_MAX})")
    return value


Int32 = Annotated[int, AfterValidator(_check_int32), Field(json_schema_extra={"format": "int32"})]
Int64 = Annotated[int, AfterValidator(_check_int64), Field(json_schema_extra={"format": "int64"})]

Quantity = Annotated[
    int | str,
    Field(
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "pattern": (
                r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
                r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
            ),
        }
    ),
]
"""A Kubernetes resource quantity (``"500m"``, ``"4Gi"``, ``8``), as in ``resource.Quantity``."""


def _k8s(definition: str) -> dict[str, Any]:
    return {K8S_DEFINITION_KEY: definition}


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
        strict=True,
        json_schema_extra=_drop_additional_properties,
    )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: camelCase keys, only the fields that were set, JSON-compatible values."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


# --- spec ------------------------------------------------------------------------------------


class RedisCredential(_Model):
    """A Redis username or password: a literal ``value`` or a ``valueFrom`` reference (a Secret key, usually)."""

    value: str | None = Field(
        default=None,
        description=(
            "The credential as plain text. Prefer valueFrom.secretKeyRef so that the secret does not "
            "live in the RayCluster object. Ignored when valueFrom is set."
        ),
    )
    value_from: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Where to read the credential from, exactly like a container env var's valueFrom "
            "(secretKeyRef, configMapKeyRef, fieldRef or resourceFieldRef). The operator passes it to the "
            "head's REDIS_USERNAME / REDIS_PASSWORD environment variable."
        ),
        json_schema_extra=_k8s("io.k8s.api.core.v1.EnvVarSource"),
    )


class GcsFaultToleranceOptions(_Model):
    """GCS fault tolerance: the head keeps cluster metadata in external Redis, so a restarted head recovers it."""

    backend: Literal["redis", "rocksdb"] | None = Field(
        default=None,
        description=(
            "Where GCS metadata is persisted. 'redis' (the behaviour when unset): an external Redis at "
            "redisAddress. 'rocksdb' (embedded storage on a PersistentVolume) is an alpha KubeRay feature "
            "that this operator does not support. Immutable once set."
        ),
    )
    redis_address: str | None = Field(
        default=None,
        description=(
            "Address of the external Redis, as host:port (for example 'redis:6379') or a URI "
            "('redis://redis:6379', 'rediss://...' for TLS). Exported to the head as RAY_REDIS_ADDRESS. "
            "Required for the redis backend."
        ),
    )
    redis_username: RedisCredential | None = Field(
        default=None,
        description=(
            "Redis username (Redis 6 ACLs). Exported to the head as REDIS_USERNAME and passed to "
            "'ray start --redis-username'. Set it here, never in rayStartParams or container env."
        ),
    )
    redis_password: RedisCredential | None = Field(
        default=None,
        description=(
            "Redis password. Exported to the head as REDIS_PASSWORD and passed to 'ray start "
            "--redis-password'. Set it here, never in rayStartParams or container env."
        ),
    )
    external_storage_namespace: str | None = Field(
        default=None,
        description=(
            "Key prefix of this cluster's data in Redis. Defaults to the RayCluster's UID, so a re-created "
            "cluster starts empty; set it to make a new cluster adopt an old cluster's GCS data. Exported "
            "as RAY_external_storage_namespace and the head pod annotation ray.io/external-storage-namespace."
        ),
    )


IntOrPercent = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]
"""A count of pods or a percentage of the group's desired pods (``1``, ``"25%"``), as in ``intstr.IntOrString``."""


class RollingUpdateOptions(_Model):
    """How fast a RollingUpdate replaces a worker group's pods."""

    max_surge: IntOrPercent | None = Field(
        default=None,
        description=(
            "How many new-revision pods may exist above the group's desired count while old ones are "
            "replaced: a number or a percentage of the desired pods (rounded up). Default 1. maxSurge and "
            "maxUnavailable cannot both be 0."
        ),
    )
    max_unavailable: IntOrPercent | None = Field(
        default=None,
        description=(
            "How many of the group's desired pods may be not Ready during the rollout: a number or a "
            "percentage of the desired pods (rounded down). Default 0: an old pod is deleted only once a "
            "new one is Ready, so capacity never drops."
        ),
    )


class ClusterRollingUpdateOptions(RollingUpdateOptions):
    """RollingUpdate settings of the whole cluster (worker groups may override maxSurge/maxUnavailable)."""

    progress_deadline_seconds: Int32 | None = Field(
        default=None,
        description=(
            "Seconds a new-revision pod may take to become Ready before the rollout of its group is reported "
            "stalled (condition RayClusterUpgrading, reason RolloutStalled, and a Warning event naming the "
            "pod). A stalled group deletes no further old pod until the pod is Ready or the template is "
            "reverted. Must be > 0. Default 600."
        ),
    )


class RayClusterUpgradeStrategy(_Model):
    """How spec changes reach running pods."""

    type: Literal["Recreate", "RollingUpdate", "None"] | None = Field(
        default=None,
        description=(
            "'RollingUpdate' (this operator only; KubeRay's CRD refuses it): when a worker group's pod-relevant "
            "spec changes, replace its pods a few at a time, new-revision pods first and old ones deleted once "
            "the new ones are Ready (see rollingUpdate); the head is replaced last, alone when GCS fault "
            "tolerance is on, with the whole cluster (as Recreate) when it is off. "
            "'Recreate': whenever the pod-relevant spec changes (replica counts, workersToDelete, "
            "tolerations and schedulingGates excluded), delete every pod and create them again from the new "
            "spec. 'None' (the behaviour when unset): running pods are never replaced; only pods created "
            "later use the new spec. Not allowed on RayClusters created by a RayJob or RayService."
        ),
    )
    rolling_update: ClusterRollingUpdateOptions | None = Field(
        default=None,
        description=(
            "Settings of type RollingUpdate; defaulted to maxSurge 1 and maxUnavailable 0. Only allowed with "
            "type RollingUpdate."
        ),
    )


class AuthOptions(_Model):
    """Token authentication for the Ray dashboard, GCS and client endpoints."""

    mode: Literal["disabled", "token"] | None = Field(
        default=None,
        description=(
            "'token': Ray requires a bearer token on every request; the operator injects RAY_AUTH_MODE=token "
            "and RAY_AUTH_TOKEN into the Ray containers, the wait-gcs-ready init container and the autoscaler. "
            "Needs rayVersion >= 2.52.0. 'disabled': no authentication. Unset also leaves authentication off "
            "(admission warns); set the mode explicitly. KubeRay creates the token Secret even then, so "
            "manifests shared with KubeRay should say 'disabled'."
        ),
    )
    secret_name: str | None = Field(
        default=None,
        description=(
            "Name of an existing Secret in the cluster's namespace whose key 'auth_token' holds the token. "
            "When unset (and enableK8sTokenAuth is off) the operator generates a Secret named after the "
            "cluster with a random 32-byte token. Not allowed together with enableK8sTokenAuth."
        ),
    )
    enable_k8s_token_auth: bool | None = Field(
        default=None,
        alias="enableK8sTokenAuth",
        description=(
            "Delegate token checks to the Kubernetes API server: Ray accepts Kubernetes ServiceAccount "
            "tokens (which need the custom RBAC verb 'ray:write'). Sets RAY_ENABLE_K8S_TOKEN_AUTH=true and "
            "mounts a projected token. Needs mode 'token' and rayVersion >= 2.55.0. Default false."
        ),
    )


class AutoscalerOptions(_Model):
    """Overrides for the Ray autoscaler sidecar (used only when enableInTreeAutoscaling is true)."""

    resources: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Resource requests and limits of the autoscaler container (a core/v1 ResourceRequirements). "
            "Default: 500m CPU and 512Mi memory, requests equal to limits."
        ),
        json_schema_extra=_k8s("io.k8s.api.core.v1.ResourceRequirements"),
    )
    image: str | None = Field(
        default=None,
        description="Autoscaler container image. Default: the image of the head's Ray container (containers[0]).",
    )
    image_pull_policy: Literal["Always", "Never", "IfNotPresent"] | None = Field(
        default=None,
        description="Pull policy of the autoscaler image: Always, Never or IfNotPresent (the default).",
    )
    security_context: dict[str, Any] | None = Field(
        default=None,
        description="securityContext of the autoscaler container (a core/v1 SecurityContext). Default: none.",
        json_schema_extra=_k8s("io.k8s.api.core.v1.SecurityContext"),
    )
    idle_timeout_seconds: Int32 | None = Field(
        default=None,
        description=(
            "Seconds a worker pod may stay idle (no Ray tasks or actors) before the autoscaler removes it. "
            "Read by the Ray autoscaler, not the operator. Default 60. Must be >= 0."
        ),
    )
    upscaling_mode: Literal["Default", "Aggressive", "Conservative"] | None = Field(
        default=None,
        description=(
            "How fast the autoscaler adds pods. 'Default' and its alias 'Aggressive': no rate limit. "
            "'Conservative': pending worker pods are limited to the current cluster size. Read by the Ray "
            "autoscaler."
        ),
    )
    version: Literal["v1", "v2"] | None = Field(
        default=None,
        description=(
            "Autoscaler generation. 'v2' also sets RAY_enable_autoscaler_v2=true on the head and "
            "restartPolicy Never on Ray pods; 'v1' sets it to false. Unset: the Ray version decides (v2 is "
            "the default from Ray 2.47.0). Do not combine with a RAY_enable_autoscaler_v2 env var on the head."
        ),
    )
    env: list[dict[str, Any]] | None = Field(
        default=None,
        description=(
            "Extra environment variables of the autoscaler container (core/v1 EnvVar), appended to the "
            "operator's. KUBERAY_GEN_AUTOSCALER_START_CMD is reserved."
        ),
        json_schema_extra=_k8s("io.k8s.api.core.v1.EnvVar"),
    )
    env_from: list[dict[str, Any]] | None = Field(
        default=None,
        description="Extra envFrom sources (core/v1 EnvFromSource) of the autoscaler container.",
        json_schema_extra=_k8s("io.k8s.api.core.v1.EnvFromSource"),
    )
    volume_mounts: list[dict[str, Any]] | None = Field(
        default=None,
        description=(
            "Extra volumeMounts (core/v1 VolumeMount) of the autoscaler container, for example for TLS "
            "certificates. The volumes themselves go into the head pod template."
        ),
        json_schema_extra=_k8s("io.k8s.api.core.v1.VolumeMount"),
    )
    command: list[str] | None = Field(
        default=None,
        description=(
            "Replaces the autoscaler container's command (default ['/bin/bash', '-c', '--']). The generated "
            "start command is available to it as $KUBERAY_GEN_AUTOSCALER_START_CMD."
        ),
    )
    args: list[str] | None = Field(
        default=None,
        description=(
            "Replaces the autoscaler container's args (default: 'ray kuberay-autoscaler --cluster-name "
            "$(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)')."
        ),
    )


class IngressOptions(_Model):
    """Shape of the dashboard Ingress created when headGroupSpec.enableIngress is true."""

    host: str | None = Field(
        default=None,
        description="Host name the Ingress rule matches. Default: any host.",
    )
    path: str | None = Field(
        default=None,
        description="HTTP path routed to the dashboard. Default '/'.",
    )
    path_type: Literal["Exact", "Prefix", "ImplementationSpecific"] | None = Field(
        default=None,
        description="How path is matched: Exact, Prefix (the default) or ImplementationSpecific.",
    )
    tls: list[dict[str, Any]] | None = Field(
        default=None,
        description="TLS termination of the Ingress (networking/v1 IngressTLS: hosts and secretName). Default none.",
        json_schema_extra=_k8s("io.k8s.api.networking.v1.IngressTLS"),
    )


_RAY_START_PARAMS_DESCRIPTION = (
    "Flags of 'ray start', without the leading dashes: for example {'num-cpus': '4', 'object-store-memory': "
    "'1000000000'}. Every value is a string; 'true' renders a bare flag and 'false' drops it. The operator "
    "fills in what is missing (address or dashboard-host, metrics-export-port 8080, "
    "dashboard-agent-listen-port 52365, block, and num-cpus / memory / num-gpus from the Ray container's "
    "resource limits). Do not put 'labels' here (use labels), nor num-cpus, num-gpus, memory or resources "
    "together with the group-level resources field. Default {}."
)

_GROUP_RESOURCES_DESCRIPTION = (
    "Ray logical resources of every node in this group, as quantities: 'CPU', 'GPU' and 'memory' become "
    "--num-cpus, --num-gpus and --memory, any other key goes into --resources (for example "
    "{'CPU': '0'} keeps tasks off the head). Overrides what the operator derives from container limits; "
    "does not change the pod's Kubernetes resources. Cannot be combined with num-cpus, num-gpus, memory or "
    "resources in rayStartParams."
)

_GROUP_LABELS_DESCRIPTION = (
    "Ray node labels of every node in this group (rendered as 'ray start --labels k=v,...'), also added "
    "to the pods' Kubernetes labels. Keys and values must be valid Kubernetes label keys and values. "
    "Use this instead of a 'labels' entry in rayStartParams."
)


class HeadGroupSpec(_Model):
    """The head pod: runs the GCS, the dashboard and (with autoscaling) the autoscaler sidecar."""

    template: dict[str, Any] = Field(
        description=(
            "Pod template of the head (a core/v1 PodTemplateSpec). The Ray container must be "
            "spec.containers[0]; the operator adds the 'ray start --head' command, environment, ports, "
            "probes and the /dev/shm volume to it. Required."
        ),
        json_schema_extra=_k8s("io.k8s.api.core.v1.PodTemplateSpec"),
    )
    ray_start_params: dict[str, str] | None = Field(default=None, description=_RAY_START_PARAMS_DESCRIPTION)
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] | None = Field(
        default=None,
        description=(
            "Type of the head Service '<cluster>-head-svc'. ClusterIP (the behaviour when unset) gives a "
            "headless Service; NodePort or LoadBalancer expose the dashboard, client and GCS ports outside "
            "the cluster. Also the default type of a custom headService and of the serve Service."
        ),
    )
    head_service: dict[str, Any] | None = Field(
        default=None,
        description=(
            "A complete core/v1 Service to use as the head Service instead of the generated one: its name, "
            "labels, annotations, type and extra ports are kept, its selector is replaced, and the Ray "
            "ports are appended. Created once; later edits are not applied to the live Service."
        ),
        json_schema_extra=_k8s("io.k8s.api.core.v1.Service"),
    )
    enable_ingress: bool | None = Field(
        default=None,
        description=(
            "Create an Ingress '<cluster>-head-ingress' to the dashboard (port 8265). Its class comes from "
            "the RayCluster annotation kubernetes.io/ingress.class. Default false."
        ),
    )
    ingress_options: IngressOptions | None = Field(
        default=None,
        description="Host, path, pathType and TLS of the dashboard Ingress (only used with enableIngress).",
    )
    resources: dict[str, str] | None = Field(default=None, description=_GROUP_RESOURCES_DESCRIPTION)
    labels: dict[str, str] | None = Field(default=None, description=_GROUP_LABELS_DESCRIPTION)


class ScaleStrategy(_Model):
    """Which worker pods to remove; written by the Ray autoscaler when it scales a group down."""

    workers_to_delete: list[str] | None = Field(
        default=None,
        description=(
            "Names of this group's worker pods to delete. Every listed pod is deleted on the next reconcile, "
            "whatever replicas says; lower replicas at the same time to keep the count down. The list is "
            "not cleared by the operator (the autoscaler clears it). Default empty."
        ),
    )


class WorkerGroupSpec(_Model):
    """A group of identical worker pods, scaled between minReplicas and maxReplicas."""

    group_name: str = Field(
        description=(
            "Name of the group, unique within the cluster. It becomes the ray.io/group label value and part "
            "of pod names, so it must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 "
            "characters). Required."
        ),
    )
    replicas: Int32 | None = Field(
        default=None,
        description=(
            "Desired number of replicas (pod sets of numOfHosts pods). The autoscaler writes it when "
            "autoscaling is on. Values outside [minReplicas, maxReplicas] are clamped into that range. "
            "Default 0."
        ),
    )
    min_replicas: Int32 | None = Field(
        default=None,
        description="Lowest number of replicas; the autoscaler never goes below it. Must be >= 0 and <= maxReplicas. "
        "Default 0.",
    )
    max_replicas: Int32 | None = Field(
        default=None,
        description="Highest number of replicas; the autoscaler never goes above it. Must be >= 0. Default "
        "2147483647 (no limit).",
    )
    num_of_hosts: Int32 | None = Field(
        default=None,
        description=(
            "Pods per replica, for multi-host workers such as TPU slices: the group runs replicas x numOfHosts "
            "pods, created and deleted one whole replica at a time. Default 1."
        ),
    )
    idle_timeout_seconds: Int32 | None = Field(
        default=None,
        description=(
            "Seconds an idle worker of this group may live before autoscaler v2 removes it; overrides "
            "autoscalerOptions.idleTimeoutSeconds for this group. Needs autoscaler v2. Must be >= 0."
        ),
    )
    priority: Int32 | None = Field(
        default=None,
        description=(
            "Preference of autoscaler v2 among groups that can satisfy the same demand: higher is scaled up "
            "first. A non-zero value needs autoscaler v2 and rayVersion >= 2.56.0. Default 0."
        ),
    )
    suspend: bool | None = Field(
        default=None,
        description=(
            "Delete every pod of this group and create none until it is false again. Used by RayJob's "
            "DeleteWorkers deletion strategy rather than set by hand; not allowed with autoscaling. "
            "Default false."
        ),
    )
    resources: dict[str, str] | None = Field(default=None, description=_GROUP_RESOURCES_DESCRIPTION)
    labels: dict[str, str] | None = Field(default=None, description=_GROUP_LABELS_DESCRIPTION)
    ray_start_params: dict[str, str] | None = Field(default=None, description=_RAY_START_PARAMS_DESCRIPTION)
    template: dict[str, Any] = Field(
        description=(
            "Pod template of the workers (a core/v1 PodTemplateSpec). The Ray container must be "
            "spec.containers[0]; the operator adds 'ray start', environment, probes, the wait-gcs-ready "
            "init container and the /dev/shm volume. Required."
        ),
        json_schema_extra=_k8s("io.k8s.api.core.v1.PodTemplateSpec"),
    )
    scale_strategy: ScaleStrategy | None = Field(
        default=None,
        description="Pods the autoscaler asks to remove. Defaulted to {} so that the autoscaler can patch it.",
    )
    rolling_update: RollingUpdateOptions | None = Field(
        default=None,
        description=(
            "This group's maxSurge and maxUnavailable, overriding spec.upgradeStrategy.rollingUpdate for it "
            "(a field left unset is inherited). Used only with upgradeStrategy type RollingUpdate; changing "
            "it replaces no pod."
        ),
    )


class RayClusterSpec(_Model):
    """Desired state of a Ray cluster: one head and any number of worker groups."""

    head_group_spec: HeadGroupSpec = Field(description="The head pod. Required.")
    worker_group_specs: list[WorkerGroupSpec] | None = Field(
        default=None,
        description="Worker groups; group names must be unique. Default none (a head-only cluster).",
    )
    ray_version: str | None = Field(
        default=None,
        description=(
            "Ray version of the images, for example '2.52.0'. Switches version-dependent behaviour: HTTP "
            "health probes from 2.53.0, authOptions need 2.52.0 (2.55.0 for enableK8sTokenAuth), group "
            "priority needs 2.56.0. Should match the image."
        ),
    )
    enable_in_tree_autoscaling: bool | None = Field(
        default=None,
        description=(
            "Run the Ray autoscaler as a sidecar of the head, with a ServiceAccount, Role and RoleBinding "
            "named after the cluster. The autoscaler then owns replicas and workersToDelete, and the "
            "operator never removes pods on its own to scale down. Default false."
        ),
    )
    autoscaler_options: AutoscalerOptions | None = Field(
        default=None, description="Settings of the autoscaler sidecar (only used with enableInTreeAutoscaling)."
    )
    head_service_annotations: dict[str, str] | None = Field(
        default=None,
        description=(
            "Annotations of the head Service; they win over headService.metadata.annotations. Applied when "
            "the Service is created only."
        ),
    )
    suspend: bool | None = Field(
        default=None,
        description=(
            "Delete all pods of the cluster and keep it without pods until set back to false. Suspension "
            "always completes once started, even if this is flipped back meanwhile. Default false."
        ),
    )
    managed_by: Literal["ray.io/kuberay-operator", "kueue.x-k8s.io/multikueue"] | None = Field(
        default=None,
        description=(
            "Which controller reconciles this cluster. Unset or 'ray.io/kuberay-operator': this operator. "
            "'kueue.x-k8s.io/multikueue': MultiKueue does, and this operator leaves the object alone. "
            "Immutable."
        ),
    )
    gcs_fault_tolerance_options: GcsFaultToleranceOptions | None = Field(
        default=None,
        description=(
            "Turn on GCS fault tolerance with an external Redis, so that the cluster survives a head pod "
            "restart. Replaces the deprecated ray.io/ft-enabled annotation (do not use both)."
        ),
    )
    upgrade_strategy: RayClusterUpgradeStrategy | None = Field(
        default=None,
        description=(
            "Whether spec changes replace running pods: a few at a time (RollingUpdate), all at once "
            "(Recreate), or never, affecting only new pods (None)."
        ),
    )
    auth_options: AuthOptions | None = Field(
        default=None, description="Token authentication of the Ray endpoints. Default: no authentication."
    )


# --- status ----------------------------------------------------------------------------------


class Condition(_Model):
    """A metav1.Condition: one aspect of the cluster's observed state."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        description=(
            "Condition type: HeadPodReady, RayClusterProvisioned, ReplicaFailure, RayClusterSuspending, "
            "RayClusterSuspended or RayClusterUpgrading."
        ),
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    observed_generation: Int64 | None = Field(
        default=None, ge=0, description="metadata.generation the condition was computed from."
    )
    last_transition_time: str = Field(
        json_schema_extra={"format": "date-time"},
        description="When status last changed (RFC 3339).",
    )
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="CamelCase machine-readable reason for the last transition.",
    )
    message: str = Field(max_length=32768, description="Human-readable details of the transition.")


class HeadInfo(_Model):
    """Where the head can be reached."""

    pod_ip: str | None = Field(default=None, alias="podIP", description="IP of the head pod.")
    service_ip: str | None = Field(
        default=None,
        alias="serviceIP",
        description="Cluster IP of the head Service; the head pod IP when the Service is headless (the default).",
    )
    pod_name: str | None = Field(default=None, description="Name of the head pod.")
    service_name: str | None = Field(default=None, description="Name of the head Service.")
    revision: str | None = Field(
        default=None, description="Template revision of the head pod (its ray.io/template-revision label)."
    )
    target_revision: str | None = Field(
        default=None, description="Template revision of the current headGroupSpec: what a new head pod gets."
    )


class WorkerGroupStatus(_Model):
    """Observed pods of one worker group and how far a rolling update has reached."""

    group_name: str = Field(description="The worker group's groupName.")
    replicas: Int32 | None = Field(default=None, description="Live pods of the group (not being deleted).")
    ready_replicas: Int32 | None = Field(default=None, description="Live pods of the group that are Running and Ready.")
    updated_replicas: Int32 | None = Field(
        default=None, description="Live pods of the group on targetRevision (ray.io/template-revision label)."
    )
    target_revision: str | None = Field(
        default=None,
        description=(
            "Template revision of the group's current spec (a hash of its template and rayStartParams and the "
            "cluster-wide settings workers use, without replica counts, workersToDelete, tolerations and "
            "schedulingGates)."
        ),
    )


class RayClusterStatus(_Model):
    """Observed state of the cluster, written by the operator through the status subresource."""

    state: ClusterState | None = Field(
        default=None,
        strict=False,  # the wire value "ready" must parse into ClusterState.READY
        description=(
            "Deprecated summary, kept for compatibility: 'ready' once every pod has been running and ready "
            "(never reset afterwards), 'suspended' after a suspension completes. Use conditions instead. "
            "'failed' and 'unhealthy' are legacy values that are never set."
        ),
    )
    reason: str | None = Field(default=None, description="Details of state; cleared when the state becomes ready.")
    state_transition_times: dict[str, str] | None = Field(
        default=None,
        description="When the cluster last entered each state (state -> RFC 3339 time).",
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description=(
            "Observed conditions, one per type: HeadPodReady, RayClusterProvisioned, ReplicaFailure, "
            "RayClusterSuspending, RayClusterSuspended, RayClusterUpgrading (True while a pod runs an old "
            "template revision under upgradeStrategy RollingUpdate)."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    ready_worker_replicas: Int32 | None = Field(default=None, description="Worker pods that are Running and Ready.")
    available_worker_replicas: Int32 | None = Field(default=None, description="Worker pods that are Running.")
    desired_worker_replicas: Int32 | None = Field(
        default=None,
        description=(
            "Worker pods wanted: the sum over groups of clamp(replicas, min, max) x numOfHosts (0 if suspended)."
        ),
    )
    min_worker_replicas: Int32 | None = Field(default=None, description="Sum over groups of minReplicas x numOfHosts.")
    max_worker_replicas: Int32 | None = Field(
        default=None, description="Sum over groups of maxReplicas x numOfHosts (saturates at 2147483647)."
    )
    desired_cpu: Quantity | None = Field(
        default=None, alias="desiredCPU", description="Total CPU requested by the head and all desired workers."
    )
    desired_memory: Quantity | None = Field(
        default=None, description="Total memory requested by the head and all desired workers."
    )
    desired_gpu: Quantity | None = Field(
        default=None, alias="desiredGPU", description="Total GPUs (every resource ending in 'gpu') of the cluster."
    )
    desired_tpu: Quantity | None = Field(
        default=None, alias="desiredTPU", description="Total google.com/tpu of the cluster."
    )
    endpoints: dict[str, str] | None = Field(
        default=None,
        description="Head Service ports by name (nodePort if set, else the target port), e.g. {dashboard: '8265'}.",
    )
    head: HeadInfo | None = Field(default=None, description="Addresses of the head pod and Service.")
    worker_groups: list[WorkerGroupStatus] | None = Field(
        default=None,
        description="One entry per worker group of the spec: its pod counts and template revision.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["groupName"]},
    )
    last_update_time: str | None = Field(
        default=None,
        json_schema_extra={"format": "date-time", "nullable": True},
        description="When the operator last computed this status (RFC 3339).",
    )
    observed_generation: Int64 | None = Field(
        default=None, description="metadata.generation of the spec this status was computed from."
    )


# --- the object ------------------------------------------------------------------------------


class RayCluster(_Model):
    """A Ray cluster: one head pod plus groups of worker pods, reconciled by the operator."""

    api_version: str = Field(default="ray.io/v1", description="ray.io/v1.")
    kind: str = Field(default="RayCluster", description="RayCluster.")
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Standard object metadata.",
        json_schema_extra=_k8s("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    )
    spec: RayClusterSpec = Field(description="Desired state of the cluster.")
    status: RayClusterStatus | None = Field(default=None, description="Observed state, written by the operator.")
