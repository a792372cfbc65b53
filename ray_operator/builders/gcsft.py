"""GCS fault tolerance with an external Redis: env, annotations, the finalizer and the cleanup Job (§2.11).

Why: with GCS FT the head keeps cluster metadata in Redis under a *storage namespace*, so a
restarted head recovers it and workers survive (they get 600 s instead of 60 s to reconnect). When
the RayCluster is deleted, that namespace must be removed from Redis, which is why a finalizer
holds the deletion until a cleanup Job has run. The rules, KubeRay's:

* enabled by ``spec.gcsFaultToleranceOptions`` or the legacy annotation ``ray.io/ft-enabled: "true"``
  (validation refuses both at once);
* storage namespace: ``externalStorageNamespace``, else the legacy annotation
  ``ray.io/external-storage-namespace``, else the cluster UID (a re-created cluster starts empty);
  written to the head annotation of the same name and to ``RAY_external_storage_namespace`` (if unset);
* head env ``RAY_REDIS_ADDRESS``, ``REDIS_USERNAME`` and ``REDIS_PASSWORD`` (value or valueFrom) from the
  options, with ``redis-username=$REDIS_USERNAME`` / ``redis-password=$REDIS_PASSWORD`` in ``ray start``;
  legacy style: a literal ``redis-password`` param is copied to ``REDIS_PASSWORD`` (if unset) so the
  cleanup Job can log in;
* every head pod carries ``ray.io/ft-enabled: "true"|"false"``;
* finalizer ``ray.io/gcs-ft-redis-cleanup-finalizer`` only for the Redis backend and when the operator's
  cleanup switch is on; deletion is forced after ``ray.io/gcs-ft-deletion-timeout`` seconds (a
  positive integer, else 300) so a failing Job cannot keep a cluster Terminating forever (§7.7).

The embedded RocksDB backend is alpha in KubeRay and refused by validation, so nothing here builds it.

The cleanup Job is built *from the head pod* (same image, env, volumes, service account), with only
the Ray container, a Python one-liner calling Ray's ``cleanup_redis_storage``, no probes, fixed
200m/256Mi, ``restartPolicy: Never``, ``backoffLimit: 0`` and ``activeDeadlineSeconds: 300``. The
head pod is an argument rather than built here so that this module and ``pods`` do not import each
other; pass ``pods.build_head_pod(...)``. Unlike KubeRay, the Job's pod template keeps only the head's
labels and annotations from its metadata (no generateName, no ownerReference to the RayCluster: the
Job owns its pods).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster, RedisCredential
from ray_operator.builders import envs
from ray_operator.builders.config import BuildConfig
from ray_operator.builders.names import check_label, cluster_ref, owner_reference
from ray_operator.builders.raystart import container_command
from ray_operator.builders.resources import fixed_resources

__all__ = [
    "apply_head_ft_env",
    "apply_worker_ft_env",
    "build_redis_cleanup_job",
    "deletion_timeout_seconds",
    "ft_enabled",
    "head_ft_annotations",
    "head_ft_start_params",
    "needs_redis_cleanup_finalizer",
    "redis_cleanup_job_finished",
    "redis_cleanup_job_name",
    "redis_ft_enabled",
    "storage_namespace",
]

_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def _annotations(cluster: RayCluster) -> Mapping[str, Any]:
    annotations = cluster.metadata.get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def ft_enabled(cluster: RayCluster) -> bool:
    legacy = _annotations(cluster).get(c.RAY_FT_ENABLED_ANNOTATION)
    return (
        isinstance(legacy, str) and legacy.lower() == "true"
    ) or cluster.spec.gcs_fault_tolerance_options is not None


def redis_ft_enabled(cluster: RayCluster) -> bool:
    """FT with the Redis backend (the only one supported; an unset backend means redis)."""
    options = cluster.spec.gcs_fault_tolerance_options
    return ft_enabled(cluster) and (options is None or options.backend in (None, "redis"))


def storage_namespace(cluster: RayCluster) -> str:
    options = cluster.spec.gcs_fault_tolerance_options
    if options is not None and options.external_storage_namespace:
        return options.external_storage_namespace
    legacy = _annotations(cluster).get(c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION)
    if isinstance(legacy, str):
        return legacy
    return cluster_ref(cluster).uid


def head_ft_annotations(cluster: RayCluster) -> dict[str, str]:
    """``ray.io/ft-enabled`` always, plus ``ray.io/external-storage-namespace`` with Redis FT."""
    result = {c.RAY_FT_ENABLED_ANNOTATION: "true" if ft_enabled(cluster) else "false"}
    if redis_ft_enabled(cluster):
        result[c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION] = storage_namespace(cluster)
    return result


def head_ft_start_params(cluster: RayCluster) -> dict[str, str]:
    """``ray start`` params the Redis options own: the credentials, read from the env vars set below."""
    options = cluster.spec.gcs_fault_tolerance_options
    if options is None or not redis_ft_enabled(cluster):
        return {}
    params: dict[str, str] = {}
    if options.redis_username is not None:
        params[c.PARAM_REDIS_USERNAME] = f"${c.ENV_REDIS_USERNAME}"
    if options.redis_password is not None:
        params[c.PARAM_REDIS_PASSWORD] = f"${c.ENV_REDIS_PASSWORD}"
    return params


def _credential_env(name: str, credential: RedisCredential) -> dict[str, Any]:
    # A literal value and a valueFrom together are invalid in a pod; valueFrom wins, as documented.
    if credential.value_from is not None:
        return {"name": name, "valueFrom": copy.deepcopy(credential.value_from)}
    return envs.value(name, credential.value or "")


def apply_head_ft_env(container: dict[str, Any], *, cluster: RayCluster, head_params: Mapping[str, str]) -> None:
    """Add the Redis FT env of the head's Ray container (``head_params``: the user's rayStartParams)."""
    if not redis_ft_enabled(cluster):
        return
    envs.add_if_unset(container, envs.value(c.ENV_RAY_EXTERNAL_STORAGE_NS, storage_namespace(cluster)))
    options = cluster.spec.gcs_fault_tolerance_options
    if options is not None:
        address = {"name": c.ENV_RAY_REDIS_ADDRESS}
        if options.redis_address:
            address["value"] = options.redis_address
        envs.set_owned(container, address)
        if options.redis_username is not None:
            envs.set_owned(container, _credential_env(c.ENV_REDIS_USERNAME, options.redis_username))
        if options.redis_password is not None:
            envs.set_owned(container, _credential_env(c.ENV_REDIS_PASSWORD, options.redis_password))
    elif c.PARAM_REDIS_PASSWORD in head_params:
        envs.add_if_unset(container, envs.value(c.ENV_REDIS_PASSWORD, head_params[c.PARAM_REDIS_PASSWORD]))


def apply_worker_ft_env(container: dict[str, Any], *, cluster: RayCluster) -> None:
    """Workers of an FT cluster wait 600 s (not Ray's 60 s) for a restarted GCS before giving up."""
    if ft_enabled(cluster):
        envs.add_if_unset(
            container,
            envs.value(c.ENV_RAY_GCS_RPC_SERVER_RECONNECT_TIMEOUT_S, c.DEFAULT_WORKER_GCS_RECONNECT_TIMEOUT_S),
        )


def needs_redis_cleanup_finalizer(*, cluster: RayCluster, config: BuildConfig) -> bool:
    """Whether the RayCluster must carry ``ray.io/gcs-ft-redis-cleanup-finalizer``."""
    return config.enable_gcs_ft_redis_cleanup and redis_ft_enabled(cluster)


def deletion_timeout_seconds(cluster: RayCluster) -> int:
    """Seconds after deletion starts when the finalizer is removed even without a finished cleanup Job."""
    raw = _annotations(cluster).get(c.RAY_GCS_FT_DELETION_TIMEOUT_ANNOTATION)
    if isinstance(raw, str) and _INT_RE.match(raw) and int(raw) > 0:  # Go's strconv.Atoi, then > 0
        return int(raw)
    return c.DEFAULT_GCS_FT_DELETION_TIMEOUT_SECONDS


def redis_cleanup_job_name(cluster: RayCluster) -> str:
    return check_label(f"{cluster_ref(cluster).name}{c.REDIS_CLEANUP_JOB_SUFFIX}")


def redis_cleanup_job_finished(job: Mapping[str, Any]) -> bool:
    """True once the Job is Complete or Failed, or FailureTarget (set well before Failed at the deadline)."""
    status = job.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for condition in conditions or ():
        if (
            isinstance(condition, Mapping)
            and condition.get("type") in ("Complete", "Failed", "FailureTarget")
            and condition.get("status") == "True"
        ):
            return True
    return False


def _cleanup_script(*, with_username: bool) -> str:
    username = "username=os.getenv('REDIS_USERNAME', parsed.username), " if with_username else ""
    python = (
        "import os, sys; "
        "from urllib.parse import urlparse; "
        "from ray._private.gcs_utils import cleanup_redis_storage; "
        "address = os.getenv('RAY_REDIS_ADDRESS', '').split(',')[0]; "
        "parsed = urlparse(address if '://' in address else 'redis://' + address); "
        "ok = cleanup_redis_storage(host=parsed.hostname, port=parsed.port, "
        f"{username}"
        "password=os.getenv('REDIS_PASSWORD', parsed.password or ''), "
        "use_ssl=parsed.scheme == 'rediss', "
        "storage_namespace=os.getenv('RAY_external_storage_namespace')); "
        "sys.exit(0 if ok else 1)"
    )
    notice = (
        "Deleting this RayCluster's GCS data from Redis. If this Job fails, delete the storage namespace in Redis "
        "by hand and remove the finalizer: https://docs.ray.io/en/master/cluster/kubernetes/user-guides/kuberay-gcs-ft.html"
    )
    return f'echo "{notice}" && python -c "{python}"'


def build_redis_cleanup_job(*, cluster: RayCluster, head_pod: Mapping[str, Any], config: BuildConfig) -> dict[str, Any]:
    """The Job that removes the cluster's storage namespace from Redis, built from ``head_pod``."""
    ref = cluster_ref(cluster)
    pod = copy.deepcopy(dict(head_pod))
    metadata = pod.get("metadata") or {}
    labels = dict(metadata.get("labels") or {})
    labels[c.RAY_NODE_TYPE_LABEL] = str(c.NodeType.REDIS_CLEANUP)
    annotations = dict(metadata.get("annotations") or {})
    spec = pod.get("spec") or {}
    ray = spec["containers"][c.RAY_CONTAINER_INDEX]
    spec["containers"] = [ray]
    init = [i for i in spec.get("initContainers") or () if i.get("name") != c.WAIT_FOR_TLS_IP_SAN_INIT_CONTAINER_NAME]
    if init:
        spec["initContainers"] = init
    else:
        spec.pop("initContainers", None)
    ray["command"] = container_command(login_shell=config.enable_login_shell)
    ray["args"] = [_cleanup_script(with_username=envs.has_env(ray, c.ENV_REDIS_USERNAME))]
    ray.pop("livenessProbe", None)
    ray.pop("readinessProbe", None)
    envs.env_list(ray).extend(
        [
            envs.value(c.ENV_RAY_REDIS_DB_CONNECT_RETRIES, c.REDIS_CLEANUP_CONNECT_RETRIES),
            envs.value(c.ENV_RAY_REDIS_DB_CONNECT_WAIT_MILLISECONDS, c.REDIS_CLEANUP_CONNECT_WAIT_MILLISECONDS),
        ]
    )
    # Constant work, and no GPU: fixed small resources, like the wait-gcs-ready init container.
    ray["resources"] = fixed_resources(c.REDIS_CLEANUP_CPU, c.REDIS_CLEANUP_MEMORY)
    spec["restartPolicy"] = "Never"  # a Job's pods may only use Never or OnFailure
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": redis_cleanup_job_name(cluster),
            "namespace": ref.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(ref)],
        },
        "spec": {
            "backoffLimit": c.REDIS_CLEANUP_JOB_BACKOFF_LIMIT,
            "activeDeadlineSeconds": c.REDIS_CLEANUP_JOB_ACTIVE_DEADLINE_SECONDS,
            "template": {"metadata": {"labels": dict(labels), "annotations": dict(annotations)}, "spec": spec},
        },
    }
