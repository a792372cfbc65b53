"""Head and worker pods of a RayCluster (reference §2.2, §2.6-§2.10).

Why: the pod is where every feature meets — the ``ray start`` command, env, probes, init container,
volumes, the autoscaler sidecar, GCS FT and auth — and the order in which KubeRay applies them is
visible in the result (env order, which value wins). ``build_head_pod`` and ``build_worker_pod``
apply them in KubeRay's order, from a deep copy of the template; the RayCluster model is never
mutated.

Metadata (§2.2): ``generateName`` ``<cluster>-head-`` / ``<cluster>-<group>-worker-`` (prefix cut to 50
characters and lowercased), or the exact name ``<cluster>-head`` with the deterministic-name switch;
a ``name`` in the template is dropped for both (KubeRay drops it for workers only; a fixed head name
from the template would block the replacement of a deleted head until it is gone). Labels: the
template's merged with the group's ``labels`` (group wins), under the operator's ``ray.io/is-ray-node``,
``ray.io/cluster``, ``ray.io/node-type``, ``ray.io/group``, ``ray.io/identifier`` and the two
``app.kubernetes.io`` labels, of which the user may override all but ``ray.io/cluster``,
``ray.io/node-type`` and ``ray.io/group`` (the operator finds its pods by them). Multi-host labels are
arguments of the worker builder (the reconciler picks free indices and the random replica name).

Env of the Ray container (§2.7), in order: the template's; autoscaler version (head); GCS FT (head:
Redis env; workers: the 600 s reconnect timeout); auth; the operator's ``default_container_env`` (if
unset); ``FQ_RAY_IP`` and ``RAY_IP`` (workers); ``RAY_CLUSTER_NAME``, ``RAY_CLUSTER_NAMESPACE``,
``RAY_CLOUD_INSTANCE_ID``, ``RAY_NODE_TYPE_NAME``, ``KUBERAY_GEN_RAY_START_CMD``; ``RAY_PORT`` (if
unset); RayService extras (if unset); ``RAY_ADDRESS`` (if unset: ``127.0.0.1:<port>`` on the head,
``<FQDN>:<port>`` on workers); ``RAY_USAGE_STATS_KUBERAY_IN_USE=1`` (if unset);
``RAY_USAGE_STATS_EXTRA_TAGS`` (head); ``RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE=1`` (if unset). Variables
the operator owns replace a same-named user entry instead of duplicating it (see ``envs``). Every
init container, the user's included, gets ``FQ_RAY_IP`` and ``RAY_IP`` too.

Volumes (§2.10): ``/dev/shm`` from an emptyDir ``shared-mem`` (medium Memory, size limit = the Ray
container's memory limit, else request) unless ``plasma-directory`` is set or something is already
mounted there; with the autoscaler, ``/tmp/ray`` shared by the Ray and autoscaler containers. Where
the Ray container already mounts ``/tmp/ray`` from some volume, the autoscaler mounts that same
volume (KubeRay mounts a volume named ``ray-logs``, which is a different, empty one unless the
user's volume happens to have that name — the autoscaler's event log would then never reach the head).

Autoscaler v2 (§2.6): ``restartPolicy: Never`` on head and workers whenever v2 is on — through
``autoscalerOptions.version: v2`` or the head env ``RAY_enable_autoscaler_v2`` (KubeRay only for the
option; validation promises users the operator sets it in both cases); ``RAY_enable_autoscaler_v2`` is
written only when the version option is set (``true`` for v2, ``false`` for v1).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import HeadGroupSpec, RayCluster, WorkerGroupSpec
from ray_operator.api.validation import autoscaler_v2_enabled
from ray_operator.builders import autoscaler, envs, gcsft, probes, raystart, revisions
from ray_operator.builders.auth import apply_auth, k8s_token_auth_enabled, ray_token_volume
from ray_operator.builders.config import BuildConfig
from ray_operator.builders.names import (
    ClusterRef,
    cluster_ref,
    head_fqdn,
    head_identifier,
    head_pod_name_prefix,
    owner_reference,
    ray_ip_from_fqdn,
    worker_identifier,
    worker_pod_name_prefix,
)
from ray_operator.builders.replicas import effective_num_of_hosts
from ray_operator.builders.resources import container_resources, fixed_resources

__all__ = [
    "PROTECTED_POD_LABELS",
    "build_head_pod",
    "build_worker_pod",
    "creator_kind",
    "find_worker_group",
    "head_pod_labels",
    "overwrite_container_cmd",
    "worker_pod_labels",
]

PROTECTED_POD_LABELS = frozenset(
    {c.RAY_CLUSTER_LABEL, c.RAY_NODE_TYPE_LABEL, c.RAY_GROUP_LABEL, c.RAY_TEMPLATE_REVISION_LABEL}
)
"""Labels a template or group cannot override: the operator selects its pods by them."""


# --- small readers of the cluster ------------------------------------------------------------------


def _annotation(cluster: RayCluster, key: str) -> str | None:
    annotations = cluster.metadata.get("annotations")
    value = annotations.get(key) if isinstance(annotations, Mapping) else None
    return value if isinstance(value, str) else None


def _cluster_label(cluster: RayCluster, key: str) -> str | None:
    labels = cluster.metadata.get("labels")
    value = labels.get(key) if isinstance(labels, Mapping) else None
    return value if isinstance(value, str) else None


def creator_kind(cluster: RayCluster) -> str:
    """Which CRD made this cluster (label ``ray.io/originated-from-crd``): RayCluster, RayJob or RayService."""
    value = _cluster_label(cluster, c.RAY_ORIGINATED_FROM_CRD_LABEL)
    if value in (c.ORIGINATED_FROM_RAYJOB, c.ORIGINATED_FROM_RAYSERVICE):
        return value
    return c.ORIGINATED_FROM_RAYCLUSTER


def overwrite_container_cmd(cluster: RayCluster) -> bool:
    """The RayCluster annotation ``ray.io/overwrite-container-cmd: "true"`` (any case)."""
    value = _annotation(cluster, c.RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION)
    return value is not None and value.lower() == "true"


def find_worker_group(cluster: RayCluster, group_name: str) -> WorkerGroupSpec:
    for group in cluster.spec.worker_group_specs or ():
        if group.group_name == group_name:
            return group
    raise KeyError(f"RayCluster has no worker group {group_name!r}")


def _template_labels(group: HeadGroupSpec | WorkerGroupSpec) -> dict[str, str]:
    metadata = group.template.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    merged = {k: v for k, v in (labels or {}).items() if isinstance(v, str)}
    merged.update(group.labels or {})
    return merged


def _pod_labels(
    *, cluster_name: str, node_type: c.NodeType, group_value: str, user: Mapping[str, str]
) -> dict[str, str]:
    labels = {
        c.RAY_IS_RAY_NODE_LABEL: c.IS_RAY_NODE_VALUE,
        c.RAY_CLUSTER_LABEL: cluster_name,
        c.RAY_NODE_TYPE_LABEL: str(node_type),
        c.RAY_GROUP_LABEL: group_value,
        c.RAY_IDENTIFIER_LABEL: (
            head_identifier(cluster_name) if node_type is c.NodeType.HEAD else worker_identifier(cluster_name)
        ),
        c.KUBERNETES_APP_NAME_LABEL: c.APPLICATION_NAME,
        c.KUBERNETES_CREATED_BY_LABEL: c.COMPONENT_NAME,
    }
    labels.update({k: v for k, v in user.items() if k not in PROTECTED_POD_LABELS})
    return labels


def head_pod_labels(cluster: RayCluster) -> dict[str, str]:
    """The operator and user labels of the head pod (no operator-wide defaults): the head Service selects on them."""
    head = cluster.spec.head_group_spec
    return _pod_labels(
        cluster_name=cluster_ref(cluster).name,
        node_type=c.NodeType.HEAD,
        group_value=c.HEAD_GROUP_LABEL_VALUE,
        user=_template_labels(head),
    )


def worker_pod_labels(cluster: RayCluster, group: WorkerGroupSpec) -> dict[str, str]:
    """The operator and user labels of a group's worker pods, without the multi-host index labels."""
    return _pod_labels(
        cluster_name=cluster_ref(cluster).name,
        node_type=c.NodeType.WORKER,
        group_value=group.group_name,
        user=_template_labels(group),
    )


