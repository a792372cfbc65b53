"""Every well-known string and number of the RayCluster API, in one module.

Label keys, annotation keys, ports, condition types and reasons, event reasons and environment
variable names carry KubeRay's exact values: the Ray autoscaler, Ray's dashboard, existing
dashboards/alerts and ``kubectl -l`` selectors written for KubeRay rely on them, so a different
spelling anywhere would break compatibility silently. Builders, the controller, the webhook, the
sandbox and the tests import them from here; no other module spells these strings.

Plain module-level ``Final`` constants (plus a few ``StrEnum`` for closed sets) rather than one big
class: call sites read ``constants.RAY_CLUSTER_LABEL`` and mypy checks each name. Values that are
operator *settings* (timeouts, feature switches) live in ``ray_operator/settings.py`` instead.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# --- API identity ---------------------------------------------------------------------------
GROUP: Final = "ray.io"
VERSION: Final = "v1"
API_VERSION: Final = "ray.io/v1"
KIND: Final = "RayCluster"
LIST_KIND: Final = "RayClusterList"
PLURAL: Final = "rayclusters"
SINGULAR: Final = "raycluster"
CATEGORIES: Final = ("all",)
CRD_NAME: Final = "rayclusters.ray.io"
VALIDATING_WEBHOOK_PATH: Final = "/validate-ray-io-v1-raycluster"
"""Path of KubeRay's validating webhook for RayCluster (kubebuilder's naming scheme)."""
MUTATING_WEBHOOK_PATH: Final = "/mutate-ray-io-v1-raycluster"
"""Path of our mutating (defaulting) webhook, following the same kubebuilder naming scheme."""

# --- labels on pods and other children ----------------------------------------------------------
RAY_CLUSTER_LABEL: Final = "ray.io/cluster"
RAY_NODE_TYPE_LABEL: Final = "ray.io/node-type"
RAY_GROUP_LABEL: Final = "ray.io/group"
RAY_IS_RAY_NODE_LABEL: Final = "ray.io/is-ray-node"
RAY_IDENTIFIER_LABEL: Final = "ray.io/identifier"
RAY_SERVE_LABEL: Final = "ray.io/serve"
RAY_HEADLESS_WORKER_SVC_LABEL: Final = "ray.io/headless-worker-svc"
RAY_ORIGINATED_FROM_CR_NAME_LABEL: Final = "ray.io/originated-from-cr-name"
RAY_ORIGINATED_FROM_CRD_LABEL: Final = "ray.io/originated-from-crd"
RAY_WORKER_GROUP_REPLICA_INDEX_LABEL: Final = "ray.io/worker-group-replica-index"
RAY_WORKER_GROUP_REPLICA_NAME_LABEL: Final = "ray.io/worker-group-replica-name"
RAY_REPLICA_HOST_INDEX_LABEL: Final = "ray.io/replica-host-index"
RAY_TEMPLATE_REVISION_LABEL: Final = "ray.io/template-revision"
"""Ours: the template revision a pod was built from (``builders.revisions``); RollingUpdate compares it."""
POD_DELETION_COST_ANNOTATION: Final = "controller.kubernetes.io/pod-deletion-cost"
"""Kubernetes' own hint (an int32, lower goes first): a RollingUpdate deletes low-cost old pods first."""
KUBERNETES_APP_NAME_LABEL: Final = "app.kubernetes.io/name"
KUBERNETES_CREATED_BY_LABEL: Final = "app.kubernetes.io/created-by"

# Batch-scheduler labels read from the RayCluster's own metadata.
RAY_GANG_SCHEDULING_ENABLED_LABEL: Final = "ray.io/gang-scheduling-enabled"
RAY_PRIORITY_CLASS_NAME_LABEL: Final = "ray.io/priority-class-name"
VOLCANO_QUEUE_LABEL: Final = "volcano.sh/queue-name"
YUNIKORN_APP_ID_LABEL: Final = "yunikorn.apache.org/app-id"
YUNIKORN_QUEUE_LABEL: Final = "yunikorn.apache.org/queue"
KAI_QUEUE_LABEL: Final = "kai.scheduler/queue"

