"""Rules of ``spec.upgradeStrategy`` beyond its enum: the RollingUpdate budgets and where they may appear.

Why a module: the budgets are int-or-percent values whose parsing lives in ``api.rollingupdate`` (the
controller resolves them with the same function), and a Deployment's rules apply — a value is a
non-negative integer or a percentage, maxUnavailable at most 100%, not both 0 — plus the rule that
``rollingUpdate`` only belongs beside ``type: RollingUpdate`` (a Deployment refuses it beside Recreate).
A group's override under another strategy is harmless, so it is a warning, not a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray_operator.api.rollingupdate import ROLLING_UPDATE, int_or_percent_problem, strategy_type
from ray_operator.api.validation.accessors import as_dict, as_list, get_in
from ray_operator.api.validation.errors import CauseType, Report

__all__ = ["check_upgrade_strategy"]


def _zero(value: Any) -> bool:
    return bool(value == 0 or value == "0%")


def _check_budget(options: Mapping[str, Any], path: str, report: Report, *, inherited: Mapping[str, Any]) -> None:
    for key, at_most_100 in (("maxSurge", False), ("maxUnavailable", True)):
        value = options.get(key)
        if value is None:
            continue
        problem = int_or_percent_problem(value, at_most_100_percent=at_most_100)
        if problem is not None:
            report.error(f"{path}.{key}", CauseType.INVALID, problem, value)
    surge = options.get("maxSurge", inherited.get("maxSurge"))
    unavailable = options.get("maxUnavailable", inherited.get("maxUnavailable"))
    if surge is not None and unavailable is not None and _zero(surge) and _zero(unavailable):
        report.error(
            f"{path}.maxUnavailable",
            CauseType.INVALID,
            "may not be 0 when maxSurge is 0: a rollout could never make progress",
            unavailable,
        )


def check_upgrade_strategy(spec: Mapping[str, Any], report: Report) -> None:
    kind = strategy_type(spec)
    options = as_dict(get_in(spec, "upgradeStrategy", "rollingUpdate"))
    if options is not None:
        if kind != ROLLING_UPDATE:
            report.error(
                "spec.upgradeStrategy.rollingUpdate",
                CauseType.FORBIDDEN,
                f"may not be specified when type is {kind or 'unset'}: set type RollingUpdate or remove it",
            )
        else:
            _check_budget(options, "spec.upgradeStrategy.rollingUpdate", report, inherited={})
            deadline = options.get("progressDeadlineSeconds")
            if isinstance(deadline, int) and not isinstance(deadline, bool) and deadline <= 0:
                report.error(
                    "spec.upgradeStrategy.rollingUpdate.progressDeadlineSeconds",
                    CauseType.INVALID,
                    "must be greater than 0",
                    deadline,
                )
    for index, group in enumerate(as_list(spec.get("workerGroupSpecs")) or []):
        override = as_dict(get_in(group, "rollingUpdate"))
        if override is None:
            continue
        path = f"spec.workerGroupSpecs[{index}].rollingUpdate"
        if kind != ROLLING_UPDATE:
            report.warn(path, "ignored: spec.upgradeStrategy.type is not RollingUpdate")
            continue
        _check_budget(override, path, report, inherited=options or {})
