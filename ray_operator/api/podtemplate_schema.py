"""Structural CRD schemas for the Kubernetes types a RayCluster embeds (PodTemplateSpec above all).

A CRD that embeds a pod template must spell the whole PodSpec out as a *structural* OpenAPI v3
schema, or the API server prunes every field the schema does not name. Hand-writing it is
hopeless, and no Python package ships it in CRD form, so this module converts the Kubernetes
OpenAPI definitions published by ``kubernetes-validate`` (pinned to one Kubernetes minor,
:data:`KUBERNETES_VERSION`) into that form:

* ``$ref`` is inlined; a reference cycle (a JSONSchemaProps-like type) and an object that names no
  fields become ``x-kubernetes-preserve-unknown-fields: true``;
* ``type: [X, "null"]`` becomes ``X`` (the API server drops nulls for non-nullable fields);
* IntOrString becomes ``x-kubernetes-int-or-string: true``; Quantity the same plus the quantity
  pattern, exactly as kube-apiserver and controller-gen render them;
* ``required``, ``format``, ``x-kubernetes-list-type``/``list-map-keys``/``map-type`` are kept; a
  list-map key that is neither required nor defaulted gets its Kubernetes default (``protocol:
  TCP``, ``name: ""``), because the API server rejects a CRD whose map keys could be absent;
* descriptions and strategic-merge hints are dropped: inside an embedded template they would
  triple the CRD's size and push it past the 256 KiB that client-side ``kubectl apply`` can store;
* embedded ``ObjectMeta`` keeps only labels, annotations, name, namespace and finalizers, the
  fields a template may meaningfully set (as KubeRay does with ``generateEmbeddedObjectMeta``).

``kubernetes-validate`` is a development-time input only. The results are vendored in
``ray_operator/api/data/`` and read back by :func:`load_vendored_podtemplatespec` and
:func:`load_vendored_types`, so ``ray-operator crd`` never needs it; a unit test regenerates the
files and compares, so the vendored copies cannot drift from this converter. Decided against:
pydantic models of the Kubernetes types (they lose list-map keys and int-or-string) and the full
ObjectMeta (``managedFields`` and ``ownerReferences`` have no place in a template).
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Mapping
from typing import Any

KUBERNETES_VERSION = "v1.32.0"
"""The Kubernetes OpenAPI snapshot the vendored schemas are generated from."""

PODTEMPLATESPEC = "io.k8s.api.core.v1.PodTemplateSpec"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
"""The pattern kube-apiserver publishes for ``resource.Quantity``."""

EMBEDDED_METADATA_FIELDS = ("annotations", "finalizers", "labels", "name", "namespace")
"""The ObjectMeta fields an embedded template keeps."""

VENDORED_TYPES: tuple[str, ...] = (
    "io.k8s.api.core.v1.EnvFromSource",
    "io.k8s.api.core.v1.EnvVar",
    "io.k8s.api.core.v1.EnvVarSource",
    "io.k8s.api.core.v1.ResourceRequirements",
    "io.k8s.api.core.v1.SecurityContext",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.VolumeMount",
    "io.k8s.api.networking.v1.IngressTLS",
)
"""Other Kubernetes types RayCluster fields hold (``x-ray-operator-k8s-definition`` in the models)."""

PODTEMPLATESPEC_FILE = "podtemplatespec-v1.32.json"
TYPES_FILE = "k8s-types-v1.32.json"

# Defaults Kubernetes applies to list-map keys that its OpenAPI marks optional.
_LIST_MAP_KEY_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP", "name": ""}
# Extensions and keywords that carry over into a CRD schema unchanged.
_KEPT_KEYWORDS = (
    "enum",
    "format",
    "maxItems",
    "maxLength",
    "maximum",
    "minItems",
    "minLength",
    "minimum",
    "pattern",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
)
# Status of an embedded object is never read; dropping it keeps the CRD small.
_DROPPED_EMBEDDED_PROPERTIES = {"io.k8s.api.core.v1.Service": ("status",)}

Schema = dict[str, Any]


class SchemaConversionError(ValueError):
    """The Kubernetes definitions contain a construct this converter does not know how to render."""


def load_kubernetes_definitions(*, version: str = KUBERNETES_VERSION) -> Mapping[str, Any]:
    """The ``$defs`` of kubernetes-validate's ``_definitions.json`` (development-time only)."""
    try:
        root = importlib.resources.files("kubernetes_validate")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise SchemaConversionError(
            "regenerating the vendored Kubernetes schemas needs the 'kubernetes-validate' package "
            "(pip install -e '.[test]'); the CRD itself only reads ray_operator/api/data/"
        ) from exc
    text = root.joinpath(f"kubernetes-json-schema/{version}-local/_definitions.json").read_text(encoding="utf-8")
    definitions: Mapping[str, Any] = json.loads(text)["$defs"]
    return definitions


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _plain_type(raw: Any, *, where: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    kinds = [t for t in raw if t != "null"]
    if len(kinds) != 1:
        raise SchemaConversionError(f"{where}: cannot render type {raw!r} structurally")
    return str(kinds[0])


def _int_or_string(*, pattern: str | None) -> Schema:
    node: Schema = {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}
    if pattern is not None:
        node["pattern"] = pattern
    return node


class _Converter:
    """Walks one definition, inlining references; ``stack`` detects reference cycles."""

    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self._definitions = definitions

    def definition(self, name: str, *, stack: tuple[str, ...]) -> Schema:
        if name == INT_OR_STRING:
            return _int_or_string(pattern=None)
        if name == QUANTITY:
            return _int_or_string(pattern=QUANTITY_PATTERN)
        if name in stack:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        try:
            raw = self._definitions[name]
        except KeyError:
            raise SchemaConversionError(f"unknown Kubernetes definition {name!r}") from None
        node = self.node(raw, where=name, stack=(*stack, name))
        if name == OBJECT_META:
            properties = node.get("properties", {})
            node["properties"] = {k: properties[k] for k in EMBEDDED_METADATA_FIELDS if k in properties}
        for dropped in _DROPPED_EMBEDDED_PROPERTIES.get(name, ()):
            node.get("properties", {}).pop(dropped, None)
        return node

    def node(self, raw: Mapping[str, Any], *, where: str, stack: tuple[str, ...]) -> Schema:
        if "$ref" in raw:
            return self.definition(_ref_name(raw["$ref"]), stack=stack)
        if "oneOf" in raw or "anyOf" in raw or "allOf" in raw:
            raise SchemaConversionError(f"{where}: unexpected oneOf/anyOf/allOf outside IntOrString/Quantity")
        out: Schema = {}
        kind = _plain_type(raw.get("type"), where=where)
        if kind is not None:
            out["type"] = kind
        for keyword in _KEPT_KEYWORDS:
            if keyword in raw:
                out[keyword] = raw[keyword]
        if "properties" in raw:
            out["type"] = "object"
            out["properties"] = {
                key: self.node(value, where=f"{where}.{key}", stack=stack) for key, value in raw["properties"].items()
            }
        if "required" in raw:
            out["required"] = list(raw["required"])
        if "items" in raw:
            out["items"] = self.node(raw["items"], where=f"{where}[]", stack=stack)
        additional = raw.get("additionalProperties")
        if isinstance(additional, Mapping):
            out["additionalProperties"] = self.node(additional, where=f"{where}{{}}", stack=stack)
        if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
            out["x-kubernetes-preserve-unknown-fields"] = True
        if "type" not in out:
            raise SchemaConversionError(f"{where}: no type")
        if out.get("x-kubernetes-list-type") == "map":
            _default_list_map_keys(out, where=where)
        return out


def _default_list_map_keys(node: Schema, *, where: str) -> None:
    items = node["items"]
    required = set(items.get("required", ()))
    for key in node.get("x-kubernetes-list-map-keys", ()):
        prop = items["properties"][key]
        if key in required or "default" in prop:
            continue
        if key not in _LIST_MAP_KEY_DEFAULTS:
            raise SchemaConversionError(f"{where}: list-map key {key!r} is optional and has no known default")
        prop["default"] = _LIST_MAP_KEY_DEFAULTS[key]


def structural_schema(definitions: Mapping[str, Any], name: str) -> Schema:
    """The structural CRD schema of one Kubernetes definition, without descriptions."""
    return _Converter(definitions).definition(name, stack=())


def generate_podtemplatespec_schema(definitions: Mapping[str, Any]) -> Schema:
    """The embedded ``PodTemplateSpec`` schema (``template`` of head and worker groups)."""
    return structural_schema(definitions, PODTEMPLATESPEC)


def generate_types_schemas(definitions: Mapping[str, Any]) -> dict[str, Schema]:
    """The other vendored types, keyed by their Kubernetes definition name."""
    return {name: structural_schema(definitions, name) for name in VENDORED_TYPES}


def dump_schema_json(schema: Mapping[str, Any]) -> str:
    """The committed text form: sorted keys, one-space indent, trailing newline (stable diffs)."""
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


def render_vendored_files(definitions: Mapping[str, Any]) -> dict[str, str]:
    """File name -> exact text of every vendored file, as :func:`regenerate_vendored_files` writes it."""
    return {
        PODTEMPLATESPEC_FILE: dump_schema_json(generate_podtemplatespec_schema(definitions)),
        TYPES_FILE: dump_schema_json(generate_types_schemas(definitions)),
    }


def regenerate_vendored_files() -> list[str]:
    """Rewrite ``ray_operator/api/data/*.json`` from kubernetes-validate; returns the paths written.

    Run as ``python -m ray_operator.api.podtemplate_schema`` after bumping :data:`KUBERNETES_VERSION`.
    """
    data_dir = importlib.resources.files("ray_operator.api.data")
    written: list[str] = []
    for file_name, text in render_vendored_files(load_kubernetes_definitions()).items():
        target = data_dir.joinpath(file_name)
        with importlib.resources.as_file(target) as path:
            path.write_text(text, encoding="utf-8")
            written.append(str(path))
    return written


def _read_vendored(file_name: str) -> Any:
    return json.loads(importlib.resources.files("ray_operator.api.data").joinpath(file_name).read_text("utf-8"))


def load_vendored_podtemplatespec() -> Schema:
    """The committed PodTemplateSpec schema (a fresh copy each call; callers may mutate it)."""
    schema: Schema = _read_vendored(PODTEMPLATESPEC_FILE)
    return schema


def load_vendored_types() -> dict[str, Schema]:
    """The committed schemas of :data:`VENDORED_TYPES` (a fresh copy each call)."""
    types: dict[str, Schema] = _read_vendored(TYPES_FILE)
    return types


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for written_path in regenerate_vendored_files():
        print(f"wrote {written_path}")