# Label values.
IS_RAY_NODE_VALUE: Final = "yes"
HEAD_GROUP_LABEL_VALUE: Final = "headgroup"
"""Value of ``ray.io/group`` on the head pod."""
APPLICATION_NAME: Final = "kuberay"
"""Value of ``app.kubernetes.io/name`` (kept as KubeRay's, so existing selectors keep matching)."""
COMPONENT_NAME: Final = "kuberay-operator"
"""Value of ``app.kubernetes.io/created-by``."""
ORIGINATED_FROM_RAYCLUSTER: Final = "RayCluster"
ORIGINATED_FROM_RAYJOB: Final = "RayJob"
ORIGINATED_FROM_RAYSERVICE: Final = "RayService"


class NodeType(StrEnum):
    """Values of the ``ray.io/node-type`` label."""

    HEAD = "head"
    WORKER = "worker"
    REDIS_CLEANUP = "redis-cleanup"


# --- annotations ------------------------------------------------------------------------------
RAY_FT_ENABLED_ANNOTATION: Final = "ray.io/ft-enabled"
"""Legacy switch for GCS fault tolerance (deprecated in favour of ``spec.gcsFaultToleranceOptions``)."""
RAY_EXTERNAL_STORAGE_NS_ANNOTATION: Final = "ray.io/external-storage-namespace"
RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION: Final = "ray.io/overwrite-container-cmd"
RAY_ENABLE_SERVE_SERVICE_ANNOTATION: Final = "ray.io/enable-serve-service"
RAY_UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION: Final = "ray.io/upgrade-strategy-recreate-hash"
RAY_KUBERAY_VERSION_ANNOTATION: Final = "ray.io/kuberay-version"
RAY_GCS_FT_DELETION_TIMEOUT_ANNOTATION: Final = "ray.io/gcs-ft-deletion-timeout"
RAY_DISABLE_PROVISIONED_HEAD_RESTART_ANNOTATION: Final = "ray.io/disable-provisioned-head-restart"
RAY_HASH_WITHOUT_REPLICAS_ANNOTATION: Final = "ray.io/hash-without-replicas-and-workers-to-delete"
RAY_NUM_WORKER_GROUPS_ANNOTATION: Final = "ray.io/num-worker-groups"
INGRESS_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
TLS_ACME_ANNOTATION: Final = "kubernetes.io/tls-acme"
INGRESS_COMPANION_ANNOTATION_PREFIXES: Final = frozenset(
    {
        "cert-manager.io",
        "acme.cert-manager.io",
        "external-dns.alpha.kubernetes.io",
        "networking.gke.io",
        "konghq.com",
        "projectcontour.io",
        "haproxy.org",
    }
)
"""Annotation prefixes of ingress controllers and companions whose names lack the word "ingress".

RayCluster annotations with these prefixes (or with "ingress" in the key) are copied to the dashboard
Ingress; other annotations are not.
"""

DEFAULT_GCS_FT_DELETION_TIMEOUT_SECONDS: Final = 300

# --- finalizers -------------------------------------------------------------------------------
GCS_FT_REDIS_CLEANUP_FINALIZER: Final = "ray.io/gcs-ft-redis-cleanup-finalizer"

# --- managedBy ----------------------------------------------------------------------------------
MANAGED_BY_KUBERAY: Final = "ray.io/kuberay-operator"
"""The ``spec.managedBy`` value (or absence) that means "this operator reconciles the cluster"."""
MANAGED_BY_MULTIKUEUE: Final = "kueue.x-k8s.io/multikueue"
MANAGED_BY_VALUES: Final = (MANAGED_BY_KUBERAY, MANAGED_BY_MULTIKUEUE)