# --- pieces of the pod spec ------------------------------------------------------------------------


def _template_parts(group: HeadGroupSpec | WorkerGroupSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deep copies of the template's metadata and spec; ValueError when there is no Ray container."""
    template = copy.deepcopy(group.template)
    metadata = template.get("metadata")
    spec = template.get("spec")
    metadata = metadata if isinstance(metadata, dict) else {}
    spec = spec if isinstance(spec, dict) else {}
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        raise ValueError("the pod template has no Ray container (spec.containers[0])")
    return metadata, spec


def _ensure_metrics_port(container: dict[str, Any]) -> None:
    ports = container.setdefault("ports", [])
    if not any(isinstance(p, Mapping) and p.get("name") == c.METRICS_PORT_NAME for p in ports):
        ports.append({"name": c.METRICS_PORT_NAME, "containerPort": c.DEFAULT_METRICS_PORT})


def _mount_at(container: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    for mount in container.get("volumeMounts") or ():
        if isinstance(mount, Mapping) and mount.get("mountPath") == path:
            return mount
    return None


def _has_volume(spec: Mapping[str, Any], name: str) -> bool:
    return any(isinstance(v, Mapping) and v.get("name") == name for v in spec.get("volumes") or ())


def _add_volume(spec: dict[str, Any], volume: dict[str, Any]) -> None:
    if not _has_volume(spec, volume["name"]):
        spec.setdefault("volumes", []).append(volume)


def _add_shared_memory(spec: dict[str, Any], ray: dict[str, Any], params: Mapping[str, str]) -> None:
    if c.PARAM_PLASMA_DIRECTORY in params or _mount_at(ray, c.SHARED_MEMORY_MOUNT_PATH) is not None:
        return
    empty_dir: dict[str, Any] = {"medium": "Memory"}
    memory = container_resources(ray, "limits").get("memory") or container_resources(ray, "requests").get("memory")
    if memory is not None:
        empty_dir["sizeLimit"] = str(memory)  # canonical, as the API server stores it
    _add_volume(spec, {"name": c.SHARED_MEMORY_VOLUME_NAME, "emptyDir": empty_dir})
    ray.setdefault("volumeMounts", []).append(
        {"mountPath": c.SHARED_MEMORY_MOUNT_PATH, "name": c.SHARED_MEMORY_VOLUME_NAME}
    )


def _share_ray_logs(spec: dict[str, Any], ray: dict[str, Any], sidecar: dict[str, Any]) -> None:
    existing = _mount_at(ray, c.RAY_LOGS_MOUNT_PATH)
    volume = existing.get("name") if existing is not None else None
    if not isinstance(volume, str):
        volume = c.RAY_LOGS_VOLUME_NAME
        _add_volume(spec, {"name": volume, "emptyDir": {}})
        ray.setdefault("volumeMounts", []).append({"mountPath": c.RAY_LOGS_MOUNT_PATH, "name": volume})
    if _mount_at(sidecar, c.RAY_LOGS_MOUNT_PATH) is None:
        sidecar.setdefault("volumeMounts", []).append({"mountPath": c.RAY_LOGS_MOUNT_PATH, "name": volume})


def _wait_gcs_ready(ray: Mapping[str, Any], *, address: str, config: BuildConfig) -> dict[str, Any]:
    """The worker's init container that blocks until the head's GCS answers (§2.9).

    It checks every 5 s; for the first 120 s it stays quiet (a head normally needs that long), then
    it prints ``ray health-check``'s errors and where to look. It copies the Ray container's image,
    pull policy, securityContext, env and volume mounts, because TLS settings live there.
    """
    quiet = f"ray health-check --address {address} > /dev/null 2>&1"
    loud = f"ray health-check --address {address}"
    script = "\n".join(
        [
            "SECONDS=0",
            "while true; do",
            "  if (( SECONDS <= 120 )); then",
            f"    if {quiet}; then echo 'GCS is ready.'; break; fi",
            f'    echo "$SECONDS s: waiting for the GCS at {address}."',
            "  else",
            f"    if {loud}; then echo 'GCS is ready (ignore the errors above).'; break; fi",
            f'    echo "$SECONDS s: still waiting for the GCS at {address}. See {c.KUBERNETES_TROUBLESHOOTING_URL}"',
            "  fi",
            "  sleep 5",
            "done",
        ]
    )
    init: dict[str, Any] = {
        "name": c.WAIT_GCS_READY_INIT_CONTAINER_NAME,
        "image": ray.get("image"),
        "command": raystart.container_command(login_shell=config.enable_login_shell),
        "args": [script],
        "resources": fixed_resources(c.WAIT_GCS_READY_CPU, c.WAIT_GCS_READY_MEMORY),
    }
    for key in ("imagePullPolicy", "securityContext", "env", "volumeMounts"):
        if ray.get(key) is not None:
            init[key] = copy.deepcopy(ray[key])
    return init


def _set_command(ray: dict[str, Any], *, generated: str, overwrite: bool, config: BuildConfig) -> None:
    wrapped = raystart.wrap_user_command(
        command=ray.get("command"),
        args=ray.get("args"),
        generated=generated,
        overwrite=overwrite,
        login_shell=config.enable_login_shell,
    )
    if wrapped is not None:
        ray["command"], ray["args"] = wrapped


def _set_ray_env(
    ray: dict[str, Any],
    *,
    node_type: c.NodeType,
    fqdn: str,
    port: str,
    generated: str,
    creator: str,
    config: BuildConfig,
) -> None:
    for entry in config.default_container_env:
        envs.add_if_unset(ray, copy.deepcopy(entry))
    head = node_type is c.NodeType.HEAD
    if not head:
        envs.set_owned(ray, envs.value(c.ENV_FQ_RAY_IP, fqdn))
        envs.set_owned(ray, envs.value(c.ENV_RAY_IP, ray_ip_from_fqdn(fqdn)))
    envs.set_owned(ray, envs.field_ref(c.ENV_RAY_CLUSTER_NAME, f"metadata.labels['{c.RAY_CLUSTER_LABEL}']"))
    envs.set_owned(ray, envs.field_ref(c.ENV_RAY_CLUSTER_NAMESPACE, "metadata.namespace"))
    # Autoscaler v2 maps Ray nodes to pods by these two (issues #1751, #1965).
    envs.set_owned(ray, envs.field_ref(c.ENV_RAY_CLOUD_INSTANCE_ID, "metadata.name"))
    envs.set_owned(ray, envs.field_ref(c.ENV_RAY_NODE_TYPE_NAME, f"metadata.labels['{c.RAY_GROUP_LABEL}']"))
    envs.set_owned(ray, envs.value(c.ENV_KUBERAY_GEN_RAY_START_CMD, generated))
    envs.add_if_unset(ray, envs.value(c.ENV_RAY_PORT, port))
    if creator == c.ORIGINATED_FROM_RAYSERVICE:
        envs.add_if_unset(
            ray,
            envs.value(c.ENV_RAY_TIMEOUT_MS_TASK_WAIT_FOR_DEATH_INFO, c.RAYSERVICE_TIMEOUT_MS_TASK_WAIT_FOR_DEATH_INFO),
        )
        envs.add_if_unset(
            ray,
            envs.value(c.ENV_RAY_GCS_SERVER_REQUEST_TIMEOUT_SECONDS, c.RAYSERVICE_GCS_SERVER_REQUEST_TIMEOUT_SECONDS),
        )
        envs.add_if_unset(ray, envs.value(c.ENV_RAY_SERVE_KV_TIMEOUT_S, c.RAYSERVICE_SERVE_KV_TIMEOUT_S))
    envs.add_if_unset(ray, envs.value(c.ENV_RAY_ADDRESS, f"{c.LOCAL_HOST if head else fqdn}:{port}"))
    envs.add_if_unset(ray, envs.value(c.ENV_RAY_USAGE_STATS_KUBERAY_IN_USE, "1"))
    if head:
        tags = f"kuberay_version={config.operator_version};kuberay_crd={creator}"
        envs.set_owned(ray, envs.value(c.ENV_RAY_USAGE_STATS_EXTRA_TAGS, tags))
    envs.add_if_unset(ray, envs.value(c.ENV_RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE, "1"))


def _finish_metadata(
    metadata: dict[str, Any],
    *,
    ref: ClusterRef,
    labels: dict[str, str],
    annotations: dict[str, str],
    config: BuildConfig,
    name: str | None,
    generate_name: str | None,
) -> dict[str, Any]:
    for key, value in config.default_pod_labels.items():
        labels.setdefault(key, value)
    for key, value in config.default_pod_annotations.items():
        annotations.setdefault(key, value)
    result: dict[str, Any] = {}  # a fixed key order keeps the built pods readable
    if name is not None:
        result["name"] = name
    if generate_name is not None:
        result["generateName"] = generate_name
    result["namespace"] = ref.namespace  # pods never leave the cluster's namespace
    result["labels"] = labels
    if annotations:
        result["annotations"] = annotations
    result["ownerReferences"] = [owner_reference(ref)]
    # Whatever else the template's metadata carries (finalizers, for example) is kept.
    skipped = {"name", "generateName", "namespace", "labels", "annotations", "ownerReferences"}
    result.update({key: value for key, value in metadata.items() if key not in skipped})
    return result


def _base_annotations(cluster: RayCluster, metadata: Mapping[str, Any]) -> dict[str, str]:
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if isinstance(v, str)}
    if overwrite_container_cmd(cluster):
        annotations[c.RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION] = "true"
    return annotations


def _overwrite_requested(annotations: Mapping[str, str]) -> bool:
    # Read from the pod's annotations, so a template that sets it alone also keeps its command.
    return annotations.get(c.RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION, "").lower() == "true"


def _autoscaler_version_env(ray: dict[str, Any], cluster: RayCluster) -> None:
    options = cluster.spec.autoscaler_options
    version = options.version if options is not None else None
    if version is not None:
        envs.set_owned(ray, envs.value(c.ENV_RAY_ENABLE_AUTOSCALER_V2, "true" if version == "v2" else "false"))


def _v2_restart_policy(spec: dict[str, Any], cluster: RayCluster) -> None:
    if autoscaler.autoscaling_enabled(cluster) and autoscaler_v2_enabled(cluster.spec.to_dict()):
        # A v2 autoscaler replaces a dead Ray node's pod; the kubelet must not restart it behind its back.
        spec["restartPolicy"] = "Never"


def _init_container_env(spec: dict[str, Any], fqdn: str) -> None:
    for init in spec.get("initContainers") or ():
        if isinstance(init, dict):
            envs.set_owned(init, envs.value(c.ENV_FQ_RAY_IP, fqdn))
            envs.set_owned(init, envs.value(c.ENV_RAY_IP, ray_ip_from_fqdn(fqdn)))


def _apply_auth_to_pod(spec: dict[str, Any], ray: dict[str, Any], cluster: RayCluster) -> None:
    apply_auth(ray, cluster=cluster)
    if k8s_token_auth_enabled(cluster):
        _add_volume(spec, ray_token_volume())
    for init in spec.get("initContainers") or ():
        if isinstance(init, dict) and init.get("name") == c.WAIT_GCS_READY_INIT_CONTAINER_NAME:
            apply_auth(init, cluster=cluster)


# --- the builders ------------------------------------------------------------------------------------


def build_head_pod(*, cluster: RayCluster, config: BuildConfig) -> dict[str, Any]:
    """The head pod to create, with the Recreate hash and operator version stamped on it."""
    ref = cluster_ref(cluster)
    head = cluster.spec.head_group_spec
    metadata, spec = _template_parts(head)
    containers: list[dict[str, Any]] = spec["containers"]
    ray = containers[c.RAY_CONTAINER_INDEX]
    fqdn = head_fqdn(cluster, namespace=ref.namespace, cluster_domain=config.cluster_domain)
    port = raystart.head_port(head.ray_start_params)
    creator = creator_kind(cluster)
    autoscaling = autoscaler.autoscaling_enabled(cluster)

    labels = head_pod_labels(cluster)
    labels[c.RAY_TEMPLATE_REVISION_LABEL] = revisions.head_pod_revision(cluster)  # not in the Service selector
    annotations = _base_annotations(cluster, metadata)
    params = raystart.build_ray_start_params(
        node_type=c.NodeType.HEAD,
        params=head.ray_start_params,
        group_resources=head.resources,
        group_labels=head.labels,
        worker_address=None,
        autoscaling=autoscaling,
        forced=gcsft.head_ft_start_params(cluster),
        ray_container=ray,
    )

    sidecar: dict[str, Any] | None = None
    if autoscaling:
        spec["serviceAccountName"] = autoscaler.autoscaler_service_account_name(cluster)
        sidecar = autoscaler.build_autoscaler_container(cluster=cluster, ray_image=ray.get("image"), config=config)
        containers.append(sidecar)
        _autoscaler_version_env(ray, cluster)
        _v2_restart_policy(spec, cluster)
    annotations.update(gcsft.head_ft_annotations(cluster))
    gcsft.apply_head_ft_env(ray, cluster=cluster, head_params=head.ray_start_params or {})
    _ensure_metrics_port(ray)
    _apply_auth_to_pod(spec, ray, cluster)
    containers.extend(copy.deepcopy(dict(extra)) for extra in config.head_sidecar_containers)
    if creator == c.ORIGINATED_FROM_RAYSERVICE:
        labels[c.RAY_SERVE_LABEL] = "false"  # the RayService controller flips it once Serve is up

    _add_shared_memory(spec, ray, params)
    if sidecar is not None:
        _share_ray_logs(spec, ray, sidecar)
    generated = raystart.ray_start_command(node_type=c.NodeType.HEAD, params=params)
    _set_command(ray, generated=generated, overwrite=_overwrite_requested(annotations), config=config)
    _init_container_env(spec, fqdn)
    _set_ray_env(
        ray, node_type=c.NodeType.HEAD, fqdn=fqdn, port=port, generated=generated, creator=creator, config=config
    )
    if config.enable_probes_injection:
        probes.with_probes(
            ray, node_type=c.NodeType.HEAD, params=params, ray_version=cluster.spec.ray_version, rayservice_worker=False
        )
    annotations[c.RAY_UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION] = revisions.cluster_revision(cluster)
    annotations[c.RAY_KUBERAY_VERSION_ANNOTATION] = config.operator_version

    prefix = head_pod_name_prefix(ref.name, deterministic=config.enable_deterministic_head_pod_name)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _finish_metadata(
            metadata,
            ref=ref,
            labels=labels,
            annotations=annotations,
            config=config,
            name=prefix if config.enable_deterministic_head_pod_name else None,
            generate_name=None if config.enable_deterministic_head_pod_name else prefix,
        ),
        "spec": spec,
    }


