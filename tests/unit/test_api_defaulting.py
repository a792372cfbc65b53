"""apply_defaults writes KubeRay's defaults, is pure and idempotent, and keeps valid objects valid."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ray_operator.api import constants
from ray_operator.api.defaulting import apply_defaults
from ray_operator.api.models import RayCluster
from ray_operator.api.validation import validate

DATA = Path(__file__).parent / "data" / "raycluster"


def minimal() -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo"},
        "spec": {
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head", "image": "ray"}]}}},
            "workerGroupSpecs": [
                {"groupName": "cpu", "template": {"spec": {"containers": [{"name": "ray-worker", "image": "ray"}]}}}
            ],
        },
    }


def test_every_default_on_a_minimal_cluster() -> None:
    result = apply_defaults(minimal())
    assert result["spec"]["headGroupSpec"]["rayStartParams"] == {}
    assert {k: v for k, v in result["spec"]["workerGroupSpecs"][0].items() if k not in ("groupName", "template")} == {
        "rayStartParams": {},
        "replicas": 0,
        "minReplicas": 0,
        "maxReplicas": constants.MAX_INT32,
        "numOfHosts": 1,
        "priority": 0,
        "scaleStrategy": {},
    }
    # nothing else is invented
    assert set(result["spec"]) == {"headGroupSpec", "workerGroupSpecs"}
    assert set(result["spec"]["headGroupSpec"]) == {"template", "rayStartParams"}
    assert result["metadata"] == {"name": "demo"}
    assert "status" not in result


def test_minimal_cluster_without_min_max_becomes_valid() -> None:
    obj = minimal()
    assert not validate(obj).ok  # min/max are required when autoscaling is off
    assert validate(apply_defaults(obj)).ok


def test_explicit_values_are_kept() -> None:
    obj = minimal()
    obj["spec"]["headGroupSpec"]["rayStartParams"] = {"num-cpus": "0"}
    obj["spec"]["workerGroupSpecs"][0].update(
        replicas=2,
        minReplicas=1,
        maxReplicas=3,
        numOfHosts=0,
        priority=5,
        rayStartParams={"a": "b"},
        scaleStrategy={"workersToDelete": ["demo-cpu-worker-abcde"]},
    )
    assert apply_defaults(obj) == obj


def test_null_values_are_defaulted_like_absent_ones() -> None:
    obj = minimal()
    obj["spec"]["headGroupSpec"]["rayStartParams"] = None
    obj["spec"]["workerGroupSpecs"][0].update(scaleStrategy=None, minReplicas=None)
    result = apply_defaults(obj)
    assert result["spec"]["headGroupSpec"]["rayStartParams"] == {}
    assert result["spec"]["workerGroupSpecs"][0]["scaleStrategy"] == {}
    assert result["spec"]["workerGroupSpecs"][0]["minReplicas"] == 0


def test_scale_strategy_exists_for_the_autoscaler_patch() -> None:
    """The Ray autoscaler sends `replace /spec/workerGroupSpecs/i/scaleStrategy`, which needs the field."""
    obj = minimal()
    obj["spec"]["workerGroupSpecs"].append(copy.deepcopy(obj["spec"]["workerGroupSpecs"][0]) | {"groupName": "gpu"})
    result = apply_defaults(obj)
    assert all("scaleStrategy" in group for group in result["spec"]["workerGroupSpecs"])


def test_gcs_backend_defaults_to_redis_only_when_options_exist() -> None:
    obj = minimal()
    assert "gcsFaultToleranceOptions" not in apply_defaults(obj)["spec"]
    obj["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    assert apply_defaults(obj)["spec"]["gcsFaultToleranceOptions"] == {"redisAddress": "redis:6379", "backend": "redis"}
    obj["spec"]["gcsFaultToleranceOptions"]["backend"] = "rocksdb"
    assert apply_defaults(obj)["spec"]["gcsFaultToleranceOptions"]["backend"] == "rocksdb"


def test_defaulting_an_existing_cluster_is_not_an_immutable_change() -> None:
    old = minimal()
    old["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    old["spec"]["workerGroupSpecs"][0].update(minReplicas=0, maxReplicas=2)
    assert validate(apply_defaults(old), old).ok


def test_input_is_never_mutated() -> None:
    obj = minimal()
    snapshot = copy.deepcopy(obj)
    result = apply_defaults(obj)
    assert obj == snapshot
    result["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"].append({})
    assert obj == snapshot  # a deep copy, not shared sub-objects


def _containers_by_id(value: Any) -> dict[int, Any]:
    """Every dict and list of a JSON tree, by identity."""
    found: dict[int, Any] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found[id(item)] = item
            stack.extend(item.values())
        elif isinstance(item, list):
            found[id(item)] = item
            stack.extend(item)
    return found


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda p: p.stem)
def test_result_shares_no_dict_or_list_with_the_input(path: Path) -> None:
    """The webhook diffs the result against the request object; a shared sub-object would hide changes."""
    manifest = yaml.safe_load(path.read_text())
    snapshot = copy.deepcopy(manifest)
    result = apply_defaults(manifest)
    assert manifest == snapshot
    assert not set(_containers_by_id(result)) & set(_containers_by_id(manifest))


@pytest.mark.parametrize(
    "odd",
    [
        {},
        {"spec": None},
        {"spec": "x"},
        {"spec": {"headGroupSpec": "x", "workerGroupSpecs": "y"}},
        {"spec": {"workerGroupSpecs": [None, 1, "a", {"groupName": "g"}]}},
        {"spec": {"gcsFaultToleranceOptions": []}},
    ],
)
def test_odd_input_is_left_alone_where_not_understood(odd: dict[str, Any]) -> None:
    result = apply_defaults(odd)
    assert apply_defaults(result) == result
    if isinstance(odd.get("spec"), dict) and isinstance(odd["spec"].get("workerGroupSpecs"), list):
        groups = result["spec"]["workerGroupSpecs"]
        assert groups[:3] == [None, 1, "a"]
        assert groups[3]["scaleStrategy"] == {}
    else:
        assert result == odd


def test_deeply_nested_input_never_raises() -> None:
    """JSON nested deeper than Python's recursion limit parses; defaulting it must not crash the webhook."""
    nested: Any = "leaf"
    for level in range(5000):
        nested = [nested] if level % 2 else {"k": nested}
    obj = {"spec": {"headGroupSpec": {"template": nested}, "workerGroupSpecs": [{"groupName": "g"}]}}
    result = apply_defaults(obj)
    assert result["spec"]["workerGroupSpecs"][0]["scaleStrategy"] == {}
    assert result["spec"]["headGroupSpec"]["template"] is not nested
    depth, node = 0, result["spec"]["headGroupSpec"]["template"]
    while not isinstance(node, str):
        node = node[0] if isinstance(node, list) else node["k"]
        depth += 1
    assert (depth, node) == (5000, "leaf")


