"""Rules of the head group and each worker group: templates, replicas, resources, labels, rayStartParams.

Why: most of what a user writes is a group, and most of KubeRay's checks (C5-C11) are per group. The
autoscaling rules of a group (C12, C13, C21) live with the other autoscaling rules in
``autoscaling.py``; the group-name rule with the other name rules in ``names.py``.

Decided against: validating the pod template beyond what the operator needs (containers with a name
and an image, the Ray container first): the API server validates pods when they are created.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.validation.accessors import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    containers_of,
    get_in,
    str_map,
)
from ray_operator.api.validation.autoscaling import check_group_autoscaling
from ray_operator.api.validation.errors import CauseType, Report
from ray_operator.api.validation.names import check_group_name
from ray_operator.apimachinery.names import (
    DNS1035_LABEL_MESSAGE,
    DNS1035_LABEL_RE,
    label_value_errors,
    qualified_name_errors,
)
from ray_operator.apimachinery.quantity import parse_quantity


def _check_template(path: str, template: Any, group: str, report: Report) -> None:
    """C5/C6 plus container names and images; warns when the Ray container does not look first."""
    if as_dict(template) is None:
        return  # missing or mistyped: reported by parsing
    containers_path = f"{path}.spec.containers"
    raw = get_in(template, "spec", "containers")
    if raw is not None and as_list(raw) is None:
        report.error(containers_path, CauseType.TYPE_INVALID, "containers must be of type array", raw)
        return
    containers = as_list(raw) or []
    if not containers:
        report.error(
            containers_path,
            CauseType.REQUIRED,
            f"{group} should have at least one container: add the Ray container as containers[0]",
        )
        return
    for index, container in enumerate(containers):
        cpath = f"{containers_path}[{index}]"
        if as_dict(container) is None:
            report.error(cpath, CauseType.TYPE_INVALID, "a container must be of type object", container)
            continue
        if not as_str(container.get("name")):
            report.error(f"{cpath}.name", CauseType.REQUIRED, "every container needs a name (a DNS-1123 label)")
        if not as_str(container.get("image")):
            report.error(
                f"{cpath}.image",
                CauseType.REQUIRED,
                "every container needs an image"
                + (", e.g. 'rayproject/ray:2.52.0' for the Ray container" if index == c.RAY_CONTAINER_INDEX else ""),
            )
    images = [str(get_in(item, "image") or "") for item in containers]
    first = images[c.RAY_CONTAINER_INDEX]
    if "ray" not in first.lower():
        for index, image in enumerate(images):
            if index != c.RAY_CONTAINER_INDEX and "ray" in image.lower():
                report.warn(
                    f"{containers_path}[{index}]",
                    f"this looks like the Ray container, but the operator runs 'ray start' in containers[0] "
                    f"({first or 'no image'}): move the Ray container first",
                )
                break


def _check_group_resources_and_labels(
    path: str, group: Mapping[str, Any], params: dict[str, str], report: Report
) -> None:
    resources = as_dict(group.get("resources"))
    if resources:
        for key in (c.PARAM_NUM_CPUS, c.PARAM_NUM_GPUS, c.PARAM_MEMORY, c.PARAM_RESOURCES):
            if params.get(key):
                report.error(
                    f"{path}.rayStartParams[{key}]",
                    CauseType.FORBIDDEN,
                    f"cannot be combined with {path}.resources: set Ray resources in only one place "
                    f"(remove '{key}' here or use only rayStartParams)",
                )
        for key, value in resources.items():
            if isinstance(value, str) and parse_quantity(value) is None:
                report.error(
                    f"{path}.resources[{key}]",
                    CauseType.INVALID,
                    "must be a quantity such as '1', '500m', '2Gi' or '0.5'",
                    value,
                )
    if c.PARAM_LABELS in params:
        report.error(
            f"{path}.rayStartParams[{c.PARAM_LABELS}]",
            CauseType.FORBIDDEN,
            f"set Ray node labels with {path}.labels instead of rayStartParams",
        )
    labels = as_dict(group.get("labels")) or {}
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        for problem in qualified_name_errors(key):
            report.error(f"{path}.labels", CauseType.INVALID, f"label keys must be valid: {problem}", key)
        if isinstance(value, str):
            for problem in label_value_errors(value):
                report.error(f"{path}.labels[{key}]", CauseType.INVALID, problem, value)


def check_worker_group(
    spec: Mapping[str, Any],
    index: int,
    group: Mapping[str, Any],
    *,
    cluster: str | None,
    autoscaling: bool,
    v2: bool,
    report: Report,
) -> None:
    """One worker group; ``autoscaling`` and ``v2`` are the cluster's, computed once for all groups."""
    path = f"spec.workerGroupSpecs[{index}]"
    name = group.get("groupName")
    label = as_str(name) or f"#{index}"
    check_group_name(f"{path}.groupName", name, report)
    _check_template(f"{path}.template", group.get("template"), f"worker group {label}", report)

    # C7-C9 and clamping.
    min_raw, max_raw = group.get("minReplicas"), group.get("maxReplicas")
    min_r, max_r, replicas = as_int(min_raw), as_int(max_raw), as_int(group.get("replicas"))
    if not autoscaling:
        for key, raw in (("minReplicas", min_raw), ("maxReplicas", max_raw)):
            if raw is None:
                report.error(
                    f"{path}.{key}",
                    CauseType.REQUIRED,
                    f"worker group {label} must set both minReplicas and maxReplicas when autoscaling is disabled",
                )
    if min_r is not None and min_r < 0:
        report.error(
            f"{path}.minReplicas",
            CauseType.INVALID,
            f"worker group {label} has negative minReplicas: use 0 or more",
            min_r,
        )
    if max_r is not None and max_r < 0:
        report.error(
            f"{path}.maxReplicas",
            CauseType.INVALID,
            f"worker group {label} has negative maxReplicas: use 0 or more",
            max_r,
        )
    if min_r is not None and max_r is not None and min_r >= 0 and max_r >= 0 and min_r > max_r:
        report.error(
            f"{path}.minReplicas",
            CauseType.INVALID,
            f"worker group {label} has minReplicas {min_r} greater than maxReplicas {max_r}: "
            "lower minReplicas or raise maxReplicas",
            min_r,
        )
    elif (
        replicas is not None
        and min_r is not None
        and max_r is not None
        and 0 <= min_r <= max_r
        and (replicas > max_r or (replicas < min_r and replicas != 0))
    ):
        effective = max(min_r, min(replicas, max_r))
        report.warn(
            f"{path}.replicas",
            f"replicas {replicas} is outside [minReplicas {min_r}, maxReplicas {max_r}]; the operator runs "
            f"{effective}: set replicas within the range",
        )
    hosts = as_int(group.get("numOfHosts"))
    if hosts is not None and hosts <= 0:
        report.warn(f"{path}.numOfHosts", f"numOfHosts {hosts} is treated as 1: set 1 or more")

    check_group_autoscaling(spec, path, group, label, autoscaling=autoscaling, v2=v2, report=report)

    params = str_map(group.get("rayStartParams"))
    _check_group_resources_and_labels(path, group, params, report)
    _check_ray_start_params(path, params, report)
    _check_cpu_rounding(path, group, params, report)

    # workersToDelete names that cannot be this group's pods.
    if cluster and isinstance(name, str):
        prefix = f"{cluster}-{name}{c.WORKER_POD_NAME_INFIX}-"[: c.MAX_POD_NAME_PREFIX_LENGTH].lower()
        for j, pod in enumerate(as_list(get_in(group, "scaleStrategy", "workersToDelete")) or []):
            if isinstance(pod, str) and not pod.startswith(prefix):
                report.warn(
                    f"{path}.scaleStrategy.workersToDelete[{j}]",
                    f"pod {pod!r} is not named like a worker of this group ({prefix}...); the operator deletes "
                    "pods by name: check the name",
                )


