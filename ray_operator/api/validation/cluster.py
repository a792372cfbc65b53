"""Rules over the whole object: the spec's parts put together, the status, and fields the API server drops.

Why: ``check_spec`` is where the per-area rules meet (head, groups with duplicate names, autoscaling,
GCS FT, auth) and where the cluster-level rules live (upgradeStrategy on RayJob/RayService-owned
clusters, KubeRay's alpha-gated fields). Unknown fields are warnings, walked on the parsed model.

Decided against: feature-gate switches (KubeRay's beta gates are on, alpha ones off).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from ray_operator.api import constants as c
from ray_operator.api.validation.accessors import as_bool, as_dict, as_list, as_str, get_in, str_map
from ray_operator.api.validation.auth import check_auth
from ray_operator.api.validation.autoscaling import autoscaler_v2_enabled, check_autoscaling
from ray_operator.api.validation.errors import CauseType, Report
from ray_operator.api.validation.gcsft import check_gcs_ft
from ray_operator.api.validation.groups import check_head, check_worker_group
from ray_operator.api.validation.upgrade import check_upgrade_strategy

ALPHA_FIELDS = {
    "networkPolicy": "NetworkPolicies per cluster",
    "tlsOptions": "mTLS through cert-manager",
    "historyServerOptions": "the history-server collector",
}


def check_spec(obj: Mapping[str, Any], report: Report) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    meta = as_dict(obj.get("metadata")) or {}
    cluster = as_str(meta.get("name"))
    autoscaling = as_bool(spec.get("enableInTreeAutoscaling")) is True
    v2 = autoscaler_v2_enabled(spec)
    head = as_dict(spec.get("headGroupSpec"))
    if head is not None:
        check_head(head, autoscaling=autoscaling, v2=v2, report=report)
    groups = as_list(spec.get("workerGroupSpecs")) or []
    seen: dict[str, int] = {}
    for index, group in enumerate(groups):
        if as_dict(group) is None:
            continue
        check_worker_group(spec, index, group, cluster=cluster, autoscaling=autoscaling, v2=v2, report=report)
        name = as_str(group.get("groupName"))
        if name:
            if name in seen:
                report.error(
                    f"spec.workerGroupSpecs[{index}].groupName",
                    CauseType.DUPLICATE,
                    f"worker group names must be unique; spec.workerGroupSpecs[{seen[name]}] already uses it",
                    name,
                )
            else:
                seen[name] = index
    check_autoscaling(spec, report)
    check_gcs_ft(spec, meta, report)
    check_auth(spec, report)
    check_upgrade_strategy(spec, report)
    labels = str_map(meta.get("labels"))
    origin = labels.get(c.RAY_ORIGINATED_FROM_CRD_LABEL)
    if get_in(spec, "upgradeStrategy", "type") is not None and origin in (
        c.ORIGINATED_FROM_RAYJOB,
        c.ORIGINATED_FROM_RAYSERVICE,
    ):
        report.error(
            "spec.upgradeStrategy",
            CauseType.FORBIDDEN,
            f"upgradeStrategy cannot be set on a RayCluster created by a {origin}: set it on the {origin}",
        )
    for key, feature in ALPHA_FIELDS.items():
        if key in spec:
            report.error(
                f"spec.{key}",
                CauseType.FORBIDDEN,
                f"{feature} is an alpha KubeRay feature this operator does not support: remove spec.{key}",
            )


def check_status(obj: Mapping[str, Any], report: Report) -> None:
    conditions = as_list(get_in(obj, "status", "conditions")) or []
    true_types = {get_in(item, "type") for item in conditions if get_in(item, "status") == "True"}
    if {c.ConditionType.RAY_CLUSTER_SUSPENDING, c.ConditionType.RAY_CLUSTER_SUSPENDED} <= true_types:
        report.error(
            "status.conditions",
            CauseType.INVALID,
            "RayClusterSuspending and RayClusterSuspended cannot both be True",
            [c.ConditionType.RAY_CLUSTER_SUSPENDING.value, c.ConditionType.RAY_CLUSTER_SUSPENDED.value],
        )


def warn_unknown_fields(model: BaseModel, path: str, report: Report) -> None:
    for key in model.__pydantic_extra__ or {}:
        if path == "spec" and key in ALPHA_FIELDS:
            continue
        if path == "spec.gcsFaultToleranceOptions" and key == "storage":
            continue
        report.warn(f"{path}.{key}" if path else key, "unknown field; the API server drops it")
    # ``vars(model)`` holds the declared fields only (extras live in __pydantic_extra__), in declaration order,
    # so warnings come out in a stable order. This walk runs on every admission: plain values are skipped by
    # an exact-type check first, because isinstance() against a pydantic model class is an ABC check, and the
    # wire names of a model's fields are looked up once per model class, not on every visit.
    aliases = _wire_names(type(model))
    for name, value in vars(model).items():
        if value is None or type(value) in _PLAIN_TYPES:
            continue
        child = f"{path}.{aliases[name]}" if path else aliases[name]
        if type(value) is list:
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    warn_unknown_fields(item, f"{child}[{index}]", report)
        elif isinstance(value, BaseModel):
            warn_unknown_fields(value, child, report)


_PLAIN_TYPES = frozenset({str, int, float, bool, dict})
_WIRE_NAMES: dict[type[BaseModel], dict[str, str]] = {}


def _wire_names(cls: type[BaseModel]) -> dict[str, str]:
    """Field name -> the name it has in the JSON object (its alias), per model class (classes are fixed)."""
    names = _WIRE_NAMES.get(cls)
    if names is None:
        names = _WIRE_NAMES[cls] = {name: info.alias or name for name, info in cls.model_fields.items()}
    return names
