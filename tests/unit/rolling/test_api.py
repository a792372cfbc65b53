"""The RollingUpdate API: validation of the budgets, defaulting, resolution to pod counts, and the head warning."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ray_operator.api.defaulting import apply_defaults
from ray_operator.api.rollingupdate import Budget, resolve_budget
from ray_operator.api.validation import validate
from ray_operator.api.validation.update import HEAD_RESTART_WARNING

Obj = dict[str, Any]


def cluster(strategy: Obj | None = None, **group_extra: Any) -> Obj:
    spec: Obj = {
        "rayVersion": "2.52.0",
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}},
        },
        "workerGroupSpecs": [
            {
                "groupName": "cpu",
                "replicas": 4,
                "minReplicas": 0,
                "maxReplicas": 8,
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}]}},
                **group_extra,
            }
        ],
    }
    if strategy is not None:
        spec["upgradeStrategy"] = strategy
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "demo"}, "spec": spec}


def errors(obj: Obj, old: Obj | None = None) -> list[str]:
    return [error.text for error in validate(obj, old).errors]


def test_rolling_update_with_defaults_is_valid() -> None:
    assert errors(cluster({"type": "RollingUpdate"})) == []
    assert errors(apply_defaults(cluster({"type": "RollingUpdate"}))) == []


RU = "spec.upgradeStrategy.rollingUpdate"


@pytest.mark.parametrize(
    ("options", "wanted"),
    [
        ({"maxSurge": -1}, f"{RU}.maxSurge: Invalid value: -1: must be greater than or equal to 0"),
        ({"maxSurge": "ten"}, f'{RU}.maxSurge: Invalid value: "ten": a string must be a percentage'),
        ({"maxUnavailable": "101%"}, f'{RU}.maxUnavailable: Invalid value: "101%": must not be greater than 100%'),
        ({"maxSurge": 0, "maxUnavailable": "0%"}, f'{RU}.maxUnavailable: Invalid value: "0%": may not be 0 when'),
        ({"progressDeadlineSeconds": 0}, f"{RU}.progressDeadlineSeconds: Invalid value: 0: must be greater than 0"),
        ({"maxSurge": 1.5}, f"{RU}.maxSurge"),
    ],
)
def test_bad_budgets_are_refused_with_the_field(options: Obj, wanted: str) -> None:
    found = errors(cluster({"type": "RollingUpdate", "rollingUpdate": options}))
    assert any(text.startswith(wanted) for text in found), found


def test_rolling_update_options_need_type_rolling_update() -> None:
    found = errors(cluster({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}))
    assert found == [
        "spec.upgradeStrategy.rollingUpdate: Forbidden: may not be specified when type is Recreate: "
        "set type RollingUpdate or remove it"
    ]


def test_a_group_override_is_checked_against_the_inherited_values() -> None:
    obj = cluster({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
                  rollingUpdate={"maxUnavailable": 0})  # fmt: skip
    assert errors(obj) == [
        "spec.workerGroupSpecs[0].rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when maxSurge is 0: "
        "a rollout could never make progress"
    ]
    ok = cluster({"type": "RollingUpdate"}, rollingUpdate={"maxSurge": "50%"})
    assert errors(ok) == []


def test_a_group_override_without_rolling_update_is_only_a_warning() -> None:
    result = validate(cluster(None, rollingUpdate={"maxSurge": 2}))
    assert result.ok
    assert "spec.workerGroupSpecs[0].rollingUpdate: ignored: spec.upgradeStrategy.type is not RollingUpdate" in (
        result.warnings
    )


def test_defaulting_writes_the_budgets_only_for_rolling_update() -> None:
    rolled = apply_defaults(cluster({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}))
    assert rolled["spec"]["upgradeStrategy"]["rollingUpdate"] == {
        "maxSurge": "25%",
        "maxUnavailable": 0,
        "progressDeadlineSeconds": 600,
    }
    assert "rollingUpdate" not in apply_defaults(cluster({"type": "Recreate"}))["spec"]["upgradeStrategy"]
    assert "upgradeStrategy" not in apply_defaults(cluster(None, rollingUpdate={"maxSurge": 2}))["spec"]
    twice = apply_defaults(rolled)
    assert twice == rolled


@pytest.mark.parametrize(
    ("cluster_options", "group_options", "desired", "budget"),
    [
        (None, None, 4, Budget(1, 0)),
        ({"maxSurge": "25%", "maxUnavailable": "25%"}, None, 10, Budget(3, 2)),  # surge up, unavailable down
        ({"maxSurge": "0%", "maxUnavailable": "10%"}, None, 4, Budget(1, 0)),  # both 0: surge 1, never a drop
        ({"maxSurge": 2, "maxUnavailable": 1}, {"maxSurge": 0}, 4, Budget(0, 1)),  # the group's field wins
        ({"maxSurge": 3}, {"maxUnavailable": "50%"}, 4, Budget(3, 2)),  # unset fields are inherited
        ({"maxSurge": -5}, None, 4, Budget(1, 0)),  # invalid (webhooks off): the default applies
        (None, None, 0, Budget(1, 0)),
    ],
)
def test_budgets_resolve_like_a_deployment(
    cluster_options: Obj | None, group_options: Obj | None, desired: int, budget: Budget
) -> None:
    assert resolve_budget(cluster_options=cluster_options, group_options=group_options, desired=desired) == budget


def _head_image(obj: Obj, image: str) -> Obj:
    changed = copy.deepcopy(obj)
    changed["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = image
    return changed


def test_a_head_change_without_gcs_ft_warns_that_the_cluster_restarts() -> None:
    old = apply_defaults(cluster({"type": "RollingUpdate"}))
    new = _head_image(old, "rayproject/ray:2.53.0")
    result = validate(new, old)
    assert result.ok and HEAD_RESTART_WARNING in result.warnings
    assert HEAD_RESTART_WARNING == (
        "changing the head template restarts the whole cluster; enable gcsFaultToleranceOptions to keep workers"
    )


def test_no_head_warning_for_worker_changes_scheduling_fields_or_with_gcs_ft() -> None:
    old = apply_defaults(cluster({"type": "RollingUpdate"}))
    worker_only = copy.deepcopy(old)
    worker_only["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["image"] = "x:2"
    tolerated = copy.deepcopy(old)
    tolerated["spec"]["headGroupSpec"]["template"]["spec"]["tolerations"] = [{"key": "kueue"}]
    ft_old = copy.deepcopy(old)
    ft_old["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    for new, base in ((worker_only, old), (tolerated, old), (_head_image(ft_old, "x:3"), ft_old)):
        result = validate(new, base)
        assert HEAD_RESTART_WARNING not in result.warnings
        assert not any("running pods are not replaced" in text for text in result.warnings)