_PORT_PARAMS = (
    c.PARAM_PORT,
    c.PARAM_DASHBOARD_PORT,
    c.PARAM_METRICS_EXPORT_PORT,
    c.PARAM_DASHBOARD_AGENT_LISTEN_PORT,
)


def _check_ray_start_params(path: str, params: dict[str, str], report: Report) -> None:
    """Keys are flag names without dashes; the ports the operator itself uses must be ports."""
    for key in params:
        if key.startswith("-"):
            report.error(
                f"{path}.rayStartParams[{key}]",
                CauseType.INVALID,
                f"write 'ray start' flags without leading dashes: use '{key.lstrip('-')}'",
                key,
            )
    for key in _PORT_PARAMS:
        value = params.get(key)
        if value is not None and not (value.isdigit() and 1 <= int(value) <= 65535):
            report.error(
                f"{path}.rayStartParams[{key}]",
                CauseType.INVALID,
                "the operator uses this port for Services, probes and worker addresses: use a port number "
                "between 1 and 65535",
                value,
            )


def _check_cpu_rounding(path: str, group: Mapping[str, Any], params: dict[str, str], report: Report) -> None:
    containers = containers_of(group.get("template"))
    if not containers:
        return
    ray = containers[c.RAY_CONTAINER_INDEX]
    resources = as_dict(ray.get("resources")) or {}
    limits = as_dict(resources.get("limits")) or {}
    requests = as_dict(resources.get("requests")) or {}
    group_resources = str_map(group.get("resources"))
    has_group_cpu = any(key.lower() == "cpu" for key in group_resources)
    if c.PARAM_NUM_CPUS not in params and not has_group_cpu:
        cpu_raw = limits.get("cpu", requests.get("cpu"))
        # Whole CPUs written as digits (or an int) cannot warn: skip the Decimal parse, the common case.
        whole = isinstance(cpu_raw, int) or (isinstance(cpu_raw, str) and cpu_raw.isdigit())
        cpu = None if whole else parse_quantity(cpu_raw)
        if cpu is not None and cpu != cpu.to_integral_value():
            rounded = math.ceil(cpu)
            report.warn(
                f"{path}.template.spec.containers[0].resources",
                f"CPU {cpu_raw} is not a whole number; Ray is started with --num-cpus={rounded} (rounded up): "
                "use whole CPUs or set num-cpus in rayStartParams",
            )
    for key, value in group_resources.items():
        amount = parse_quantity(value)
        if key.lower() in ("cpu", "gpu") and amount is not None and amount != amount.to_integral_value():
            flag = "--num-cpus" if key.lower() == "cpu" else "--num-gpus"
            report.warn(
                f"{path}.resources[{key}]",
                f"{value} is not a whole number; Ray is started with {flag}={math.ceil(amount)} (rounded up): "
                "use a whole number",
            )
    has_group_memory = any(key.lower() == "memory" for key in group_resources)
    if "memory" in requests and "memory" not in limits and c.PARAM_MEMORY not in params and not has_group_memory:
        report.warn(
            f"{path}.template.spec.containers[0].resources",
            "a memory request without a memory limit: Ray's --memory is derived from the limit only, so Ray "
            "will assume the whole node's memory: set a memory limit (equal to the request)",
        )