# --- ports and port names ---------------------------------------------------------------------
DEFAULT_GCS_SERVER_PORT: Final = 6379
"""The head's GCS port (``rayStartParams.port``); Ray still calls it the "redis" port."""
DEFAULT_CLIENT_PORT: Final = 10001
DEFAULT_DASHBOARD_PORT: Final = 8265
DEFAULT_METRICS_PORT: Final = 8080
DEFAULT_SERVING_PORT: Final = 8000
DEFAULT_DASHBOARD_AGENT_LISTEN_PORT: Final = 52365
DEFAULT_AUTOSCALER_METRICS_PORT: Final = 44217
DEFAULT_DASHBOARD_METRICS_PORT: Final = 44227

CLIENT_PORT_NAME: Final = "client"
GCS_SERVER_PORT_NAME: Final = "gcs-server"
REDIS_PORT_NAME: Final = "redis"
DASHBOARD_PORT_NAME: Final = "dashboard"
METRICS_PORT_NAME: Final = "metrics"
SERVING_PORT_NAME: Final = "serve"
DEFAULT_SERVICE_APP_PROTOCOL: Final = "tcp"
DEFAULT_DASHBOARD_HOST: Final = "0.0.0.0"
"""``dashboard-host`` of the head: the dashboard listens on every interface, not only localhost."""
LOCAL_HOST: Final = "127.0.0.1"
"""The head's own ``RAY_ADDRESS`` host."""

# --- names and limits -----------------------------------------------------------------------------
RAY_CONTAINER_INDEX: Final = 0
"""The Ray container is ``containers[0]`` of every head and worker template."""
MAX_RAYCLUSTER_NAME_LENGTH: Final = 53
"""63 (DNS label) minus ``len("-serve-svc")``: the longest child name must still be a valid label."""
MAX_POD_NAME_PREFIX_LENGTH: Final = 50
"""``generateName`` prefixes are truncated to this many characters (room for the 5-character suffix)."""
MAX_LABEL_VALUE_LENGTH: Final = 63
MAX_INT32: Final = 2147483647
DEFAULT_MAX_REPLICAS: Final = MAX_INT32
DEFAULT_NUM_OF_HOSTS: Final = 1
DEFAULT_CLUSTER_DOMAIN: Final = "cluster.local"

HEAD_SERVICE_SUFFIX: Final = "-head-svc"
SERVE_SERVICE_SUFFIX: Final = "-serve-svc"
HEADLESS_WORKER_SERVICE_SUFFIX: Final = "-headless"
HEAD_INGRESS_SUFFIX: Final = "-head-ingress"
HEAD_ROUTE_SUFFIX: Final = "-head-route"
REDIS_CLEANUP_JOB_SUFFIX: Final = "-redis-cleanup"
GCS_PVC_SUFFIX: Final = "-gcs-pvc"
HEAD_POD_NAME_SUFFIX: Final = "-head"
WORKER_POD_NAME_INFIX: Final = "-worker"

AUTOSCALER_CONTAINER_NAME: Final = "autoscaler"
WAIT_GCS_READY_INIT_CONTAINER_NAME: Final = "wait-gcs-ready"
SHARED_MEMORY_VOLUME_NAME: Final = "shared-mem"
SHARED_MEMORY_MOUNT_PATH: Final = "/dev/shm"
RAY_LOGS_VOLUME_NAME: Final = "ray-logs"
RAY_LOGS_MOUNT_PATH: Final = "/tmp/ray"
GCS_STORAGE_VOLUME_NAME: Final = "gcs-storage"
GCS_STORAGE_MOUNT_PATH: Final = "/data/gcs"
RAY_TLS_VOLUME_NAME: Final = "ray-tls"
RAY_TLS_MOUNT_PATH: Final = "/etc/ray/tls"
RAY_TOKEN_VOLUME_NAME: Final = "ray-token"
RAY_TOKEN_MOUNT_PATH: Final = "/var/run/secrets/ray.io/serviceaccount"
AUTH_TOKEN_SECRET_KEY: Final = "auth_token"
KUBERNETES_TROUBLESHOOTING_URL: Final = "https://docs.ray.io/en/master/cluster/kubernetes/troubleshooting.html"
"""Where the wait-gcs-ready init container points users whose workers wait for the head too long."""
WAIT_FOR_TLS_IP_SAN_INIT_CONTAINER_NAME: Final = "wait-for-tls-ip-san"
"""KubeRay's mTLS init container (alpha there, refused here); dropped from the Redis cleanup Job if present."""

