"""The ``rayclusters.ray.io`` CustomResourceDefinition, generated from the pydantic models.

The models in :mod:`ray_operator.api.models` are the one definition of the RayCluster API; this
module turns ``RayCluster.model_json_schema()`` into the *structural* OpenAPI v3 schema the API
server demands, so the CRD can never disagree with the models (it is generated, never hand-edited):

* ``$defs`` are inlined; Optionals lose their ``null`` branch (no ``anyOf`` for them); ``int | str``
  becomes ``x-kubernetes-int-or-string``; ``Literal``/enums become ``enum``; sets become
  ``x-kubernetes-list-type: set``; JSON-Schema-2020 numeric ``exclusiveMinimum`` becomes the
  OpenAPI v3.0 boolean form; titles go, descriptions on our own fields stay (so ``kubectl explain
  rayclusters.spec.workerGroupSpecs`` teaches);
* fields that hold Kubernetes types (pod templates, the head Service, autoscaler resources/env...)
  are plain dicts in the models, marked ``x-ray-operator-k8s-definition: <definition>``; their
  schema is the vendored one from :mod:`ray_operator.api.podtemplate_schema` (for a list, its items');
* schema defaults only where KubeRay's CRD has them (:data:`SCHEMA_DEFAULTS`): a default in the
  schema is written into every stored object, so a pydantic default that only states the
  *behaviour* of an absent field (``enableIngress=False``...) stays out;
* KubeRay's printer columns, ``categories: [all]``, the status subresource and the two CEL
  immutability rules (``spec.managedBy``, ``spec.gcsFaultToleranceOptions.backend``).

``build_crd`` refuses a schema that is not structural, checked by :mod:`ray_operator.api.structural`.

Output is deterministic (sorted keys). The CRD must stay small enough for plain ``kubectl apply
-f``, which stores the whole object as JSON in a 256 KiB annotation (about 150 KiB here). The YAML
file is kept under 256 KiB too: leaf schema nodes are in flow style (``{type: string}``) and the
worker pod spec, identical to the head's, is a YAML alias (``*podSpec``) of it; kubectl and
kustomize expand aliases, so the API server sees two full copies.
Decided against: embedding descriptions inside the pod templates (3x the size), a ``scale``
subresource (a RayCluster has several replica counts), and a v1alpha1 version (never stored here).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from ray_operator.api import constants
from ray_operator.api.models import K8S_DEFINITION_KEY
from ray_operator.api.podtemplate_schema import (
    PODTEMPLATESPEC,
    load_vendored_podtemplatespec,
    load_vendored_types,
)
from ray_operator.api.structural import INT_OR_STRING, SCALAR_TYPES, structural_problems

Schema = dict[str, Any]

SCHEMA_DEFAULTS: Mapping[str, Any] = {
    "spec.workerGroupSpecs[].replicas": 0,
    "spec.workerGroupSpecs[].minReplicas": 0,
    "spec.workerGroupSpecs[].maxReplicas": constants.DEFAULT_MAX_REPLICAS,
    "spec.workerGroupSpecs[].numOfHosts": constants.DEFAULT_NUM_OF_HOSTS,
    "spec.workerGroupSpecs[].priority": 0,
    "spec.networkPolicy.mode": "DenyAll",
}
"""The only defaults the schema carries: KubeRay's schema defaults, which the API server writes."""

IMMUTABLE_FIELDS: Mapping[str, str] = {
    "spec.managedBy": "the managedBy field is immutable",
    "spec.gcsFaultToleranceOptions.backend": "gcsFaultToleranceOptions.backend is immutable",
}
"""Fields with a ``self == oldSelf`` CEL rule, and the message the API server returns."""

