"""The ``/openapi/v3`` index and per-group-version OpenAPI 3.0 documents that kubectl reads.

``kubectl create``/``apply`` (default ``--validate=strict``) first fetch ``/openapi/v3`` and the
group-version document; when the resource's PATCH operation carries ``x-kubernetes-group-version-kind``
and a ``fieldValidation`` query parameter, kubectl skips client-side validation and sends
``?fieldValidation=Strict`` (otherwise it needs protobuf ``/openapi/v2``, which we never serve).
``kubectl explain`` reads ``components.schemas``: built-ins come whole from the vendored v1.32
definitions (never partially: kubectl then warns while computing apply patches), custom resources
are the CRD version schema wrapped as kube-apiserver wraps it (``metadata`` → ObjectMeta ref, GVK
extension, a ``...List`` schema).

The ``?hash=`` changes whenever a served type or a CRD schema changes, because kubectl caches the
documents by URL. Decided against hashing whole documents (hundreds of KB of JSON per request);
the hash covers the inputs instead. Watch paths and the ``scale`` subresource are not published.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema.definitions import REF_PREFIX, definition_name, load_definitions, refs

DOCUMENT_FORMAT = "1"
"""Bumped when the document layout changes, so that kubectl's URL cache misses."""

KUBE_VERSION = "v1.32.0"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = _META + "ObjectMeta"
LIST_META = _META + "ListMeta"
STATUS = _META + "Status"
DELETE_OPTIONS = _META + "DeleteOptions"
PATCH = _META + "Patch"

_JSON = "application/json"
_YAML = "application/yaml"
_CR_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_BUILTIN_PATCH_TYPES = (*_CR_PATCH_TYPES, "application/strategic-merge-patch+json")

_API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values."
)
_KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this "
    "from the endpoint the client submits requests to. Cannot be updated. In CamelCase."
)
_METADATA_DESCRIPTION = "Standard object's metadata."