# --- resources of containers the operator adds (requests = limits, for ResourceQuota and GKE Autopilot) --------
WAIT_GCS_READY_CPU: Final = "200m"
WAIT_GCS_READY_MEMORY: Final = "256Mi"
AUTOSCALER_DEFAULT_CPU: Final = "500m"
AUTOSCALER_DEFAULT_MEMORY: Final = "512Mi"
REDIS_CLEANUP_CPU: Final = "200m"
REDIS_CLEANUP_MEMORY: Final = "256Mi"

# --- the autoscaler sidecar --------------------------------------------------------------------------
AUTOSCALER_START_COMMAND: Final = (
    "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"
)
"""The autoscaler's args; the kubelet expands the ``$(VAR)`` references from the container's env."""
KUBERAY_CRD_VERSION: Final = "v1"
"""Value of ``KUBERAY_CRD_VER``: the RayCluster API version the autoscaler talks to."""

# --- accelerators derived from container limits into ``ray start --resources`` --------------------------
NEURON_CORE_CONTAINER_RESOURCE: Final = "aws.amazon.com/neuroncore"
NEURON_CORE_RAY_RESOURCE: Final = "neuron_cores"
TPU_CONTAINER_RESOURCE: Final = "google.com/tpu"
TPU_RAY_RESOURCE: Final = "TPU"

# --- rayStartParams keys the operator reads or writes ---------------------------------------------------
PARAM_PORT: Final = "port"
PARAM_ADDRESS: Final = "address"
PARAM_BLOCK: Final = "block"
PARAM_DASHBOARD_HOST: Final = "dashboard-host"
PARAM_DASHBOARD_PORT: Final = "dashboard-port"
PARAM_METRICS_EXPORT_PORT: Final = "metrics-export-port"
PARAM_DASHBOARD_AGENT_LISTEN_PORT: Final = "dashboard-agent-listen-port"
PARAM_NO_MONITOR: Final = "no-monitor"
PARAM_NUM_CPUS: Final = "num-cpus"
PARAM_NUM_GPUS: Final = "num-gpus"
PARAM_MEMORY: Final = "memory"
PARAM_RESOURCES: Final = "resources"
PARAM_LABELS: Final = "labels"
PARAM_REDIS_PASSWORD: Final = "redis-password"
PARAM_REDIS_USERNAME: Final = "redis-username"
PARAM_PLASMA_DIRECTORY: Final = "plasma-directory"
PARAM_AUTOSCALING_CONFIG: Final = "autoscaling-config"
PARAM_LOG_COLOR: Final = "log-color"
PARAM_INCLUDE_DASHBOARD: Final = "include-dashboard"
PARAM_INCLUDE_LOG_MONITOR: Final = "include-log-monitor"
"""``log-color``, ``include-dashboard`` and ``include-log-monitor`` take an explicit ``=false`` (others drop it)."""
DEFAULT_ULIMIT_OPEN_FILES: Final = 65536
"""Open-files limit of ``ray start`` unless the pod sets ``RAY_START_ULIMIT_OPEN_FILES``."""

# --- probes of the Ray container (KubeRay's numbers) ----------------------------------------------------
LIVENESS_PROBE_INITIAL_DELAY_SECONDS: Final = 30
READINESS_PROBE_INITIAL_DELAY_SECONDS: Final = 10
PROBE_TIMEOUT_SECONDS: Final = 2
HEAD_PROBE_TIMEOUT_SECONDS: Final = 5
"""The head's probes check two endpoints (raylet and GCS), so they get more time."""
PROBE_PERIOD_SECONDS: Final = 5
PROBE_SUCCESS_THRESHOLD: Final = 1
LIVENESS_PROBE_FAILURE_THRESHOLD: Final = 120
READINESS_PROBE_FAILURE_THRESHOLD: Final = 10
SERVE_READINESS_PROBE_FAILURE_THRESHOLD: Final = 1
GCS_HEALTH_CHECK_TIMEOUT_SECONDS: Final = 10
SERVE_PROXY_HEALTH_TIMEOUT_SECONDS: Final = 10
RAY_AGENT_RAYLET_HEALTH_PATH: Final = "api/local_raylet_healthz"
RAY_DASHBOARD_GCS_HEALTH_PATH: Final = "api/gcs_healthz"
RAY_SERVE_PROXY_HEALTH_PATH: Final = "-/healthz"
RAY_NODE_HEALTH_PATH: Final = "/api/healthz"
"""The single HTTP health endpoint of Ray >= 2.53 (dashboard agent port)."""

