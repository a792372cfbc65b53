"""apply_defaults_shared (what the mutating webhook diffs) gives apply_defaults' result without copying.

It must never mutate its input, must equal ``apply_defaults`` on every input, and must share exactly
the parts it leaves unchanged, so the webhook's patch is the same as if the whole object were copied.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ray_operator.api import rollingupdate as ru
from ray_operator.api.defaulting import apply_defaults, apply_defaults_shared
from webhook.patch import diff

DATA = Path(__file__).parent / "data" / "raycluster"
SAMPLES = Path(__file__).parents[2] / "samples"
MANIFESTS = sorted(DATA.glob("*.yaml")) + sorted(SAMPLES.glob("ray_v1_raycluster*.yaml"))

ODD: list[Any] = [
    {},
    {"spec": None},
    {"spec": "x"},
    {"spec": {"headGroupSpec": "x", "workerGroupSpecs": "y"}},
    {"spec": {"workerGroupSpecs": [None, 1, "a", {"groupName": "g", "replicas": None}]}},
    {"spec": {"gcsFaultToleranceOptions": []}},
    {"spec": {"gcsFaultToleranceOptions": {"backend": None}}},
    {"spec": {"upgradeStrategy": {"type": ru.ROLLING_UPDATE}}},
    {"spec": {"upgradeStrategy": {"type": ru.ROLLING_UPDATE, "rollingUpdate": None}}},
    {"spec": {"upgradeStrategy": {"type": ru.ROLLING_UPDATE, "rollingUpdate": "25%"}}},
    {"spec": {"upgradeStrategy": {"type": ru.ROLLING_UPDATE, "rollingUpdate": {"maxSurge": "50%"}}}},
    {"spec": {"upgradeStrategy": {"type": "Recreate", "rollingUpdate": {}}}},
]


def _raycluster(path: Path) -> Any:
    return next(doc for doc in yaml.safe_load_all(path.read_text()) if doc and doc.get("kind") == "RayCluster")


def _inputs() -> list[Any]:
    return [_raycluster(path) for path in MANIFESTS] + copy.deepcopy(ODD)


def _ids() -> list[str]:
    return [path.stem for path in MANIFESTS] + [f"odd{i}" for i in range(len(ODD))]


@pytest.mark.parametrize("obj", _inputs(), ids=_ids())
def test_same_result_as_apply_defaults_and_the_input_is_untouched(obj: Any) -> None:
    snapshot = copy.deepcopy(obj)
    shared = apply_defaults_shared(obj)
    assert obj == snapshot
    assert shared == apply_defaults(snapshot)
    assert diff(obj, shared) == diff(snapshot, apply_defaults(snapshot))


@pytest.mark.parametrize("obj", _inputs(), ids=_ids())
def test_a_defaulted_object_comes_back_as_itself(obj: Any) -> None:
    """Nothing to default (an UPDATE of a stored object, say): no copy and no diff work at all."""
    once = apply_defaults(obj)
    assert apply_defaults_shared(once) is once


def test_only_the_way_to_a_default_is_new() -> None:
    obj: dict[str, Any] = {
        "metadata": {"name": "demo"},
        "spec": {
            "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {}}},
            "workerGroupSpecs": [
                apply_defaults({"spec": {"workerGroupSpecs": [{"groupName": "a"}]}})["spec"]["workerGroupSpecs"][0],
                {"groupName": "b", "template": {"spec": {}}},
            ],
        },
    }
    result = apply_defaults_shared(obj)
    assert result is not obj and result["spec"] is not obj["spec"]
    assert result["metadata"] is obj["metadata"]
    assert result["spec"]["headGroupSpec"] is obj["spec"]["headGroupSpec"]
    groups, old_groups = result["spec"]["workerGroupSpecs"], obj["spec"]["workerGroupSpecs"]
    assert groups[0] is old_groups[0]
    assert groups[1] is not old_groups[1] and groups[1]["template"] is old_groups[1]["template"]
    defaulted = ("rayStartParams", "replicas", "minReplicas", "maxReplicas", "numOfHosts", "priority", "scaleStrategy")
    assert [op["path"] for op in diff(obj, result)] == [f"/spec/workerGroupSpecs/1/{key}" for key in defaulted]


def test_new_empty_maps_are_never_shared_between_results() -> None:
    first = apply_defaults_shared({"spec": {"headGroupSpec": {}}})
    second = apply_defaults_shared({"spec": {"headGroupSpec": {}}})
    assert first["spec"]["headGroupSpec"]["rayStartParams"] is not second["spec"]["headGroupSpec"]["rayStartParams"]
