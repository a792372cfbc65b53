"""Vendored OpenAPI v3 definitions of the built-in kinds the emulator serves, and how to regenerate them.

The strategic-merge-patch engine needs each field's patch strategy and merge key, the OpenAPI v3
documents need full built-in schemas (``kubectl explain pods``, and kubectl's own SMP computation,
which falls back with a warning on an incomplete schema), and both must work without the 22 MB
``kubernetes-validate`` package at runtime. So we vendor a gzip-compressed JSON subset: only the
definitions reachable from the kinds we serve, descriptions kept (``kubectl explain`` prints them).

The source is ``kubernetes-validate``'s ``v1.32.0-local/_definitions.json`` (JSON Schema 2020-12). It
is converted back to the OpenAPI v3 shape kube-apiserver publishes: ``["T", "null"]`` becomes ``T``,
``$ref`` with siblings becomes ``allOf: [{$ref}]`` plus the siblings, refs point at
``#/components/schemas/``, IntOrString becomes ``type: string, format: int-or-string``, Quantity
``type: string``, and the ``apiVersion``/``kind`` enums the converter invented are dropped.

Decided against: reading ``kubernetes-validate`` at runtime (a large dependency for a few hundred KB of
data), and hand-written merge-key tables (they drift from the real definitions).
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

SOURCE_VERSION = "v1.32.0-local"
VENDORED_FILE = "builtin_definitions.json.gz"
REF_PREFIX = "#/components/schemas/"
_SOURCE_REF_PREFIX = "#/$defs/"

ROOT_DEFINITIONS: tuple[str, ...] = (
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.Event",
    "io.k8s.api.core.v1.Node",
    "io.k8s.api.core.v1.Endpoints",
    "io.k8s.api.events.v1.Event",
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.apps.v1.StatefulSet",
    "io.k8s.api.apps.v1.ReplicaSet",
    "io.k8s.api.apps.v1.DaemonSet",
    "io.k8s.api.policy.v1.PodDisruptionBudget",
    "io.k8s.api.networking.v1.NetworkPolicy",
    "io.k8s.api.discovery.v1.EndpointSlice",
    "io.k8s.api.batch.v1.Job",
    "io.k8s.api.networking.v1.Ingress",
    "io.k8s.api.rbac.v1.Role",
    "io.k8s.api.rbac.v1.RoleBinding",
    "io.k8s.api.rbac.v1.ClusterRole",
    "io.k8s.api.rbac.v1.ClusterRoleBinding",
    "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
    "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
)
"""The served built-in kinds; their ``...List`` kinds are included too."""

META_DEFINITIONS: tuple[str, ...] = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
)

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if len(types) == 1 else types
        elif key == "$ref" and isinstance(value, str):
            out[key] = REF_PREFIX + value.removeprefix(_SOURCE_REF_PREFIX)
        else:
            out[key] = _convert(value)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def _convert_definition(name: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    if name == _INT_OR_STRING:
        return {
            "description": "IntOrString is a type that can hold an int32 or a string.",
            "type": "string",
            "format": "int-or-string",
        }
    if name == _QUANTITY:
        return {"description": "Quantity is a fixed-point representation of a number.", "type": "string"}
    converted: dict[str, Any] = _convert(definition)
    if "x-kubernetes-group-version-kind" in converted:
        for field in ("apiVersion", "kind"):
            prop = converted.get("properties", {}).get(field)
            if isinstance(prop, dict):
                prop.pop("enum", None)
    return converted


def refs(node: Any, *, prefix: str) -> list[str]:
    """The definition names every ``$ref`` under ``node`` points at, with ``prefix`` removed."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value.removeprefix(prefix))
            else:
                found.extend(refs(value, prefix=prefix))
    elif isinstance(node, list):
        for item in node:
            found.extend(refs(item, prefix=prefix))
    return found


def convert_definitions(source: Mapping[str, Any]) -> dict[str, Any]:
    """The vendored document built from a ``_definitions.json`` ``$defs`` mapping (pure)."""
    wanted = [*ROOT_DEFINITIONS, *(f"{name}List" for name in ROOT_DEFINITIONS), *META_DEFINITIONS]
    seen: set[str] = set()
    stack = [name for name in wanted if name in source]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(ref for ref in refs(source[name], prefix=_SOURCE_REF_PREFIX) if ref not in seen)
    definitions = {name: _convert_definition(name, source[name]) for name in sorted(seen)}
    return {"source": f"kubernetes-validate {SOURCE_VERSION}", "definitions": definitions}