# --- status ------------------------------------------------------------------------------------------


class ClusterState(StrEnum):
    """Values of ``status.state`` (deprecated by KubeRay in favour of conditions).

    ``failed`` and ``unhealthy`` are legacy values that are never set; they stay so that old stored
    objects still load.
    """

    READY = "ready"
    SUSPENDED = "suspended"
    FAILED = "failed"
    UNHEALTHY = "unhealthy"


class ConditionType(StrEnum):
    """``status.conditions[].type`` values."""

    HEAD_POD_READY = "HeadPodReady"
    RAY_CLUSTER_PROVISIONED = "RayClusterProvisioned"
    REPLICA_FAILURE = "ReplicaFailure"
    RAY_CLUSTER_SUSPENDING = "RayClusterSuspending"
    RAY_CLUSTER_SUSPENDED = "RayClusterSuspended"
    RAY_CLUSTER_UPGRADING = "RayClusterUpgrading"
    """Ours: True while a pod runs an old template revision under upgradeStrategy RollingUpdate."""


class ConditionReason(StrEnum):
    """``status.conditions[].reason`` values the operator itself writes."""

    ALL_POD_RUNNING_AND_READY_FIRST_TIME = "AllPodRunningAndReadyFirstTime"
    RAY_CLUSTER_PODS_PROVISIONING = "RayClusterPodsProvisioning"
    HEAD_POD_NOT_FOUND = "HeadPodNotFound"
    HEAD_POD_RUNNING_AND_READY = "HeadPodRunningAndReady"
    UNKNOWN = "Unknown"
    RAY_CLUSTER_SUSPENDING = "RayClusterSuspending"
    RAY_CLUSTER_SUSPENDED = "RayClusterSuspended"
    FAILED_DELETE_ALL_PODS = "FailedDeleteAllPods"
    FAILED_DELETE_HEAD_POD = "FailedDeleteHeadPod"
    FAILED_CREATE_HEAD_POD = "FailedCreateHeadPod"
    FAILED_DELETE_WORKER_POD = "FailedDeleteWorkerPod"
    FAILED_CREATE_WORKER_POD = "FailedCreateWorkerPod"
    MULTIPLE_HEAD_PODS = "MultipleHeadPods"
    """Ours: more than one head pod exists (KubeRay fails the status computation instead)."""
    ROLLING_UPDATE_IN_PROGRESS = "RollingUpdateInProgress"
    """Ours (RayClusterUpgrading True): pods of an old revision remain; the message says which group, how far."""
    ROLLOUT_STALLED = "RolloutStalled"
    """Ours (RayClusterUpgrading True): a new pod was not Ready within progressDeadlineSeconds; it is named."""
    ALL_PODS_UPDATED = "AllPodsUpdated"
    """Ours (RayClusterUpgrading False): every pod runs its target revision."""


# Condition messages KubeRay writes verbatim.
HEAD_POD_NOT_FOUND_MESSAGE: Final = "Head Pod not found"
PODS_PROVISIONING_MESSAGE: Final = "RayCluster Pods are being provisioned for first time"
SUSPENDED_MESSAGE: Final = "RayCluster has been suspended"
PROVISIONED_MESSAGE: Final = "All Ray Pods are ready for the first time"
CONTAINERS_NOT_READY_REASON: Final = "ContainersNotReady"
"""The kubelet's PodReady reason that HeadPodReady replaces with the failing container's own reason."""


