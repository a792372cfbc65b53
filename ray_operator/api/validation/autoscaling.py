"""Autoscaler rules: whether autoscaler v2 is on, and what autoscaling forbids or needs (C12, C13, C20-C23).

Why together: the v2 switch has two spellings (``autoscalerOptions.version: v2`` or the head's
``RAY_enable_autoscaler_v2`` env var) and half the rules depend on it, per group (idle timeouts,
priorities, suspended groups, restart policies) and for the cluster (the env var without autoscaling,
reserved autoscaler env). ``autoscaler_v2_enabled`` is shared with the builders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.validation.accessors import as_bool, as_dict, as_int, containers_of, env_entries, get_in
from ray_operator.api.validation.errors import CauseType, Report
from ray_operator.api.validation.rayversion import format_version, parse_ray_version


def autoscaler_v2_enabled(spec: Mapping[str, Any]) -> bool:
    """KubeRay's rule: ``autoscalerOptions.version: v2`` or head env ``RAY_enable_autoscaler_v2`` = 1/true."""
    if get_in(spec, "autoscalerOptions", "version") == "v2":
        return True
    head = get_in(spec, "headGroupSpec", "template")
    containers = containers_of(head)
    if not containers:
        return False
    for _, name, value in env_entries(containers[c.RAY_CONTAINER_INDEX]):
        if name == c.ENV_RAY_ENABLE_AUTOSCALER_V2 and isinstance(value, str) and value in ("1", "true"):
            return True
    return False


def check_group_autoscaling(
    spec: Mapping[str, Any],
    path: str,
    group: Mapping[str, Any],
    label: str,
    *,
    autoscaling: bool,
    v2: bool,
    report: Report,
) -> None:
    """One worker group's autoscaling rules; ``autoscaling`` and ``v2`` are the cluster's."""
    # C12 / C13.
    idle = as_int(group.get("idleTimeoutSeconds"))
    if idle is not None:
        if idle < 0:
            report.error(
                f"{path}.idleTimeoutSeconds",
                CauseType.INVALID,
                f"worker group {label} has negative idleTimeoutSeconds: use 0 or more",
                idle,
            )
        if not v2:
            report.error(
                f"{path}.idleTimeoutSeconds",
                CauseType.FORBIDDEN,
                f"worker group {label} has idleTimeoutSeconds set, but autoscaler v2 is not enabled: "
                "set spec.autoscalerOptions.version to v2",
            )
    priority = as_int(group.get("priority"))
    if priority:
        if not v2:
            report.error(
                f"{path}.priority",
                CauseType.FORBIDDEN,
                f"worker group {label} sets a non-zero priority, which only autoscaler v2 honours: "
                "set spec.autoscalerOptions.version to v2",
            )
        version = parse_ray_version(spec.get("rayVersion"))
        if version is None or version < c.MIN_RAY_VERSION_GROUP_PRIORITY:
            report.error(
                f"{path}.priority",
                CauseType.FORBIDDEN,
                f"a non-zero priority needs spec.rayVersion {format_version(c.MIN_RAY_VERSION_GROUP_PRIORITY)} "
                f"or later (got {spec.get('rayVersion')!r}): upgrade Ray or remove priority",
            )

    # C21: suspended groups and autoscaling.
    if autoscaling and as_bool(group.get("suspend")) is True:
        report.error(
            f"{path}.suspend",
            CauseType.FORBIDDEN,
            "a worker group cannot be suspended while enableInTreeAutoscaling is true: the autoscaler owns "
            "its replicas; scale it with minReplicas/maxReplicas instead",
        )
    restart = get_in(group, "template", "spec", "restartPolicy")
    if autoscaling and isinstance(restart, str) and restart != "Never":
        if v2:
            report.error(
                f"{path}.template.spec.restartPolicy",
                CauseType.INVALID,
                "autoscaler v2 requires restartPolicy Never (or unset, which the operator sets to Never)",
                restart,
            )
        else:
            report.warn(
                f"{path}.template.spec.restartPolicy",
                f"restartPolicy {restart} with the autoscaler restarts failed Ray workers in place, which the "
                "autoscaler does not expect: use Never",
            )


def check_autoscaling(spec: Mapping[str, Any], report: Report) -> None:
    autoscaling = as_bool(spec.get("enableInTreeAutoscaling")) is True
    options = as_dict(spec.get("autoscalerOptions"))
    head_containers = containers_of(get_in(spec, "headGroupSpec", "template"))
    env_path = "spec.headGroupSpec.template.spec.containers[0].env"
    v2_env = [
        (index, value)
        for index, name, value in (env_entries(head_containers[0]) if head_containers else iter(()))
        if name == c.ENV_RAY_ENABLE_AUTOSCALER_V2
    ]
    if not autoscaling:
        for index, value in v2_env:
            if value in ("1", "true"):
                report.error(
                    f"{env_path}[{index}]",
                    CauseType.INVALID,
                    f"{c.ENV_RAY_ENABLE_AUTOSCALER_V2} enables autoscaler v2, but enableInTreeAutoscaling is not "
                    "true: set spec.enableInTreeAutoscaling: true or remove the variable",
                    value,
                )
        if options is not None:
            report.warn("spec.autoscalerOptions", "is ignored because enableInTreeAutoscaling is not true")
    elif options is not None and options.get("version") is not None and v2_env:
        report.error(
            "spec.autoscalerOptions.version",
            CauseType.FORBIDDEN,
            f"cannot be combined with the {c.ENV_RAY_ENABLE_AUTOSCALER_V2} env var on the head: keep only "
            "autoscalerOptions.version",
        )
    if options is None:
        return
    idle = as_int(options.get("idleTimeoutSeconds"))
    if idle is not None and idle < 0:
        report.error(
            "spec.autoscalerOptions.idleTimeoutSeconds",
            CauseType.INVALID,
            "autoscalerOptions.idleTimeoutSeconds must be 0 or more",
            idle,
        )
    for index, name, _ in env_entries(options):
        if name == c.ENV_KUBERAY_GEN_AUTOSCALER_START_CMD:
            report.error(
                f"spec.autoscalerOptions.env[{index}].name",
                CauseType.FORBIDDEN,
                f"{name} is set by the operator (the generated autoscaler command); use autoscalerOptions.command "
                "and args to change the command",
            )