PRINTER_COLUMNS: tuple[Schema, ...] = (
    {"name": "desired workers", "type": "integer", "jsonPath": ".status.desiredWorkerReplicas"},
    {"name": "available workers", "type": "integer", "jsonPath": ".status.availableWorkerReplicas"},
    {"name": "cpus", "type": "string", "jsonPath": ".status.desiredCPU"},
    {"name": "memory", "type": "string", "jsonPath": ".status.desiredMemory"},
    {"name": "gpus", "type": "string", "jsonPath": ".status.desiredGPU"},
    {"name": "tpus", "type": "string", "jsonPath": ".status.desiredTPU", "priority": 1},
    {"name": "status", "type": "string", "jsonPath": ".status.state"},
    {"name": "age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "head pod IP", "type": "string", "jsonPath": ".status.head.podIP", "priority": 1},
    {"name": "head service IP", "type": "string", "jsonPath": ".status.head.serviceIP", "priority": 1},
)
"""KubeRay's ``kubectl get rayclusters`` columns (priority 1 = only with ``-o wide``)."""

ROOT_DESCRIPTION = (
    "RayCluster is a Ray cluster on Kubernetes: one head pod and any number of worker groups, "
    "reconciled by ray-operator (field-compatible with KubeRay's ray.io/v1 RayCluster)."
)
API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this "
    "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)

_CARRIED_KEYWORDS = (
    "format",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "nullable",
    "pattern",
)
# Every pydantic JSON-schema keyword the converter translates or deliberately drops (titles,
# examples, pydantic's "deprecated"); anything else is an error rather than a silently lost rule.
_UNDERSTOOD_KEYWORDS = frozenset(
    {
        *_CARRIED_KEYWORDS,
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "default",
        "deprecated",
        "description",
        "enum",
        "examples",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "ge",
        "gt",
        "items",
        "le",
        "lt",
        "oneOf",
        "properties",
        "readOnly",
        "required",
        "title",
        "type",
        "uniqueItems",
        "writeOnly",
        K8S_DEFINITION_KEY,
    }
)


class CrdGenerationError(ValueError):
    """The models use a construct that has no structural-schema form; the message names the field."""


def _resolve_ref(ref: str, defs: Mapping[str, Any], *, path: str) -> tuple[str, Mapping[str, Any]]:
    name = ref.rsplit("/", 1)[-1]
    if name not in defs:
        raise CrdGenerationError(f"{path}: unresolvable $ref {ref!r}")
    return name, defs[name]


class _FromPydantic:
    def __init__(self, *, defs: Mapping[str, Any], k8s_schemas: Mapping[str, Schema]) -> None:
        self._defs = defs
        self._k8s = k8s_schemas

    def convert(self, raw: Mapping[str, Any], *, path: str, stack: tuple[str, ...]) -> Schema:
        description = raw.get("description")
        pydantic_default = raw.get("default")
        target = self._unwrap(raw, path=path, stack=stack)
        if not target:  # a reference cycle
            node: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        elif K8S_DEFINITION_KEY in target[1]:
            node = self._kubernetes_type(target[1], path=path)
        else:
            ref_name, body = target
            inner_stack = (*stack, ref_name) if ref_name else stack
            node = self._convert_body(body, path=path, stack=inner_stack)
            description = description if description is not None else body.get("description")
            if pydantic_default is None:
                pydantic_default = body.get("default")
        if isinstance(description, str) and description.strip():
            node["description"] = description.strip()
        self._apply_default(node, path=path, pydantic_default=pydantic_default)
        if path in IMMUTABLE_FIELDS:
            rule = {"rule": "self == oldSelf", "message": IMMUTABLE_FIELDS[path]}
            node["x-kubernetes-validations"] = [*node.get("x-kubernetes-validations", []), rule]
        return node

    def _unwrap(
        self, raw: Mapping[str, Any], *, path: str, stack: tuple[str, ...]
    ) -> tuple[str, Mapping[str, Any]] | tuple[()]:
        """Follow ``$ref``/single ``allOf``/Optional ``anyOf`` to the schema that carries the type."""
        ref_name = ""
        current: Mapping[str, Any] = raw
        for _ in range(32):
            if "$ref" in current:
                ref_name, current = _resolve_ref(current["$ref"], self._defs, path=path)
                if ref_name in stack:
                    return ()
                continue
            if "allOf" in current and len(current["allOf"]) == 1:
                current = current["allOf"][0]
                continue
            union = current.get("anyOf") or current.get("oneOf")
            if union is not None:
                branches = [b for b in union if b.get("type") != "null"]
                if len(branches) == 1:
                    current = {**{k: v for k, v in current.items() if k not in ("anyOf", "oneOf")}, **branches[0]}
                    continue
            return ref_name, current
        raise CrdGenerationError(f"{path}: schema nesting too deep")

    def _kubernetes_type(self, body: Mapping[str, Any], *, path: str) -> Schema:
        """A raw-dict field whose schema is a Kubernetes definition (for a list: its items')."""
        name = body[K8S_DEFINITION_KEY]
        if name not in self._k8s:
            raise CrdGenerationError(
                f"{path}: Kubernetes type {name!r} is not vendored; add it to VENDORED_TYPES in "
                "ray_operator/api/podtemplate_schema.py and run python -m ray_operator.api.podtemplate_schema"
            )
        schema = copy.deepcopy(self._k8s[name])
        if body.get("type") != "array":
            return schema
        node: Schema = {"type": "array", "items": schema}
        _carry(body, node)
        return node

    def _convert_body(self, body: Mapping[str, Any], *, path: str, stack: tuple[str, ...]) -> Schema:
        unknown = sorted(k for k in body if k not in _UNDERSTOOD_KEYWORDS and not k.startswith("x-kubernetes-"))
        if unknown:
            raise CrdGenerationError(f"{path}: JSON-schema keywords {unknown} have no CRD translation here")
        union = body.get("anyOf") or body.get("oneOf")
        if union is not None:
            node = self._convert_union(union, path=path)
            _carry(body, node)
            return node
        node = {}
        kind = body.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            if len(kinds) != 1:
                raise CrdGenerationError(f"{path}: a field must have one type, got {kind}")
            kind = kinds[0]
        enum = body.get("enum")
        if "const" in body:
            enum = [body["const"]]
        if enum is not None:
            enum = [v for v in enum if v is not None]
            node["enum"] = list(enum)
            if kind is None:
                kind = _json_type_of(enum, path=path)
        _carry(body, node)
        if kind == "object" or "properties" in body:
            node["type"] = "object"
            self._convert_object(body, node, path=path, stack=stack)
        elif kind == "array":
            node["type"] = "array"
            if not isinstance(body.get("items"), Mapping):
                raise CrdGenerationError(f"{path}: a list needs one item type")
            node["items"] = self.convert(body["items"], path=f"{path}[]", stack=stack)
            if body.get("uniqueItems"):
                if node["items"].get("type") not in SCALAR_TYPES:
                    raise CrdGenerationError(f"{path}: a set must hold scalars")
                node["x-kubernetes-list-type"] = "set"
        elif kind in SCALAR_TYPES:
            node["type"] = kind
        elif kind is None and not node.get("x-kubernetes-preserve-unknown-fields"):
            raise CrdGenerationError(f"{path}: untyped field (Any); give it a type or a Kubernetes type mapping")
        elif kind is not None:
            raise CrdGenerationError(f"{path}: unsupported type {kind!r}")
        return node

    def _convert_object(self, body: Mapping[str, Any], node: Schema, *, path: str, stack: tuple[str, ...]) -> None:
        properties = body.get("properties") or {}
        additional = body.get("additionalProperties")
        if properties:
            node["properties"] = {
                name: self.convert(value, path=f"{path}.{name}" if path else name, stack=stack)
                for name, value in properties.items()
            }
            required = [name for name in body.get("required", ()) if name in properties]
            if required:
                node["required"] = required
        elif isinstance(additional, Mapping) and additional:
            node["additionalProperties"] = self.convert(additional, path=f"{path}{{}}", stack=stack)
        elif additional is False:
            node["properties"] = {}
        else:
            node["x-kubernetes-preserve-unknown-fields"] = True

    def _convert_union(self, union: list[Mapping[str, Any]], *, path: str) -> Schema:
        kinds = {branch.get("type") for branch in union if branch.get("type") != "null"}
        if kinds == {"integer", "string"}:
            return copy.deepcopy(INT_OR_STRING)
        if all("enum" in b or "const" in b for b in union):
            values: list[Any] = []
            for branch in union:
                values.extend(branch.get("enum", [branch.get("const")]))
            return {"type": _json_type_of(values, path=path), "enum": values}
        raise CrdGenerationError(f"{path}: a union of {sorted(map(str, kinds))} has no structural form")

    def _apply_default(self, node: Schema, *, path: str, pydantic_default: Any) -> None:
        if path not in SCHEMA_DEFAULTS:
            return
        value = SCHEMA_DEFAULTS[path]
        if pydantic_default is not None and pydantic_default != value:
            raise CrdGenerationError(
                f"{path}: the model defaults to {pydantic_default!r} but the schema default is {value!r}; "
                "make them agree"
            )
        node["default"] = value


def _carry(body: Mapping[str, Any], node: Schema) -> None:
    """Copy constraints and ``x-kubernetes-*`` extensions, in their OpenAPI v3.0 spelling."""
    for keyword in _CARRIED_KEYWORDS:
        if keyword in body:
            node[keyword] = copy.deepcopy(body[keyword])
    for bound, limit in (
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
        ("gt", "minimum"),
        ("lt", "maximum"),
    ):
        value = body.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[limit] = value
            node["exclusiveMinimum" if limit == "minimum" else "exclusiveMaximum"] = True
    # pydantic leaves ge/le unconverted when the constraint sits on an Optional's inner type.
    for bound, limit in (("ge", "minimum"), ("le", "maximum")):
        value = body.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[limit] = value
    for key, value in body.items():
        if key.startswith("x-kubernetes-"):
            node[key] = copy.deepcopy(value)


def _json_type_of(values: list[Any], *, path: str) -> str:
    kinds = {
        "boolean" if isinstance(v, bool) else "integer" if isinstance(v, int) else type(v).__name__ for v in values
    }
    mapping = {"str": "string", "integer": "integer", "boolean": "boolean", "float": "number"}
    if len(kinds) != 1 or next(iter(kinds)) not in mapping:
        raise CrdGenerationError(f"{path}: enum values of mixed or unsupported types {sorted(kinds)}")
    return mapping[next(iter(kinds))]


def _k8s_schemas() -> dict[str, Schema]:
    schemas = load_vendored_types()
    schemas[PODTEMPLATESPEC] = load_vendored_podtemplatespec()
    return schemas


def _default_model() -> type[BaseModel]:
    from ray_operator.api.models import RayCluster

    return RayCluster


def openapi_schema_from_model(model: type[BaseModel]) -> Schema:
    """The CRD version's ``openAPIV3Schema`` for a RayCluster-shaped pydantic model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    converter = _FromPydantic(defs=raw.get("$defs", {}), k8s_schemas=_k8s_schemas())
    properties = raw.get("properties", {})
    root: Schema = {
        "description": ROOT_DESCRIPTION,
        "type": "object",
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": {"type": "object"},
        },
    }
    for name in ("spec", "status"):
        if name in properties:
            root["properties"][name] = converter.convert(properties[name], path=name, stack=(model.__name__,))
    required = [name for name in raw.get("required", ()) if name in ("spec",)]
    if required:
        root["required"] = required
    return root


def build_crd(*, model: type[BaseModel] | None = None) -> Schema:
    """The ``rayclusters.ray.io`` CustomResourceDefinition as a dict (apiextensions.k8s.io/v1)."""
    schema = openapi_schema_from_model(model if model is not None else _default_model())
    problems = structural_problems(schema)
    if problems:
        raise CrdGenerationError("the generated schema is not structural:\n  " + "\n  ".join(problems))
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": constants.CRD_NAME},
        "spec": {
            "group": constants.GROUP,
            "names": {
                "categories": list(constants.CATEGORIES),
                "kind": constants.KIND,
                "listKind": constants.LIST_KIND,
                "plural": constants.PLURAL,
                "singular": constants.SINGULAR,
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": constants.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(column) for column in PRINTER_COLUMNS],
                }
            ],
        },
    }


class _CrdDumper(yaml.SafeDumper):
    """Block style for structure, flow style for leaf schema nodes such as ``{type: string}``.

    Repeated pod specs are written once with an anchor (``&podSpec``) and then referenced
    (``*podSpec``); every other repetition is written out in full.
    """

    shared_ids: frozenset[int] = frozenset()

    def ignore_aliases(self, data: Any) -> bool:
        return id(data) not in self.shared_ids

    def generate_anchor(self, node: Any) -> str:
        self.last_anchor_id += 1
        return "podSpec" if self.last_anchor_id == 1 else f"podSpec{self.last_anchor_id}"


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, dict | list) or (
        isinstance(value, list) and all(not isinstance(item, dict | list) for item in value)
    )


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    schema_leaf = "type" in data or "x-kubernetes-int-or-string" in data
    flow = schema_leaf and "description" not in data and all(_is_leaf(value) for value in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", sorted(data.items()), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, dict | list) for item in data) and all(
        not isinstance(item, str) or len(item) < 60 for item in data
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_CrdDumper.add_representer(dict, _represent_dict)
_CrdDumper.add_representer(list, _represent_list)


def _share_pod_specs(document: Any, pod_spec: Mapping[str, Any]) -> tuple[Any, frozenset[int]]:
    """A copy of ``document`` in which every subtree equal to ``pod_spec`` is one shared object."""
    shared: dict[str, Any] = {}

    def copy_node(node: Any) -> Any:
        if isinstance(node, dict):
            if node.keys() == pod_spec.keys() and node == pod_spec:
                return shared.setdefault("spec", copy.deepcopy(node))
            return {key: copy_node(value) for key, value in node.items()}
        if isinstance(node, list):
            return [copy_node(item) for item in node]
        return node

    result = copy_node(document)
    return result, frozenset(id(value) for value in shared.values())


def render_yaml(document: Mapping[str, Any]) -> str:
    """Deterministic YAML in the CRD file's style (an equal pod spec is written once, then aliased)."""
    pod_spec = load_vendored_podtemplatespec()["properties"]["spec"]
    shared_document, shared_ids = _share_pod_specs(dict(document), pod_spec)
    dumper = type("_Dumper", (_CrdDumper,), {"shared_ids": shared_ids})
    text: str = yaml.dump(shared_document, Dumper=dumper, width=120, allow_unicode=True)
    return text


def render_crd_yaml(*, model: type[BaseModel] | None = None) -> str:
    """What ``ray-operator crd`` prints and ``config/crd/bases/ray.io_rayclusters.yaml`` holds."""
    return render_yaml(build_crd(model=model))