class EventReason(StrEnum):
    """Kubernetes Event reasons, exactly KubeRay's (``utils/constant.go``)."""

    # validation
    INVALID_RAYCLUSTER_METADATA = "InvalidRayClusterMetadata"
    INVALID_RAYCLUSTER_SPEC = "InvalidRayClusterSpec"
    INVALID_RAYCLUSTER_STATUS = "InvalidRayClusterStatus"
    # head pod
    CREATED_HEAD_POD = "CreatedHeadPod"
    FAILED_TO_CREATE_HEAD_POD = "FailedToCreateHeadPod"
    DELETED_HEAD_POD = "DeletedHeadPod"
    FAILED_TO_DELETE_HEAD_POD = "FailedToDeleteHeadPod"
    # worker pods
    CREATED_WORKER_POD = "CreatedWorkerPod"
    FAILED_TO_CREATE_WORKER_POD = "FailedToCreateWorkerPod"
    DELETED_WORKER_POD = "DeletedWorkerPod"
    FAILED_TO_DELETE_WORKER_POD = "FailedToDeleteWorkerPod"
    FAILED_TO_DELETE_WORKER_POD_COLLECTION = "FailedToDeleteWorkerPodCollection"
    # generic
    DELETED_POD = "DeletedPod"
    FAILED_TO_DELETE_POD_COLLECTION = "FailedToDeletePodCollection"
    # services
    CREATED_SERVICE = "CreatedService"
    FAILED_TO_CREATE_SERVICE = "FailedToCreateService"
    # ingress and route
    CREATED_INGRESS = "CreatedIngress"
    FAILED_TO_CREATE_INGRESS = "FailedToCreateIngress"
    UPDATED_INGRESS = "UpdatedIngress"
    FAILED_TO_UPDATE_INGRESS = "FailedToUpdateIngress"
    CREATED_ROUTE = "CreatedRoute"
    FAILED_TO_CREATE_ROUTE = "FailedToCreateRoute"
    # autoscaler RBAC
    CREATED_SERVICE_ACCOUNT = "CreatedServiceAccount"
    FAILED_TO_CREATE_SERVICE_ACCOUNT = "FailedToCreateServiceAccount"
    AUTOSCALER_SERVICE_ACCOUNT_NOT_FOUND = "AutoscalerServiceAccountNotFound"
    CREATED_ROLE = "CreatedRole"
    FAILED_TO_CREATE_ROLE = "FailedToCreateRole"
    CREATED_ROLE_BINDING = "CreatedRoleBinding"
    FAILED_TO_CREATE_ROLE_BINDING = "FailedToCreateRoleBinding"
    # GCS fault tolerance
    CREATED_REDIS_CLEANUP_JOB = "CreatedRedisCleanupJob"
    FAILED_TO_CREATE_REDIS_CLEANUP_JOB = "FailedToCreateRedisCleanupJob"
    FORCE_DELETED_STUCK_CLUSTER = "ForceDeletedStuckCluster"
    CREATED_PVC = "CreatedPVC"
    FAILED_TO_CREATE_PVC = "FailedToCreatePVC"
    # This operator's own reasons, for what it does and KubeRay does not (repairing and removing children,
    # the auth Secret, clamping replicas). KubeRay's reasons above keep their meaning.
    UPDATED_SERVICE = "UpdatedService"
    FAILED_TO_UPDATE_SERVICE = "FailedToUpdateService"
    DELETED_SERVICE = "DeletedService"
    DELETED_INGRESS = "DeletedIngress"
    UPDATED_ROLE = "UpdatedRole"
    UPDATED_ROLE_BINDING = "UpdatedRoleBinding"
    DELETED_ROLE_BINDING = "DeletedRoleBinding"
    FAILED_TO_UPDATE_RBAC = "FailedToUpdateRBAC"
    CREATED_SECRET = "CreatedSecret"
    FAILED_TO_CREATE_SECRET = "FailedToCreateSecret"
    REPLICAS_CLAMPED = "ReplicasClamped"
    UPDATED_POD_LABELS = "UpdatedPodLabels"
    ROLLOUT_STALLED = "RolloutStalled"
    """A RollingUpdate's new pod did not become Ready in time; the group's rollout stops (the note names the pod)."""
    REPLACEMENT_BACK_OFF = "ReplacementBackOff"
    """A head or worker group failed several times in a row; its next replacement waits (``controller.backoff``)."""
    RESTARTING_CLUSTER = "RestartingCluster"
    """RollingUpdate met a head change without GCS fault tolerance: every pod is recreated, as Recreate does."""


