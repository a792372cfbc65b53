"""The generated RayCluster CRD: what kubectl, the API server and existing KubeRay users rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, Field

from ray_operator.api import crd, structural
from ray_operator.api.models import K8S_DEFINITION_KEY
from ray_operator.api.podtemplate_schema import load_vendored_podtemplatespec, load_vendored_types

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "config" / "crd" / "bases" / "ray.io_rayclusters.yaml"
REGENERATE_HINT = "regenerate with: .venv/bin/ray-operator crd > config/crd/bases/ray.io_rayclusters.yaml"
ANNOTATION_LIMIT = 262144  # bytes; metadata.annotations of one object, where kubectl apply stores it


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return crd.build_crd()


@pytest.fixture(scope="module")
def schema(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return result


def _spec(schema: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = schema["properties"]["spec"]["properties"]
    return result


def _worker(schema: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _spec(schema)["workerGroupSpecs"]["items"]["properties"]
    return result


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.get("properties", {}).items():
            yield from _walk(value, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            yield from _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from _walk(node["additionalProperties"], f"{path}{{}}")


# --- the checked-in file and the CLI ---------------------------------------------------------------


def test_checked_in_crd_equals_generator_output() -> None:
    assert CRD_FILE.read_text(encoding="utf-8") == crd.render_crd_yaml(), f"{CRD_FILE} is stale; {REGENERATE_HINT}"


def test_cli_prints_the_crd_without_kubernetes_validate_installed() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'kubernetes_validate':\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from ray_operator.cli import main\n"
        "sys.exit(main(['crd']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == CRD_FILE.read_text(encoding="utf-8")


def test_console_script_and_module_print_the_checked_in_crd() -> None:
    """The issue's check, literally: `ray-operator crd | diff - config/crd/bases/ray.io_rayclusters.yaml`."""
    script = Path(sys.executable).parent / "ray-operator"
    for command in ([str(script), "crd"], [sys.executable, "-m", "ray_operator", "crd"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout == CRD_FILE.read_text(encoding="utf-8"), f"{command} differs; {REGENERATE_HINT}"


def test_rendering_is_deterministic_and_round_trips(document: dict[str, Any]) -> None:
    first = crd.render_crd_yaml()
    assert first == crd.render_crd_yaml()
    assert yaml.safe_load(first) == document


def test_crd_fits_the_client_side_apply_annotation(document: dict[str, Any]) -> None:
    # kubectl apply stores the object as compact JSON in last-applied-configuration.
    as_json = json.dumps(document, separators=(",", ":"))
    assert len(as_json.encode()) < ANNOTATION_LIMIT - 4096, len(as_json)
    assert len(CRD_FILE.read_bytes()) < ANNOTATION_LIMIT, "the YAML file itself should stay under 256 KiB"


def test_worker_pod_spec_is_an_alias_of_the_head_pod_spec() -> None:
    text = CRD_FILE.read_text(encoding="utf-8")
    assert text.count("&podSpec") == 1
    assert text.count("*podSpec") == 1


# --- CRD-level facts (KubeRay compatibility) -------------------------------------------------------


def test_names_scope_and_version(document: dict[str, Any]) -> None:
    assert document["metadata"]["name"] == "rayclusters.ray.io"
    spec = document["spec"]
    assert spec["group"] == "ray.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "RayCluster",
        "listKind": "RayClusterList",
        "plural": "rayclusters",
        "singular": "raycluster",
        "categories": ["all"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns_match_kuberay(document: dict[str, Any]) -> None:
    columns = document["spec"]["versions"][0]["additionalPrinterColumns"]
    summary = [(c["name"], c["type"], c["jsonPath"], c.get("priority", 0)) for c in columns]
    assert summary == [
        ("desired workers", "integer", ".status.desiredWorkerReplicas", 0),
        ("available workers", "integer", ".status.availableWorkerReplicas", 0),
        ("cpus", "string", ".status.desiredCPU", 0),
        ("memory", "string", ".status.desiredMemory", 0),
        ("gpus", "string", ".status.desiredGPU", 0),
        ("tpus", "string", ".status.desiredTPU", 1),
        ("status", "string", ".status.state", 0),
        ("age", "date", ".metadata.creationTimestamp", 0),
        ("head pod IP", "string", ".status.head.podIP", 1),
        ("head service IP", "string", ".status.head.serviceIP", 1),
    ]


def test_printer_columns_point_at_status_fields_that_exist(document: dict[str, Any], schema: dict[str, Any]) -> None:
    for column in document["spec"]["versions"][0]["additionalPrinterColumns"]:
        parts = column["jsonPath"].lstrip(".").split(".")
        if parts[0] == "metadata":
            continue
        node = schema
        for part in parts:
            node = node["properties"][part]
        assert node.get("type") or node.get("x-kubernetes-int-or-string"), column


def test_immutability_rules(schema: dict[str, Any]) -> None:
    managed_by = _spec(schema)["managedBy"]
    assert {"rule": "self == oldSelf", "message": "the managedBy field is immutable"} in managed_by[
        "x-kubernetes-validations"
    ]
    assert managed_by["enum"] == ["ray.io/kuberay-operator", "kueue.x-k8s.io/multikueue"]
    backend = _spec(schema)["gcsFaultToleranceOptions"]["properties"]["backend"]
    assert backend["x-kubernetes-validations"] == [
        {"rule": "self == oldSelf", "message": "gcsFaultToleranceOptions.backend is immutable"}
    ]
    rules = [path for path, node in _walk(schema) if "x-kubernetes-validations" in node]
    assert sorted(rules) == [".spec.gcsFaultToleranceOptions.backend", ".spec.managedBy"]


def test_required_fields(schema: dict[str, Any]) -> None:
    assert schema["required"] == ["spec"]
    assert schema["properties"]["spec"]["required"] == ["headGroupSpec"]
    assert schema["properties"]["spec"]["properties"]["headGroupSpec"]["required"] == ["template"]
    assert set(_spec(schema)["workerGroupSpecs"]["items"]["required"]) == {"groupName", "template"}


def test_schema_defaults_are_kuberays_and_nothing_else(schema: dict[str, Any]) -> None:
    worker = _worker(schema)
    assert worker["replicas"]["default"] == 0
    assert worker["minReplicas"]["default"] == 0
    assert worker["maxReplicas"]["default"] == 2147483647
    assert worker["numOfHosts"]["default"] == 1
    assert worker["priority"]["default"] == 0
    embedded = {".spec.headGroupSpec.template", ".spec.workerGroupSpecs[].template", ".spec.headGroupSpec.headService"}
    ours = [
        path
        for path, node in _walk(schema)
        if "default" in node and not any(path.startswith(prefix) for prefix in embedded)
    ]
    assert sorted(ours) == sorted(
        "." + path for path in crd.SCHEMA_DEFAULTS if not path.startswith("spec.networkPolicy")
    )


def test_enums_from_the_models(schema: dict[str, Any]) -> None:
    spec = _spec(schema)
    assert spec["upgradeStrategy"]["properties"]["type"]["enum"] == ["Recreate", "RollingUpdate", "None"]
    assert spec["autoscalerOptions"]["properties"]["upscalingMode"]["enum"] == ["Default", "Aggressive", "Conservative"]
    assert spec["headGroupSpec"]["properties"]["ingressOptions"]["properties"]["pathType"]["enum"] == [
        "Exact",
        "Prefix",
        "ImplementationSpecific",
    ]


def test_our_fields_are_described_for_kubectl_explain(schema: dict[str, Any]) -> None:
    spec = _spec(schema)
    assert "worker" in spec["workerGroupSpecs"]["description"].lower()
    for name in ("groupName", "replicas", "minReplicas", "maxReplicas", "rayStartParams", "template"):
        assert _worker(schema)[name].get("description"), name
    undocumented = [
        path
        for path, node in _walk(schema["properties"]["spec"], ".spec")
        if "description" not in node
        and not path.endswith(("{}", "[]"))
        and ".template." not in path
        and ".headService." not in path
        and not any(
            marker in path for marker in (".resources.", ".securityContext.", ".env[]", ".envFrom[]", ".valueFrom.")
        )
        and ".volumeMounts[]" not in path
        and ".tls[]" not in path
    ]
    assert undocumented == []


def test_pod_templates_are_the_vendored_schema_without_descriptions(schema: dict[str, Any]) -> None:
    vendored = load_vendored_podtemplatespec()
    for template in (_spec(schema)["headGroupSpec"]["properties"]["template"], _worker(schema)["template"]):
        assert template["description"]
        assert {k: v for k, v in template.items() if k != "description"} == vendored
        assert "description" not in json.dumps(template["properties"])


def test_embedded_kubernetes_types(schema: dict[str, Any]) -> None:
    types = load_vendored_types()
    autoscaler = _spec(schema)["autoscalerOptions"]["properties"]
    without_description = {k: v for k, v in autoscaler["resources"].items() if k != "description"}
    assert without_description == types["io.k8s.api.core.v1.ResourceRequirements"]
    assert autoscaler["env"]["items"] == types["io.k8s.api.core.v1.EnvVar"]
    assert autoscaler["volumeMounts"]["items"] == types["io.k8s.api.core.v1.VolumeMount"]
    head_service = _spec(schema)["headGroupSpec"]["properties"]["headService"]
    assert head_service["properties"]["spec"]["properties"]["ports"]["x-kubernetes-list-map-keys"] == [
        "port",
        "protocol",
    ]


def test_status_quantities_are_int_or_string(schema: dict[str, Any]) -> None:
    status = schema["properties"]["status"]["properties"]
    for name in ("desiredCPU", "desiredMemory", "desiredGPU", "desiredTPU"):
        assert status[name]["x-kubernetes-int-or-string"] is True, name
        assert "type" not in status[name]
    assert status["conditions"]["x-kubernetes-list-type"] == "map"
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]


def test_no_optional_unions_and_no_titles(schema: dict[str, Any]) -> None:
    for path, node in _walk(schema):
        assert "title" not in node, path
        assert "oneOf" not in node, path
        assert "anyOf" not in node or node.get("x-kubernetes-int-or-string") is True, path
        assert K8S_DEFINITION_KEY not in node, path


# --- structural-schema checker ---------------------------------------------------------------------


def test_generated_schema_is_structural(schema: dict[str, Any]) -> None:
    assert structural.structural_problems(schema) == []


@pytest.mark.parametrize(
    ("node", "fragment"),
    [
        ({"properties": {"a": {}}}, "no type"),
        (
            {"properties": {"a": {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}}},
            "exclusive",
        ),
        ({"properties": {"a": {"type": "array"}}}, "one items schema"),
        ({"properties": {"a": {"type": "string", "nullable": True, "title": "x", "x-foo": 1}}}, "unknown keyword"),
        ({"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "boolean"}]}}}, "anyOf"),
        ({"properties": {"a": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}}, "uniqueItems"),
        ({"properties": {"a": {"type": "string", "oneOf": [{"type": "string"}]}}}, "oneOf"),
        ({"properties": {"a": {"$ref": "#/x"}}}, "$ref"),
        (
            {
                "properties": {
                    "a": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"k": {"type": "string"}}},
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["k"],
                    }
                }
            },
            "required or have a default",
        ),
        ({"properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string"}}}}}, "metadata"),
        ({"properties": {"a": {"x-kubernetes-int-or-string": True, "type": "string"}}}, "must not have a type"),
        ({"properties": {"a": {"type": "integer", "default": "0"}}}, "not of type integer"),
        ({"properties": {"a": {"type": "string", "enum": ["a", 1]}}}, "not of type string"),
        ({"properties": {"a": {"type": "integer", "default": True}}}, "not of type integer"),
    ],
)
def test_structural_checker_catches(node: dict[str, Any], fragment: str) -> None:
    problems = structural.structural_problems({"type": "object", **node})
    assert any(fragment in problem for problem in problems), problems