def check_head(head: Mapping[str, Any], *, autoscaling: bool, v2: bool, report: Report) -> None:
    """The head group; ``autoscaling`` and ``v2`` are the cluster's, computed once in ``check_spec``."""
    path = "spec.headGroupSpec"
    _check_template(f"{path}.template", head.get("template"), "headGroupSpec", report)
    params = str_map(head.get("rayStartParams"))
    _check_group_resources_and_labels(path, head, params, report)
    _check_ray_start_params(path, params, report)
    _check_cpu_rounding(path, head, params, report)
    if c.PARAM_AUTOSCALING_CONFIG in params:
        report.warn(
            f"{path}.rayStartParams[{c.PARAM_AUTOSCALING_CONFIG}]",
            "is ignored: the in-tree autoscaler is configured from the RayCluster itself; remove it",
        )
    if as_dict(head.get("ingressOptions")) is not None and as_bool(head.get("enableIngress")) is not True:
        report.warn(f"{path}.ingressOptions", "is ignored because enableIngress is not true")
    service_name = as_str(get_in(head, "headService", "metadata", "name"))
    if service_name and (len(service_name) > 63 or not DNS1035_LABEL_RE.match(service_name)):
        report.error(
            f"{path}.headService.metadata.name",
            CauseType.INVALID,
            f"a Service name must be a DNS-1035 label of at most 63 characters: {DNS1035_LABEL_MESSAGE}",
            service_name,
        )
    restart = get_in(head, "template", "spec", "restartPolicy")
    if autoscaling and v2 and isinstance(restart, str) and restart != "Never":
        report.error(
            f"{path}.template.spec.restartPolicy",
            CauseType.INVALID,
            "autoscaler v2 requires restartPolicy Never (or unset, which the operator sets to Never)",
            restart,
        )
