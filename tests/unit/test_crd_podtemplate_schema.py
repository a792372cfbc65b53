"""The embedded PodTemplateSpec schema: generated faithfully, vendored without drift, usable offline."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ray_operator.api import podtemplate_schema as pts

REGENERATE_HINT = "regenerate with: .venv/bin/python -m ray_operator.api.podtemplate_schema"


@pytest.fixture(scope="module")
def definitions() -> Any:
    return pts.load_kubernetes_definitions()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return pts.load_vendored_podtemplatespec()


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.get("properties", {}).items():
            yield from _walk(value, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            yield from _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from _walk(node["additionalProperties"], f"{path}{{}}")


def test_vendored_files_equal_their_regeneration(definitions: Any) -> None:
    from importlib.resources import files

    for file_name, expected in pts.render_vendored_files(definitions).items():
        committed = files("ray_operator.api.data").joinpath(file_name).read_text("utf-8")
        assert committed == expected, f"{file_name} is stale; {REGENERATE_HINT}"


def test_containers_are_a_list_map_keyed_by_name_and_name_is_required(template: dict[str, Any]) -> None:
    containers = template["properties"]["spec"]["properties"]["containers"]
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert "name" in containers["items"]["required"]
    assert "containers" in template["properties"]["spec"]["required"]


def test_optional_list_map_keys_get_the_kubernetes_default(template: dict[str, Any]) -> None:
    spec = template["properties"]["spec"]["properties"]
    ports = spec["containers"]["items"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["items"]["properties"]["protocol"]["default"] == "TCP"
    pull_secrets = spec["imagePullSecrets"]
    assert pull_secrets["items"]["properties"]["name"]["default"] == ""


def test_quantities_are_int_or_string_with_the_quantity_pattern(template: dict[str, Any]) -> None:
    resources = template["properties"]["spec"]["properties"]["containers"]["items"]["properties"]["resources"]
    limit = resources["properties"]["limits"]["additionalProperties"]
    assert limit["x-kubernetes-int-or-string"] is True
    assert limit["pattern"] == pts.QUANTITY_PATTERN
    assert "type" not in limit


def test_int_or_string_ports_have_no_pattern(template: dict[str, Any]) -> None:
    probe = template["properties"]["spec"]["properties"]["containers"]["items"]["properties"]["livenessProbe"]
    port = probe["properties"]["httpGet"]["properties"]["port"]
    assert port["x-kubernetes-int-or-string"] is True
    assert "pattern" not in port


def test_embedded_metadata_keeps_only_template_fields(template: dict[str, Any]) -> None:
    metadata = template["properties"]["metadata"]
    assert sorted(metadata["properties"]) == sorted(pts.EMBEDDED_METADATA_FIELDS)


def test_no_descriptions_no_nullable_types_no_refs(template: dict[str, Any]) -> None:
    text = json.dumps(template)
    assert '"description"' not in text
    assert "$ref" not in text
    assert "x-kubernetes-patch" not in text
    for path, node in _walk(template):
        assert node.get("type") != "null" and not isinstance(node.get("type"), list), path


def test_every_node_is_typed_or_int_or_string_or_preserving(template: dict[str, Any]) -> None:
    for path, node in _walk(template):
        typed = (
            "type" in node or node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        )
        assert typed, f"untyped schema node at {path or '<root>'}"


def test_formats_are_kept(template: dict[str, Any]) -> None:
    spec = template["properties"]["spec"]["properties"]
    assert spec["terminationGracePeriodSeconds"]["format"] == "int64"
    port = spec["containers"]["items"]["properties"]["ports"]["items"]["properties"]["containerPort"]
    assert port == {"format": "int32", "type": "integer"}


def test_reference_cycles_become_preserve_unknown_fields() -> None:
    defs = {
        "Props": {
            "type": ["object", "null"],
            "properties": {
                "name": {"type": ["string", "null"]},
                "items": {"$ref": "#/$defs/Props"},
            },
        }
    }
    schema = pts.structural_schema(defs, "Props")
    assert schema["properties"]["name"] == {"type": "string"}
    assert schema["properties"]["items"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def test_objects_without_fields_preserve_unknown_fields() -> None:
    defs = {"Raw": {"type": "object", "description": "opaque"}}
    assert pts.structural_schema(defs, "Raw") == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def test_unknown_unions_and_undefaultable_map_keys_are_refused() -> None:
    union = {"U": {"oneOf": [{"type": "string"}, {"type": "boolean"}]}}
    with pytest.raises(pts.SchemaConversionError, match="oneOf"):
        pts.structural_schema(union, "U")
    two_types = {"T": {"type": ["string", "integer"]}}
    with pytest.raises(pts.SchemaConversionError, match="T"):
        pts.structural_schema(two_types, "T")
    list_map = {
        "L": {
            "type": "array",
            "items": {"type": "object", "properties": {"zone": {"type": "string"}}},
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["zone"],
        }
    }
    with pytest.raises(pts.SchemaConversionError, match="zone"):
        pts.structural_schema(list_map, "L")


def test_vendored_types_cover_what_the_crd_embeds() -> None:
    types = pts.load_vendored_types()
    assert set(types) == set(pts.VENDORED_TYPES)
    service = types["io.k8s.api.core.v1.Service"]
    assert "status" not in service["properties"]
    assert sorted(service["properties"]["metadata"]["properties"]) == sorted(pts.EMBEDDED_METADATA_FIELDS)
    env = types["io.k8s.api.core.v1.EnvVar"]
    assert env["required"] == ["name"]


def test_vendored_schema_loads_without_kubernetes_validate() -> None:
    # A fresh interpreter in which importing kubernetes_validate fails, as on a production install.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'kubernetes_validate':\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from ray_operator.api.podtemplate_schema import load_vendored_podtemplatespec\n"
        "print(len(load_vendored_podtemplatespec()['properties']['spec']['properties']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 30