class EventAction(StrEnum):
    """The ``action`` recorded on events.k8s.io Events."""

    CREATE = "Create"
    DELETE = "Delete"
    UPDATE = "Update"
    VALIDATE = "Validate"
    RECONCILE = "Reconcile"
    CLEANUP = "Cleanup"
    SUSPEND = "Suspend"


EVENT_REPORTING_CONTROLLER: Final = "raycluster-controller"

# --- environment variables set in (or read from) Ray containers -------------------------------------------
ENV_RAY_CLUSTER_NAME: Final = "RAY_CLUSTER_NAME"
ENV_RAY_CLUSTER_NAMESPACE: Final = "RAY_CLUSTER_NAMESPACE"
ENV_RAY_CLOUD_INSTANCE_ID: Final = "RAY_CLOUD_INSTANCE_ID"
ENV_RAY_NODE_TYPE_NAME: Final = "RAY_NODE_TYPE_NAME"
ENV_RAY_HEAD_POD_NAME: Final = "RAY_HEAD_POD_NAME"
ENV_RAY_IP: Final = "RAY_IP"
ENV_FQ_RAY_IP: Final = "FQ_RAY_IP"
ENV_RAY_PORT: Final = "RAY_PORT"
ENV_RAY_ADDRESS: Final = "RAY_ADDRESS"
ENV_KUBERAY_GEN_RAY_START_CMD: Final = "KUBERAY_GEN_RAY_START_CMD"
ENV_KUBERAY_GEN_AUTOSCALER_START_CMD: Final = "KUBERAY_GEN_AUTOSCALER_START_CMD"
ENV_KUBERAY_CRD_VER: Final = "KUBERAY_CRD_VER"
ENV_RAY_USAGE_STATS_KUBERAY_IN_USE: Final = "RAY_USAGE_STATS_KUBERAY_IN_USE"
ENV_RAY_USAGE_STATS_EXTRA_TAGS: Final = "RAY_USAGE_STATS_EXTRA_TAGS"
ENV_RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE: Final = "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE"
ENV_RAY_ENABLE_AUTOSCALER_V2: Final = "RAY_enable_autoscaler_v2"
ENV_RAY_START_ULIMIT_OPEN_FILES: Final = "RAY_START_ULIMIT_OPEN_FILES"
# GCS fault tolerance
ENV_RAY_REDIS_ADDRESS: Final = "RAY_REDIS_ADDRESS"
ENV_REDIS_PASSWORD: Final = "REDIS_PASSWORD"
ENV_REDIS_USERNAME: Final = "REDIS_USERNAME"
ENV_RAY_EXTERNAL_STORAGE_NS: Final = "RAY_external_storage_namespace"
ENV_RAY_GCS_RPC_SERVER_RECONNECT_TIMEOUT_S: Final = "RAY_gcs_rpc_server_reconnect_timeout_s"
DEFAULT_WORKER_GCS_RECONNECT_TIMEOUT_S: Final = "600"
ENV_RAY_GCS_STORAGE: Final = "RAY_gcs_storage"
ENV_RAY_GCS_STORAGE_PATH: Final = "RAY_gcs_storage_path"
ENV_RAY_REDIS_DB_CONNECT_RETRIES: Final = "RAY_redis_db_connect_retries"
ENV_RAY_REDIS_DB_CONNECT_WAIT_MILLISECONDS: Final = "RAY_redis_db_connect_wait_milliseconds"
REDIS_CLEANUP_CONNECT_RETRIES: Final = "120"
REDIS_CLEANUP_CONNECT_WAIT_MILLISECONDS: Final = "500"
"""120 retries 500 ms apart: the cleanup Job keeps trying to reach Redis for at least a minute."""
REDIS_CLEANUP_JOB_ACTIVE_DEADLINE_SECONDS: Final = 300
REDIS_CLEANUP_JOB_BACKOFF_LIMIT: Final = 0
# RayService-created clusters
ENV_RAY_TIMEOUT_MS_TASK_WAIT_FOR_DEATH_INFO: Final = "RAY_timeout_ms_task_wait_for_death_info"
ENV_RAY_GCS_SERVER_REQUEST_TIMEOUT_SECONDS: Final = "RAY_gcs_server_request_timeout_seconds"
ENV_RAY_SERVE_KV_TIMEOUT_S: Final = "RAY_SERVE_KV_TIMEOUT_S"
RAYSERVICE_TIMEOUT_MS_TASK_WAIT_FOR_DEATH_INFO: Final = "0"
RAYSERVICE_GCS_SERVER_REQUEST_TIMEOUT_SECONDS: Final = "5"
RAYSERVICE_SERVE_KV_TIMEOUT_S: Final = "5"
# authentication and TLS
ENV_RAY_AUTH_MODE: Final = "RAY_AUTH_MODE"
ENV_RAY_AUTH_TOKEN: Final = "RAY_AUTH_TOKEN"
ENV_RAY_ENABLE_K8S_TOKEN_AUTH: Final = "RAY_ENABLE_K8S_TOKEN_AUTH"
ENV_RAY_USE_TLS: Final = "RAY_USE_TLS"
ENV_RAY_TLS_SERVER_CERT: Final = "RAY_TLS_SERVER_CERT"
ENV_RAY_TLS_SERVER_KEY: Final = "RAY_TLS_SERVER_KEY"
ENV_RAY_TLS_CA_CERT: Final = "RAY_TLS_CA_CERT"

