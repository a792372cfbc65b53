"""``maxSurge``/``maxUnavailable`` of a RollingUpdate: parsing, the defaults, resolution to pod counts.

Why here: validation (webhook and controller alike) must accept exactly the values the controller can
resolve, and both read the same group override rule, so the parsing and the resolution are one pure
module of the API that ``api.validation``, ``api.defaulting`` and ``controller.rollout`` share.

Rules, as a Deployment's ``intstr`` fenceposts (``ResolveFenceposts``): a value is a non-negative int32 or
a string ``"<n>%"`` (0 to 100 for maxUnavailable); percentages are of the group's desired pods, maxSurge
rounded up and maxUnavailable rounded down. Unlike a Deployment, when both resolve to 0 (small groups with
percentages) the surge becomes 1 rather than the unavailability: this operator's default promise is that
capacity never drops. A worker group's ``rollingUpdate`` overrides the cluster's field by field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEFAULT_MAX_SURGE",
    "DEFAULT_MAX_UNAVAILABLE",
    "DEFAULT_PROGRESS_DEADLINE_SECONDS",
    "ROLLING_UPDATE",
    "Budget",
    "int_or_percent_problem",
    "resolve_budget",
    "strategy_type",
]

ROLLING_UPDATE: Final = "RollingUpdate"
DEFAULT_MAX_SURGE: Final = 1
DEFAULT_MAX_UNAVAILABLE: Final = 0
DEFAULT_PROGRESS_DEADLINE_SECONDS: Final = 600
_PERCENT = re.compile(r"^(0|[1-9][0-9]*)%$")
_INT32_MAX = 2**31 - 1


def strategy_type(spec: Mapping[str, Any]) -> str | None:
    """``spec.upgradeStrategy.type`` of a raw spec, None when unset or malformed."""
    strategy = spec.get("upgradeStrategy")
    value = strategy.get("type") if isinstance(strategy, Mapping) else None
    return value if isinstance(value, str) else None


def int_or_percent_problem(value: Any, *, at_most_100_percent: bool) -> str | None:
    """Why ``value`` is not a valid maxSurge/maxUnavailable, or None when it is."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return "must be an integer or a percentage such as '25%'"
    if isinstance(value, int):
        if value < 0:
            return "must be greater than or equal to 0"
        if value > _INT32_MAX:
            return f"must be at most {_INT32_MAX}"
        return None
    if not _PERCENT.match(value):
        return "a string must be a percentage such as '25%' (digits followed by '%')"
    if at_most_100_percent and int(value[:-1]) > 100:
        return "must not be greater than 100%"
    return None


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


@dataclass(frozen=True)
class Budget:
    """A group's rollout limits in pods (or multi-host replicas)."""

    max_surge: int
    max_unavailable: int


def _field(options: Any, key: str) -> Any:
    return options.get(key) if isinstance(options, Mapping) else None


def resolve_budget(
    *, cluster_options: Mapping[str, Any] | None, group_options: Mapping[str, Any] | None, desired: int
) -> Budget:
    """The limits of one group with ``desired`` units, from the (wire-form) cluster and group options.

    Values that do not parse (validation refuses them; the controller may meet them when webhooks are off)
    count as unset, so the defaults apply.
    """
    surge_raw = _field(group_options, "maxSurge")
    if surge_raw is None or int_or_percent_problem(surge_raw, at_most_100_percent=False):
        surge_raw = _field(cluster_options, "maxSurge")
    if surge_raw is None or int_or_percent_problem(surge_raw, at_most_100_percent=False):
        surge_raw = DEFAULT_MAX_SURGE
    unavailable_raw = _field(group_options, "maxUnavailable")
    if unavailable_raw is None or int_or_percent_problem(unavailable_raw, at_most_100_percent=True):
        unavailable_raw = _field(cluster_options, "maxUnavailable")
    if unavailable_raw is None or int_or_percent_problem(unavailable_raw, at_most_100_percent=True):
        unavailable_raw = DEFAULT_MAX_UNAVAILABLE
    surge = _scaled(surge_raw, max(desired, 0), round_up=True)
    unavailable = _scaled(unavailable_raw, max(desired, 0), round_up=False)
    if surge == 0 and unavailable == 0:
        surge = 1  # progress is impossible otherwise; surge keeps capacity where unavailability would drop it
    return Budget(max_surge=surge, max_unavailable=unavailable)
