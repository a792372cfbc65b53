"""Rules over the whole object: the spec's parts put together, the status, and fields the API server drops.

Why: ``check_spec`` is where the per-area rules meet (head, groups with duplicate names, autoscaling,
GCS FT, auth) and where the cluster-level rules live (upgradeStrategy on RayJob/RayService-owned
clusters, KubeRay's alpha-gated fields). Unknown fields are warnings, walked on the parsed model.

Decided against: feature-gate switches (KubeRay's beta gates are on, alpha ones off).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def warn_unknown_fields(paths: list[str], report: Report) -> None:
    """A warning per field the models do not declare (``paths`` from parsing), but the alpha fields and
    the RocksDB ``storage`` block, which other rules report or which are kept as extras on purpose."""
    for path in paths:
        if path.startswith("spec.") and path[len("spec.") :] in ALPHA_FIELDS:
            continue
        if path == "spec.gcsFaultToleranceOptions.storage":
            continue
        report.warn(path, "unknown field; the API server drops it")