# --- KubeRay operator environment switches (read by the controller; ours map to settings.py) ------------
ENV_ENABLE_INIT_CONTAINER_INJECTION: Final = "ENABLE_INIT_CONTAINER_INJECTION"
ENV_ENABLE_PROBES_INJECTION: Final = "ENABLE_PROBES_INJECTION"
ENV_ENABLE_RANDOM_POD_DELETE: Final = "ENABLE_RANDOM_POD_DELETE"
ENV_ENABLE_GCS_FT_REDIS_CLEANUP: Final = "ENABLE_GCS_FT_REDIS_CLEANUP"
ENV_ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE: Final = "ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE"
ENV_ENABLE_DETERMINISTIC_HEAD_POD_NAME: Final = "ENABLE_DETERMINISTIC_HEAD_POD_NAME"
ENV_ENABLE_LOGIN_SHELL: Final = "ENABLE_LOGIN_SHELL"
ENV_CLUSTER_DOMAIN: Final = "CLUSTER_DOMAIN"
ENV_USE_INGRESS_ON_OPENSHIFT: Final = "USE_INGRESS_ON_OPENSHIFT"
ENV_RAYCLUSTER_DEFAULT_REQUEUE_SECONDS: Final = "RAYCLUSTER_DEFAULT_REQUEUE_SECONDS_ENV"
ENV_ENABLE_WEBHOOKS: Final = "ENABLE_WEBHOOKS"

# --- Ray versions that switch behaviour ------------------------------------------------------------------
MIN_RAY_VERSION_HTTP_PROBES: Final = (2, 53, 0)
MIN_RAY_VERSION_TOKEN_AUTH: Final = (2, 52, 0)
MIN_RAY_VERSION_K8S_TOKEN_AUTH: Final = (2, 55, 0)
MIN_RAY_VERSION_GROUP_PRIORITY: Final = (2, 56, 0)
MIN_RAY_VERSION_AUTOSCALER_V2_DEFAULT: Final = (2, 47, 0)