def source_definitions_path() -> Path:
    """Where the development-time input lives (needs the ``kubernetes-validate`` test dependency)."""
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent
    return base / "kubernetes-json-schema" / SOURCE_VERSION / "_definitions.json"


def encode(document: Mapping[str, Any]) -> bytes:
    """Deterministic gzip JSON (mtime 0, sorted keys) so that regeneration is byte-for-byte stable."""
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def regenerate() -> bytes:
    """The vendored file's bytes, regenerated from ``kubernetes-validate``."""
    source = json.loads(source_definitions_path().read_text())
    return encode(convert_definitions(source["$defs"]))


def vendored_path() -> Path:
    return Path(__file__).parent / "data" / VENDORED_FILE


@functools.cache
def load_definitions() -> Mapping[str, Any]:
    """The vendored definitions by name (read once; treat as read-only)."""
    raw = resources.files("ray_operator.sandbox.schema").joinpath("data", VENDORED_FILE).read_bytes()
    document: dict[str, Any] = json.loads(gzip.decompress(raw))
    definitions: dict[str, Any] = document["definitions"]
    return definitions


@functools.cache
def _gvk_index() -> Mapping[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, definition in load_definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            index[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return index


def split_api_version(api_version: str) -> tuple[str, str]:
    """``("apps", "v1")`` for ``apps/v1``, ``("", "v1")`` for ``v1``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition name of a built-in kind (``io.k8s.api.core.v1.Pod``), or None when not vendored."""
    return _gvk_index().get((group, version, kind))


def resolve(schema: Mapping[str, Any] | None, definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow ``$ref`` and single-``allOf`` refs; the siblings of an ``allOf`` ref are kept for list metadata."""
    if not schema:
        return {}
    current: Mapping[str, Any] = schema
    for _ in range(16):
        ref = current.get("$ref")
        if ref is None:
            all_of = current.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
                siblings = {k: v for k, v in current.items() if k != "allOf"}
                target = resolve(all_of[0], definitions)
                return {**target, **siblings}
            return current
        current = definitions.get(str(ref).removeprefix(REF_PREFIX), {})
    return current


def prune_unknown_fields(obj: Mapping[str, Any], *, api_version: str, kind: str) -> tuple[dict[str, Any], list[str]]:
    """A copy of a built-in object without the fields its Go type lacks, and their paths in document order.

    kube-apiserver decodes built-ins into typed structs, so unknown fields are always dropped and, with
    ``fieldValidation=Strict``, reported as ``unknown field "spec.containers[0].imagePullPolcy"``.
    Opaque types (RawExtension, JSON, FieldsV1) keep anything. Kinds that are not vendored are
    returned unchanged.
    """
    out: dict[str, Any] = copy.deepcopy(dict(obj))
    group, version = split_api_version(api_version)
    name = definition_name(group, version, kind)
    if name is None:
        return out, []
    definitions = load_definitions()
    unknown: list[str] = []
    try:
        _prune_typed(out, definitions[name], definitions, "", unknown)
    except RecursionError:
        return out, []
    return out, unknown


def _prune_typed(
    value: Any, schema: Mapping[str, Any], definitions: Mapping[str, Any], path: str, unknown: list[str]
) -> None:
    resolved = resolve(schema, definitions)
    if isinstance(value, dict):
        props = resolved.get("properties")
        extra = resolved.get("additionalProperties")
        if not isinstance(props, Mapping) and not isinstance(extra, Mapping):
            return  # opaque: RawExtension, JSON, FieldsV1
        for key in list(value):
            child = f"{path}.{key}" if path else key
            if isinstance(props, Mapping) and key in props:
                _prune_typed(value[key], props[key], definitions, child, unknown)
            elif isinstance(extra, Mapping):
                _prune_typed(value[key], extra, definitions, child, unknown)
            else:
                unknown.append(child)
                del value[key]
    elif isinstance(value, list):
        items = resolved.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                _prune_typed(item, items, definitions, f"{path}[{index}]", unknown)


def main() -> None:
    """Regenerate the vendored file (``python -m ray_operator.sandbox.schema.definitions``)."""
    vendored_path().write_bytes(regenerate())


if __name__ == "__main__":
    main()
