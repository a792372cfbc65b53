"""The samples are what users copy first: each must be accepted by the API server and the webhook as is.

No API server is available here, so each RayCluster goes through the generated CRD's
``openAPIV3Schema`` the way the API server would take it - pruned, defaulted and validated by the
sandbox's implementation of apiextensions (``ray_operator.sandbox.schema``, the one this project has)
- and, beyond what the API server reports, a pruned field is an error: the API server would drop it
silently, which in a sample is always a mistake. The other objects in the sample files (Redis,
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
from ray_operator.sandbox.schema import apply_defaults as apply_schema_defaults
from ray_operator.sandbox.schema import prune
from ray_operator.sandbox.schema import validate as validate_schema

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_FILES = sorted(SAMPLES.glob("ray_v1_raycluster.*.yaml"))


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


# --- the API server's schema checks, as the sandbox implements them ------------------------------


def raycluster_schema_errors(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What the API server would do with ``obj`` on create: prune, default, validate against the CRD schema.

    Pruned fields are reported too: the API server drops them silently, which in a sample is always a
    mistake (a misspelt field that never takes effect).
    """
    pruned, unknown = prune(obj, schema)
    causes = validate_schema(apply_schema_defaults(pruned, schema), schema)
    return [f"{path}: unknown field (the API server would prune it)" for path in unknown] + [
        f"{cause.field}: {cause.message}" for cause in causes
    ]


# --- the checks must catch what the API server would refuse or prune -----------------------------


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda o: o["spec"]["headGroupSpec"].update(rayStartparams={}), "unknown field"),
        (lambda o: o["spec"]["workerGroupSpecs"][0].update(replicas="2"), "must be of type integer"),
        (lambda o: o["spec"]["workerGroupSpecs"][0].pop("groupName"), "groupName: Required value"),
        (lambda o: o["spec"].update(upgradeStrategy={"type": "Rolling"}), "Unsupported value"),
        (
            lambda o: o["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(
                cpu="one"
            ),
            "should match",
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
def test_schema_check_catches(schema: dict[str, Any], mutate: Any, fragment: str) -> None:
    obj = copy.deepcopy(_sample("mini"))
    assert raycluster_schema_errors(obj, schema) == []
    mutate(obj)
    errors = raycluster_schema_errors(obj, schema)
    assert any(fragment in error for error in errors), errors


def test_an_int32_overflow_passes_the_schema_but_not_validation(schema: dict[str, Any]) -> None:
    """The API server does not range-check ``format: int32``; the operator's validation does, so samples are
    checked by both (below)."""
    obj = copy.deepcopy(_sample("mini"))
    obj["spec"]["workerGroupSpecs"][0]["maxReplicas"] = 2**31
    assert raycluster_schema_errors(obj, schema) == []
    assert [error.path for error in validate(obj).errors] == ["spec.workerGroupSpecs[0].maxReplicas"]


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