# --- the converter on a small model of its own -----------------------------------------------------


class _Leaf(BaseModel):
    """A leaf."""

    size: int | None = Field(default=None, description="How big.", gt=0)
    tags: set[str] | None = None
    children: list[_Leaf] | None = None


class _Spec(BaseModel):
    """A spec."""

    mode: Literal["a", "b"] | None = Field(default=None, description="The mode.")
    port: int | str | None = Field(default=None, description="A port.")
    leaf: _Leaf = Field(description="The leaf.")
    labels: dict[str, str] | None = None
    env: list[dict[str, Any]] | None = Field(
        default=None, json_schema_extra={K8S_DEFINITION_KEY: "io.k8s.api.core.v1.EnvVar"}
    )


class _Toy(BaseModel):
    spec: _Spec


def test_converter_on_a_toy_model() -> None:
    schema = crd.openapi_schema_from_model(_Toy)
    spec = schema["properties"]["spec"]
    assert spec["description"] == "A spec."
    assert spec["required"] == ["leaf"]
    props = spec["properties"]
    assert props["mode"] == {"description": "The mode.", "enum": ["a", "b"], "type": "string"}
    assert props["port"]["x-kubernetes-int-or-string"] is True and "type" not in props["port"]
    leaf = props["leaf"]
    assert leaf["description"] == "The leaf."
    assert leaf["properties"]["size"] == {
        "description": "How big.",
        "type": "integer",
        "minimum": 0,
        "exclusiveMinimum": True,
    }
    assert leaf["properties"]["tags"] == {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
    assert leaf["properties"]["children"]["items"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert props["env"]["items"] == load_vendored_types()["io.k8s.api.core.v1.EnvVar"]
    assert structural.structural_problems(schema) == []


def test_pydantic_raw_bounds_become_openapi_bounds(schema: dict[str, Any]) -> None:
    condition = schema["properties"]["status"]["properties"]["conditions"]["items"]["properties"]
    assert condition["observedGeneration"]["minimum"] == 0
    assert "ge" not in condition["observedGeneration"]


def test_converter_refuses_what_has_no_structural_form() -> None:
    class Union(BaseModel):
        value: int | bool

    class Holder(BaseModel):
        spec: Union

    with pytest.raises(crd.CrdGenerationError, match=r"spec\.value"):
        crd.openapi_schema_from_model(Holder)

    class Unknown(BaseModel):
        thing: dict[str, Any] = Field(json_schema_extra={K8S_DEFINITION_KEY: "io.k8s.api.apps.v1.Deployment"})

    class Holder2(BaseModel):
        spec: Unknown

    with pytest.raises(crd.CrdGenerationError, match=r"spec\.thing.*VENDORED_TYPES"):
        crd.openapi_schema_from_model(Holder2)

    class Odd(BaseModel):
        count: int = Field(json_schema_extra={"multipleOfSeven": True})

    class Holder3(BaseModel):
        spec: Odd

    with pytest.raises(crd.CrdGenerationError, match=r"spec\.count.*multipleOfSeven"):
        crd.openapi_schema_from_model(Holder3)


def test_converter_refuses_a_model_default_that_contradicts_the_schema_default() -> None:
    class Group(BaseModel):
        maxReplicas: int = 10

    class Spec(BaseModel):
        workerGroupSpecs: list[Group]

    class Holder(BaseModel):
        spec: Spec

    with pytest.raises(crd.CrdGenerationError, match=r"maxReplicas.*agree"):
        crd.openapi_schema_from_model(Holder)
