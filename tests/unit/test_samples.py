"""The samples are what users copy first: each must be accepted by the API server and the webhook as is.

No API server is available here, so each RayCluster is checked against the generated CRD's
``openAPIV3Schema`` by a small validator that follows the API server's rules for the features the
schema uses (types, int-or-string, enums, patterns, required, list-map keys) and, beyond what
the API server reports, flags fields the schema does not know: the API server would silently
prune them, which in a sample is always a mistake. The other objects in the sample files (Redis,
ConfigMaps, Secrets) are checked against the Kubernetes OpenAPI with kubernetes-validate.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from ray_operator.api import models
from ray_operator.api.crd import build_crd
from ray_operator.api.defaulting import apply_defaults
from ray_operator.api.validation import validate

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_FILES = sorted(SAMPLES.glob("ray_v1_raycluster.*.yaml"))
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result: dict[str, Any] = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return result


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def _rayclusters(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in _documents(path) if doc.get("kind") == "RayCluster"]


def _sample(name: str) -> dict[str, Any]:
    (cluster,) = _rayclusters(SAMPLES / f"ray_v1_raycluster.{name}.yaml")
    return cluster


# --- a validator for structural CRD schemas ------------------------------------------------------


def _type_ok(value: Any, kind: str) -> bool:
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    return checks[kind](value)


def schema_errors(value: Any, node: dict[str, Any], path: str) -> list[str]:
    """Errors of ``value`` against one structural schema node (API-server semantics, plus unknown fields)."""
    if value is None:
        return [] if node.get("nullable") else [f"{path}: null is not allowed (the API server drops it)"]
    if node.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            return [f"{path}: must be an integer or a string"]
        if isinstance(value, str) and "pattern" in node and not re.search(node["pattern"], value):
            return [f"{path}: {value!r} does not match {node['pattern']}"]
        return []
    kind = node.get("type")
    if kind is not None and not _type_ok(value, kind):
        return [f"{path}: must be of type {kind}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{path}: {value!r} is not one of {node['enum']}")
    if isinstance(value, str):
        if "pattern" in node and not re.search(node["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {node['pattern']}")
        if len(value) > node.get("maxLength", len(value)) or len(value) < node.get("minLength", 0):
            errors.append(f"{path}: length out of range")
    if kind in ("integer", "number"):
        low, high = {"int32": INT32, "int64": INT64}.get(node.get("format", ""), (None, None))
        if low is not None and high is not None and not low <= value <= high:
            errors.append(f"{path}: {value} does not fit {node['format']}")
        if "minimum" in node and (
            value < node["minimum"] or (node.get("exclusiveMinimum") and value == node["minimum"])
        ):
            errors.append(f"{path}: below the minimum {node['minimum']}")
        if "maximum" in node and (
            value > node["maximum"] or (node.get("exclusiveMaximum") and value == node["maximum"])
        ):
            errors.append(f"{path}: above the maximum {node['maximum']}")
    if isinstance(value, dict):
        errors.extend(_object_errors(value, node, path))
    if isinstance(value, list):
        errors.extend(_array_errors(value, node, path))
    return errors


def _object_errors(value: dict[str, Any], node: dict[str, Any], path: str) -> list[str]:
    errors = [f"{path}.{name}: Required value" for name in node.get("required", ()) if name not in value]
    properties = node.get("properties")
    additional = node.get("additionalProperties")
    for key, item in value.items():
        if properties is not None and key in properties:
            errors.extend(schema_errors(item, properties[key], f"{path}.{key}"))
        elif isinstance(additional, dict):
            errors.extend(schema_errors(item, additional, f"{path}[{key}]"))
        elif not node.get("x-kubernetes-preserve-unknown-fields"):
            errors.append(f"{path}.{key}: unknown field (the API server would prune it)")
    return errors


def _array_errors(value: list[Any], node: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    for index, item in enumerate(value):
        errors.extend(schema_errors(item, node.get("items", {}), f"{path}[{index}]"))
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "set" and len({repr(v) for v in value}) != len(value):
        errors.append(f"{path}: Duplicate value in a set")
    if list_type == "map":
        item_properties = node["items"].get("properties", {})
        keys = node["x-kubernetes-list-map-keys"]
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            identity = tuple(item.get(k, item_properties.get(k, {}).get("default")) for k in keys)
            if identity in seen:
                errors.append(f"{path}[{index}]: Duplicate value: {dict(zip(keys, identity, strict=True))}")
            seen.add(identity)
    return errors


def raycluster_schema_errors(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    # metadata is validated by the API server as ObjectMeta, not by the CRD schema.
    without_metadata = {k: v for k, v in obj.items() if k != "metadata"}
    return schema_errors(without_metadata, schema, "")


# --- the validator itself must catch what the API server would refuse or prune -------------------


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda o: o["spec"]["headGroupSpec"].update(rayStartparams={}), "unknown field"),
        (lambda o: o["spec"]["workerGroupSpecs"][0].update(replicas="2"), "must be of type integer"),
        (lambda o: o["spec"]["workerGroupSpecs"][0].update(maxReplicas=2**31), "does not fit int32"),
        (lambda o: o["spec"]["workerGroupSpecs"][0].pop("groupName"), "groupName: Required value"),
        (lambda o: o["spec"].update(upgradeStrategy={"type": "Rolling"}), "is not one of"),
        (
            lambda o: o["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(
                cpu="one"
            ),
            "does not match",
        ),
        (
            lambda o: o["spec"]["headGroupSpec"]["template"]["spec"]["containers"].append(
                {"name": "ray-head", "image": "busybox"}
            ),
            "Duplicate value",
        ),
        (
            lambda o: o["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"].append(
                {"containerPort": 6379, "name": "again"}
            ),
            "Duplicate value",
        ),
        (lambda o: o["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0].pop("name"), "name: Required"),
    ],
)
def test_schema_validator_catches(schema: dict[str, Any], mutate: Any, fragment: str) -> None:
    obj = copy.deepcopy(_sample("mini"))
    assert raycluster_schema_errors(obj, schema) == []
    mutate(obj)
    errors = raycluster_schema_errors(obj, schema)
    assert any(fragment in error for error in errors), errors


# --- every sample --------------------------------------------------------------------------------


def test_the_expected_samples_exist() -> None:
    names = {path.name for path in SAMPLE_FILES}
    for kind in ("mini", "heterogeneous", "complete", "autoscaler", "gcs-ft-redis"):
        assert f"ray_v1_raycluster.{kind}.yaml" in names


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_passes_the_crd_schema(path: Path, schema: dict[str, Any]) -> None:
    clusters = _rayclusters(path)
    assert len(clusters) == 1
    for cluster in clusters:
        assert cluster["apiVersion"] == "ray.io/v1"
        assert raycluster_schema_errors(cluster, schema) == []


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_passes_validation_without_errors_or_warnings(path: Path) -> None:
    for cluster in _rayclusters(path):
        result = validate(cluster)
        assert [error.text for error in result.errors] == []
        assert result.warnings == []


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_defaulted_sample_is_still_valid(path: Path, schema: dict[str, Any]) -> None:
    # What the mutating webhook stores must pass the schema and validation too.
    for cluster in _rayclusters(path):
        defaulted = apply_defaults(cluster)
        assert raycluster_schema_errors(defaulted, schema) == []
        assert validate(defaulted).errors == []


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_other_objects_are_valid_kubernetes(path: Path) -> None:
    for doc in _documents(path):
        if doc.get("kind") != "RayCluster":
            kubernetes_validate.validate(doc, "1.32.0", strict=True)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_ray_containers_use_a_ray_2_image_matching_ray_version(path: Path) -> None:
    for cluster in _rayclusters(path):
        spec = cluster["spec"]
        groups = [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]
        for group in groups:
            container = group["template"]["spec"]["containers"][0]
            assert container["image"] == f"rayproject/ray:{spec['rayVersion']}"
            assert spec["rayVersion"].startswith("2.")
            limits = container["resources"]["limits"]
            assert limits == container["resources"]["requests"], "samples teach requests = limits"
        head_ports = {p["name"]: p["containerPort"] for p in groups[0]["template"]["spec"]["containers"][0]["ports"]}
        assert head_ports["gcs-server"] == 6379
        assert head_ports["dashboard"] == 8265
        assert head_ports["client"] == 10001


def test_mini_is_one_head_and_one_worker() -> None:
    spec = _sample("mini")["spec"]
    (group,) = spec["workerGroupSpecs"]
    assert group["replicas"] == 1


def test_heterogeneous_groups_differ_in_cpu_and_memory() -> None:
    groups = _sample("heterogeneous")["spec"]["workerGroupSpecs"]
    assert len(groups) == 2
    limits = [g["template"]["spec"]["containers"][0]["resources"]["limits"] for g in groups]
    assert limits[0]["cpu"] != limits[1]["cpu"]
    assert limits[0]["memory"] != limits[1]["memory"]


def test_autoscaler_sample_enables_the_autoscaler() -> None:
    spec = _sample("autoscaler")["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["autoscalerOptions"]["version"] == "v2"
    assert spec["workerGroupSpecs"][0]["minReplicas"] < spec["workerGroupSpecs"][0]["maxReplicas"]


def test_gcs_ft_sample_brings_the_redis_it_points_at() -> None:
    docs = _documents(SAMPLES / "ray_v1_raycluster.gcs-ft-redis.yaml")
    by_kind = {doc["kind"]: doc for doc in docs}
    assert {"Deployment", "Service", "Secret", "RayCluster"} <= by_kind.keys()
    options = by_kind["RayCluster"]["spec"]["gcsFaultToleranceOptions"]
    host, port = options["redisAddress"].split(":")
    service = by_kind["Service"]
    assert host == service["metadata"]["name"]
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    ref = options["redisPassword"]["valueFrom"]["secretKeyRef"]
    secret = by_kind["Secret"]
    assert ref["name"] == secret["metadata"]["name"]
    password = secret["stringData"][ref["key"]]
    assert f"requirepass {password}" in next(d for d in docs if d["kind"] == "ConfigMap")["data"]["redis.conf"]
    assert (
        service["spec"]["selector"].items() <= by_kind["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    )


def _field_aliases(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if alias not in {"apiVersion", "kind", "metadata", "status"}:
            names.add(alias)
        for candidate in _nested_models(info.annotation):
            names |= _field_aliases(candidate, seen)
    return names


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found.extend(_nested_models(arg))
    return found


def test_complete_sample_shows_every_field() -> None:
    text = (SAMPLES / "ray_v1_raycluster.complete.yaml").read_text(encoding="utf-8")
    spec_fields = _field_aliases(models.RayClusterSpec, set())
    missing = sorted(name for name in spec_fields if not re.search(rf"(^|[\s#{{,]){re.escape(name)}:", text, re.M))
    assert missing == [], "document these fields in samples/ray_v1_raycluster.complete.yaml"
