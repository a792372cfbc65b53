"""OpenAPI v3 index and group-version documents: the shape kubectl's field-validation check and explain need."""

from __future__ import annotations

from typing import Any

from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.schema.openapi import build_group_version_document, build_openapi_v3_root

CR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RayCluster is a Ray cluster.",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "description": "Desired state.",
            "properties": {
                "workerGroupSpecs": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                }
            },
        },
    },
}

PODS = ResourceType(
    group="",
    version="v1",
    resource="pods",
    kind="Pod",
    singular="pod",
    namespaced=True,
    list_kind="PodList",
    subresources=("status",),
)
NAMESPACES = ResourceType(
    group="",
    version="v1",
    resource="namespaces",
    kind="Namespace",
    singular="namespace",
    namespaced=False,
    list_kind="NamespaceList",
)
DEPLOYMENTS = ResourceType(
    group="apps",
    version="v1",
    resource="deployments",
    kind="Deployment",
    singular="deployment",
    namespaced=True,
    list_kind="DeploymentList",
)
RAYCLUSTERS = ResourceType(
    group="ray.io",
    version="v1",
    resource="rayclusters",
    kind="RayCluster",
    singular="raycluster",
    namespaced=True,
    list_kind="RayClusterList",
    subresources=("status",),
    is_custom=True,
    schema=CR_SCHEMA,
)
ALL = [PODS, NAMESPACES, DEPLOYMENTS, RAYCLUSTERS]


def test_root_lists_every_group_version_with_a_hash() -> None:
    root = build_openapi_v3_root(ALL)
    assert sorted(root["paths"]) == ["api/v1", "apis/apps/v1", "apis/ray.io/v1"]
    url = root["paths"]["apis/ray.io/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/ray.io/v1?hash=")


def test_hash_changes_with_the_crd_schema_only_for_its_group_version() -> None:
    before = build_openapi_v3_root(ALL)["paths"]
    changed = ResourceType(**{**RAYCLUSTERS.__dict__, "schema": {**CR_SCHEMA, "description": "new"}})
    after = build_openapi_v3_root([PODS, NAMESPACES, DEPLOYMENTS, changed])["paths"]
    assert before["apis/ray.io/v1"] != after["apis/ray.io/v1"]
    assert before["api/v1"] == after["api/v1"]
    assert build_openapi_v3_root(ALL)["paths"] == before  # deterministic


def _patch_ops(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        item["patch"]
        for item in doc["paths"].values()
        if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"]["kind"] == kind
    ]


def test_every_patch_operation_offers_field_validation_and_gvk() -> None:
    doc = build_group_version_document("ray.io", "v1", ALL)
    ops = _patch_ops(doc, "RayCluster")
    assert len(ops) == 2  # the object and its status
    for op in ops:
        assert op["x-kubernetes-action"] == "patch"
        assert op["x-kubernetes-group-version-kind"] == {"group": "ray.io", "version": "v1", "kind": "RayCluster"}
        params = {(p["name"], p["in"]) for p in op["parameters"]}
        assert {
            ("fieldValidation", "query"),
            ("fieldManager", "query"),
            ("dryRun", "query"),
            ("force", "query"),
        } <= params
        # Custom resources accept no strategic merge patch.
        assert sorted(op["requestBody"]["content"]) == [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ]
    pod_ops = _patch_ops(build_group_version_document("", "v1", ALL), "Pod")
    assert "application/strategic-merge-patch+json" in pod_ops[0]["requestBody"]["content"]


def test_paths_cover_the_rest_verbs() -> None:
    doc = build_group_version_document("ray.io", "v1", ALL)
    item = doc["paths"]["/apis/ray.io/v1/namespaces/{namespace}/rayclusters/{name}"]
    assert {op["x-kubernetes-action"] for key, op in item.items() if key != "parameters"} == {
        "get",
        "put",
        "patch",
        "delete",
    }
    collection = doc["paths"]["/apis/ray.io/v1/namespaces/{namespace}/rayclusters"]
    assert {collection["get"]["x-kubernetes-action"], collection["post"]["x-kubernetes-action"]} == {"list", "post"}
    assert "/apis/ray.io/v1/rayclusters" in doc["paths"]
    core = build_group_version_document("", "v1", ALL)
    assert "/api/v1/namespaces/{name}" in core["paths"]  # cluster-scoped
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in core["paths"]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref") or node.get("allOf", [{}])[0].get("$ref")
    if ref:
        name = ref.removeprefix("#/components/schemas/")
        assert name in doc["components"]["schemas"], f"dangling $ref {ref}"
        found: dict[str, Any] = doc["components"]["schemas"][name]
        return found
    return node


def test_custom_resource_schema_is_wrapped_like_kube_apiserver() -> None:
    doc = build_group_version_document("ray.io", "v1", ALL)
    schemas = doc["components"]["schemas"]
    rc = schemas["io.ray.v1.RayCluster"]
    assert rc["x-kubernetes-group-version-kind"] == [{"group": "ray.io", "kind": "RayCluster", "version": "v1"}]
    meta = _resolve(doc, rc["properties"]["metadata"])
    assert "labels" in meta["properties"]
    assert rc["properties"]["spec"]["properties"]["workerGroupSpecs"]["items"]["properties"]["replicas"] == {
        "type": "integer"
    }
    assert CR_SCHEMA["properties"]["metadata"] == {"type": "object"}  # the CRD's own schema is not mutated
    listed = schemas["io.ray.v1.RayClusterList"]
    assert listed["properties"]["items"]["items"] == {"$ref": "#/components/schemas/io.ray.v1.RayCluster"}


def test_builtin_schemas_are_complete_no_dangling_refs() -> None:
    for group, version in (("", "v1"), ("apps", "v1"), ("ray.io", "v1")):
        doc = build_group_version_document(group, version, ALL)
        names = set(doc["components"]["schemas"])
        text_refs = _all_refs(doc)
        assert text_refs <= names, text_refs - names
    core = build_group_version_document("", "v1", ALL)["components"]["schemas"]
    containers = core["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert core["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"][0]["kind"] == "Pod"


def _all_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].removeprefix("#/components/schemas/")} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _all_refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_all_refs(v) for v in node)) if node else set()
    return set()


def test_builtin_kind_without_vendored_schema_gets_paths_but_no_partial_schema() -> None:
    odd = ResourceType(
        group="example.com",
        version="v1",
        resource="things",
        kind="Thing",
        singular="thing",
        namespaced=True,
        list_kind="ThingList",
    )
    doc = build_group_version_document("example.com", "v1", [odd])
    assert _patch_ops(doc, "Thing")
    assert not any(name.endswith(".Thing") for name in doc["components"]["schemas"])


def test_documents_are_independent_copies() -> None:
    first = build_group_version_document("", "v1", ALL)
    first["components"]["schemas"]["io.k8s.api.core.v1.Pod"]["properties"].clear()
    second = build_group_version_document("", "v1", ALL)
    assert "spec" in second["components"]["schemas"]["io.k8s.api.core.v1.Pod"]["properties"]