@pytest.mark.parametrize("not_a_mapping", [None, [], "x", 3])
def test_non_mapping_never_raises(not_a_mapping: Any) -> None:
    assert apply_defaults(not_a_mapping) == {}


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda p: p.stem)
def test_samples_stay_loadable_valid_and_idempotent(path: Path) -> None:
    manifest = yaml.safe_load(path.read_text())
    once = apply_defaults(manifest)
    assert apply_defaults(once) == once
    RayCluster.model_validate(once)
    if validate(manifest).ok:
        assert validate(once).ok


# --- properties over generated specs -----------------------------------------------------------------------

OPTIONAL_INT = st.none() | st.integers(min_value=0, max_value=10)
PARAMS = st.none() | st.dictionaries(
    st.sampled_from(["num-cpus", "port", "block"]), st.sampled_from(["0", "1"]), max_size=2
)


@st.composite
def worker_groups(draw: st.DrawFn, index: int, v2: bool) -> dict[str, Any]:
    group: dict[str, Any] = {
        "groupName": f"group-{index}",
        "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}]}},
    }
    low = draw(OPTIONAL_INT)
    high = draw(OPTIONAL_INT)
    if low is not None and high is not None and low > high:
        low, high = high, low
    for key, value in (
        ("minReplicas", low),
        ("maxReplicas", high),
        ("replicas", draw(OPTIONAL_INT)),
        ("numOfHosts", draw(st.none() | st.integers(1, 4))),
        ("priority", draw(st.none() | st.just(0))),
        ("rayStartParams", draw(PARAMS)),
        ("scaleStrategy", draw(st.none() | st.just({}) | st.just({"workersToDelete": []}))),
        ("idleTimeoutSeconds", draw(st.none() | st.integers(0, 120)) if v2 else None),  # v2 only (C12)
        ("suspend", draw(st.none() | st.booleans())),
    ):
        if draw(st.booleans()):
            group[key] = value
    return group


@st.composite
def clusters(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(0, 3))
    version = draw(st.none() | st.sampled_from(["v1", "v2"]))
    spec: dict[str, Any] = {
        "headGroupSpec": {
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}
        },
        "workerGroupSpecs": [draw(worker_groups(i, version == "v2")) for i in range(count)],
    }
    if version is not None:
        spec["autoscalerOptions"] = {"version": version}
    if draw(st.booleans()):
        spec["headGroupSpec"]["rayStartParams"] = draw(PARAMS)
    if draw(st.booleans()):
        spec["enableInTreeAutoscaling"] = draw(st.booleans())
    if draw(st.booleans()):
        spec["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"} | draw(
            st.just({}) | st.just({"backend": "redis"})
        )
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "demo"}, "spec": spec}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=clusters())
def test_property_idempotent_and_pure(obj: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(obj)
    once = apply_defaults(obj)
    assert obj == snapshot
    assert apply_defaults(once) == once


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=clusters())
def test_property_valid_stays_valid(obj: dict[str, Any]) -> None:
    assume(validate(obj).ok)
    defaulted = apply_defaults(obj)
    result = validate(defaulted)
    assert result.ok, [e.text for e in result.errors]
    assert validate(defaulted, obj).ok  # as an UPDATE of the undefaulted object, too


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=clusters())
def test_property_defaulted_object_always_has_every_default(obj: dict[str, Any]) -> None:
    result = apply_defaults(obj)
    assert isinstance(result["spec"]["headGroupSpec"]["rayStartParams"], dict)
    for group in result["spec"]["workerGroupSpecs"]:
        for key in (
            "rayStartParams",
            "replicas",
            "minReplicas",
            "maxReplicas",
            "numOfHosts",
            "priority",
            "scaleStrategy",
        ):
            assert group[key] is not None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(spec=JSON, groups=st.lists(JSON, max_size=3))
def test_property_garbage_never_raises_and_is_idempotent(spec: Any, groups: list[Any]) -> None:
    for obj in ({"spec": spec}, {"spec": {"workerGroupSpecs": groups, "headGroupSpec": spec}}):
        snapshot = copy.deepcopy(obj)
        once = apply_defaults(obj)
        assert obj == snapshot
        assert apply_defaults(once) == once