def build_worker_pod(
    *,
    cluster: RayCluster,
    group_name: str,
    config: BuildConfig,
    replica_index: int,
    replica_name: str | None = None,
    host_index: int | None = None,
) -> dict[str, Any]:
    """A worker pod of ``group_name`` (KeyError when the cluster has no such group).

    ``replica_index`` becomes ``ray.io/worker-group-replica-index`` (the reconciler picks the lowest
    free one). Groups with more than one host per replica also need ``replica_name``
    (``<group>-<5 random characters>``, shared by the replica's pods) and ``host_index`` (0 to
    numOfHosts-1); ValueError when they are missing.
    """
    ref = cluster_ref(cluster)
    group = find_worker_group(cluster, group_name)
    head = cluster.spec.head_group_spec
    metadata, spec = _template_parts(group)
    containers: list[dict[str, Any]] = spec["containers"]
    ray = containers[c.RAY_CONTAINER_INDEX]
    fqdn = head_fqdn(cluster, namespace=ref.namespace, cluster_domain=config.cluster_domain)
    port = raystart.head_port(head.ray_start_params)
    creator = creator_kind(cluster)

    if config.enable_init_container_injection:
        # Built before any operator env is added: it copies the user's env and mounts only.
        spec.setdefault("initContainers", []).append(_wait_gcs_ready(ray, address=f"{fqdn}:{port}", config=config))

    labels = worker_pod_labels(cluster, group)
    labels[c.RAY_WORKER_GROUP_REPLICA_INDEX_LABEL] = str(replica_index)
    labels[c.RAY_TEMPLATE_REVISION_LABEL] = revisions.worker_pod_revision(cluster, group_name)
    if effective_num_of_hosts(group) > 1:
        if replica_name is None or host_index is None:
            raise ValueError(
                f"worker group {group_name!r} has several hosts per replica: pass replica_name and host_index"
            )
        labels[c.RAY_WORKER_GROUP_REPLICA_NAME_LABEL] = replica_name
        labels[c.RAY_REPLICA_HOST_INDEX_LABEL] = str(host_index)
    params = raystart.build_ray_start_params(
        node_type=c.NodeType.WORKER,
        params=group.ray_start_params,
        group_resources=group.resources,
        group_labels=group.labels,
        worker_address=f"{fqdn}:{port}",
        autoscaling=False,
        forced={},
        ray_container=ray,
    )
    annotations = _base_annotations(cluster, metadata)
    gcsft.apply_worker_ft_env(ray, cluster=cluster)
    _ensure_metrics_port(ray)
    _v2_restart_policy(spec, cluster)
    _apply_auth_to_pod(spec, ray, cluster)
    containers.extend(copy.deepcopy(dict(extra)) for extra in config.worker_sidecar_containers)
    if creator == c.ORIGINATED_FROM_RAYSERVICE:
        labels[c.RAY_SERVE_LABEL] = "true"  # workers serve once their readiness probe passes

    _add_shared_memory(spec, ray, params)
    generated = raystart.ray_start_command(node_type=c.NodeType.WORKER, params=params)
    _set_command(ray, generated=generated, overwrite=_overwrite_requested(annotations), config=config)
    _init_container_env(spec, fqdn)
    _set_ray_env(
        ray, node_type=c.NodeType.WORKER, fqdn=fqdn, port=port, generated=generated, creator=creator, config=config
    )
    if config.enable_probes_injection:
        probes.with_probes(
            ray,
            node_type=c.NodeType.WORKER,
            params=params,
            ray_version=cluster.spec.ray_version,
            rayservice_worker=creator == c.ORIGINATED_FROM_RAYSERVICE,
        )

    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _finish_metadata(
            metadata,
            ref=ref,
            labels=labels,
            annotations=annotations,
            config=config,
            name=None,
            generate_name=worker_pod_name_prefix(ref.name, group.group_name),
        ),
        "spec": spec,
    }