def group_version_path(group: str, version: str) -> str:
    """``api/v1`` for the core group, ``apis/ray.io/v1`` otherwise (the keys of the v3 index)."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _fingerprint(group: str, version: str, resource_types: Iterable[ResourceType]) -> str:
    parts: list[Any] = [DOCUMENT_FORMAT, group, version]
    for rt in sorted(resource_types, key=lambda r: (r.resource, r.kind)):
        if rt.group != group or rt.version != version:
            continue
        parts.append(
            [
                rt.resource,
                rt.kind,
                rt.list_kind,
                rt.namespaced,
                list(rt.verbs),
                list(rt.subresources),
                rt.is_custom,
                rt.schema,
            ]
        )
    digest = hashlib.sha512(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest.upper()


def build_openapi_v3_root(resource_types: list[ResourceType]) -> dict[str, Any]:
    """The ``/openapi/v3`` index: one ``serverRelativeURL`` (with a content hash) per served group-version."""
    group_versions = sorted({(rt.group, rt.version) for rt in resource_types})
    paths: dict[str, Any] = {}
    for group, version in group_versions:
        key = group_version_path(group, version)
        digest = _fingerprint(group, version, resource_types)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


# -- schemas -------------------------------------------------------------------------------------


def schema_name(group: str, version: str, kind: str) -> str:
    """``io.ray.v1.RayCluster``: the reversed group, as kube-apiserver names CRD schemas."""
    reversed_group = ".".join(reversed(group.split("."))) if group else "io.k8s.api.core"
    return f"{reversed_group}.{version}.{kind}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


def _wrapped_cr_schema(rt: ResourceType) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(rt.schema) if rt.schema else {"type": "object"}
    schema.setdefault("type", "object")
    props: dict[str, Any] = schema.setdefault("properties", {})
    props["apiVersion"] = {"description": _API_VERSION_DESCRIPTION, "type": "string"}
    props["kind"] = {"description": _KIND_DESCRIPTION, "type": "string"}
    props["metadata"] = {"allOf": [_ref(OBJECT_META)], "description": _METADATA_DESCRIPTION}
    schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    return schema


def _cr_list_schema(rt: ResourceType, item: str) -> dict[str, Any]:
    return {
        "description": f"{rt.list_kind} is a list of {rt.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": _API_VERSION_DESCRIPTION, "type": "string"},
            "items": {
                "description": f"List of {rt.resource}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "type": "array",
                "items": _ref(item),
            },
            "kind": {"description": _KIND_DESCRIPTION, "type": "string"},
            "metadata": {"allOf": [_ref(LIST_META)], "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.list_kind, "version": rt.version}],
    }


def _closure(names: Iterable[str], definitions: Mapping[str, Any]) -> dict[str, Any]:
    """The named definitions and all they reference, copied so that callers may mutate the document."""
    out: dict[str, Any] = {}
    stack = [n for n in names if n in definitions]
    while stack:
        name = stack.pop()
        if name in out:
            continue
        out[name] = copy.deepcopy(definitions[name])
        stack.extend(ref for ref in refs(definitions[name], prefix=REF_PREFIX) if ref in definitions and ref not in out)
    return out


def _kind_schemas(rt: ResourceType, definitions: Mapping[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """(object schema name, list schema name, schemas to add) for one resource type."""
    if rt.is_custom:
        cr_name = schema_name(rt.group, rt.version, rt.kind)
        cr_list = schema_name(rt.group, rt.version, rt.list_kind)
        return cr_name, cr_list, {cr_name: _wrapped_cr_schema(rt), cr_list: _cr_list_schema(rt, cr_name)}
    name = definition_name(rt.group, rt.version, rt.kind)
    if name is None:
        return None, None, {}
    list_name = definition_name(rt.group, rt.version, rt.list_kind)
    return name, list_name, _closure([name, *([list_name] if list_name else [])], definitions)


# -- paths ---------------------------------------------------------------------------------------


def _query(name: str, description: str, type_: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": type_, "uniqueItems": True}}


_DRY_RUN = _query("dryRun", "When present, modifications are not persisted. The only valid value is All.")
_FIELD_MANAGER = _query("fieldManager", "A name for the actor making the change, recorded in managedFields.")
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "How the server treats unknown or duplicate fields in the request body: Ignore (drop them silently), "
    "Warn (drop them and return a Warning header per field; the default) or Strict (fail the request).",
)
_FORCE = _query("force", "Force an apply request to take over fields owned by other managers.", "boolean")
_PRETTY = _query("pretty", "If 'true', the output is pretty printed.")
_LIST_PARAMS = [
    _query("allowWatchBookmarks", "Request watch events of type BOOKMARK.", "boolean"),
    _query("continue", "The continue token of a previous paginated list."),
    _query("fieldSelector", "Restrict the returned objects by their fields."),
    _query("labelSelector", "Restrict the returned objects by their labels."),
    _query("limit", "The maximum number of items to return.", "integer"),
    _query("resourceVersion", "Return results at least as recent as this resource version."),
    _query("resourceVersionMatch", "How resourceVersion applies to list calls."),
    _query("sendInitialEvents", "Send synthetic ADDED events for existing objects before the watch.", "boolean"),
    _query("timeoutSeconds", "Timeout for the list or watch call.", "integer"),
    _query("watch", "Watch for changes and return them as a stream of events.", "boolean"),
]
_DELETE_PARAMS = [
    _DRY_RUN,
    _query("gracePeriodSeconds", "Seconds before the object is deleted; zero deletes immediately.", "integer"),
    _query("propagationPolicy", "Whether and how garbage collection is performed: Orphan, Background or Foreground."),
]


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _content(schema_ref: str | None) -> dict[str, Any]:
    schema = _ref(schema_ref) if schema_ref else {"type": "object"}
    return {media: {"schema": schema} for media in (_JSON, _YAML)}


def _op(
    rt: ResourceType,
    *,
    action: str,
    verb: str,
    description: str,
    response: str | None,
    parameters: list[dict[str, Any]],
    body: tuple[str, ...] | None = None,
    body_schema: str | None = None,
    created: bool = False,
) -> dict[str, Any]:
    group_camel = "".join(part.capitalize() for part in rt.group.replace("-", ".").split(".")) if rt.group else "Core"
    op: dict[str, Any] = {
        "tags": [f"{_tag(rt.group)}_{rt.version}"],
        "description": description,
        "operationId": f"{verb}{group_camel}{rt.version.capitalize()}{rt.kind}",
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK", "content": _content(response)},
            "401": {"description": "Unauthorized"},
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    }
    if created:
        op["responses"]["201"] = {"description": "Created", "content": _content(response)}
    if body is not None:
        schema = _ref(body_schema) if body_schema else {"type": "object"}
        op["requestBody"] = {"content": {media: {"schema": schema} for media in body}, "required": True}
    return op


def _tag(group: str) -> str:
    if not group:
        return "core"
    first, *rest = group.replace("-", ".").split(".")
    return first + "".join(part.capitalize() for part in rest)


def _list_op(rt: ResourceType, list_schema: str | None) -> dict[str, Any]:
    return _op(
        rt,
        action="list",
        verb="list",
        description=f"list or watch objects of kind {rt.kind}",
        response=list_schema,
        parameters=_LIST_PARAMS,
    )


def _item_ops(rt: ResourceType, object_schema: str | None, *, verbs: set[str], of: str) -> dict[str, Any]:
    """get/put/patch of one object (``of=""``) or of its status subresource (``of="status of "``)."""
    write_params = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    ops: dict[str, Any] = {}
    if "get" in verbs:
        ops["get"] = _op(
            rt,
            action="get",
            verb="read",
            description=f"read {of}the specified {rt.kind}",
            response=object_schema,
            parameters=[],
        )
    if "update" in verbs:
        ops["put"] = _op(
            rt,
            action="put",
            verb="replace",
            description=f"replace {of}the specified {rt.kind}",
            response=object_schema,
            parameters=write_params,
            body=(_JSON, _YAML),
            body_schema=object_schema,
            created=True,
        )
    if "patch" in verbs:
        ops["patch"] = _op(
            rt,
            action="patch",
            verb="patch",
            description=f"partially update {of}the specified {rt.kind}",
            response=object_schema,
            parameters=[*write_params, _FORCE],
            body=_CR_PATCH_TYPES if rt.is_custom else _BUILTIN_PATCH_TYPES,
            body_schema=PATCH,
            created=True,
        )
    return ops


def _resource_paths(rt: ResourceType, object_schema: str | None, list_schema: str | None) -> dict[str, Any]:
    base = "/" + group_version_path(rt.group, rt.version)
    scope = f"{base}/namespaces/{{namespace}}" if rt.namespaced else base
    collection = f"{scope}/{rt.resource}"
    item = f"{collection}/{{name}}"
    name_param = _path_param("name", f"name of the {rt.kind}")
    ns_param = _path_param("namespace", "object name and auth scope, such as for teams and projects")
    scope_params = [ns_param] if rt.namespaced else []
    verbs = set(rt.verbs)
    paths: dict[str, Any] = {}

    ops: dict[str, Any] = {}
    if "list" in verbs:
        ops["get"] = _list_op(rt, list_schema)
    if "create" in verbs:
        ops["post"] = _op(
            rt,
            action="post",
            verb="create",
            description=f"create a {rt.kind}",
            response=object_schema,
            parameters=[_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
            body=(_JSON, _YAML),
            body_schema=object_schema,
            created=True,
        )
    if "deletecollection" in verbs:
        ops["delete"] = _op(
            rt,
            action="deletecollection",
            verb="deletecollection",
            description=f"delete collection of {rt.kind}",
            response=STATUS,
            parameters=[*_DELETE_PARAMS, *_LIST_PARAMS],
            body=(_JSON, _YAML),
            body_schema=DELETE_OPTIONS,
        )
    if ops:
        paths[collection] = {**ops, "parameters": [*scope_params, _PRETTY]}

    ops = _item_ops(rt, object_schema, verbs=verbs, of="")
    if "delete" in verbs:
        ops["delete"] = _op(
            rt,
            action="delete",
            verb="delete",
            description=f"delete a {rt.kind}",
            response=object_schema if not rt.is_custom else STATUS,
            parameters=_DELETE_PARAMS,
            body=(_JSON, _YAML),
            body_schema=DELETE_OPTIONS,
        )
    if ops:
        paths[item] = {**ops, "parameters": [name_param, *scope_params, _PRETTY]}

    if "status" in rt.subresources:
        status_ops = _item_ops(rt, object_schema, verbs={"get", "update", "patch"}, of="status of ")
        paths[f"{item}/status"] = {**status_ops, "parameters": [name_param, *scope_params, _PRETTY]}
    if rt.namespaced and "list" in verbs:
        paths[f"{base}/{rt.resource}"] = {"get": _list_op(rt, list_schema), "parameters": [_PRETTY]}
    return paths


def build_group_version_document(group: str, version: str, resource_types: list[ResourceType]) -> dict[str, Any]:
    """The OpenAPI 3.0 document served at ``/openapi/v3/<api|apis/group>/<version>``."""
    definitions = load_definitions()
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    served = [rt for rt in resource_types if rt.group == group and rt.version == version]
    for rt in sorted(served, key=lambda r: r.resource):
        object_schema, list_schema, kind_schemas = _kind_schemas(rt, definitions)
        schemas.update(kind_schemas)
        paths.update(_resource_paths(rt, object_schema, list_schema))
    schemas.update(_closure([OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH], definitions))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
        "security": [{"BearerToken": []}],
    }
