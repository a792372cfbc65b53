"""The vendored built-in definitions are exactly what the generator produces from kubernetes-validate."""

from __future__ import annotations

import gzip
import json

from ray_operator.sandbox.schema import definitions as builtin_schemas


def test_vendored_file_equals_regeneration() -> None:
    vendored = json.loads(gzip.decompress(builtin_schemas.vendored_path().read_bytes()))
    regenerated = json.loads(gzip.decompress(builtin_schemas.regenerate()))
    assert vendored == regenerated, "run: python -m ray_operator.sandbox.schema.definitions"


def test_served_kinds_resolve_with_patch_metadata_and_descriptions() -> None:
    defs = builtin_schemas.load_definitions()
    expected = {
        ("", "v1", "Pod"),
        ("", "v1", "Service"),
        ("", "v1", "Event"),
        ("events.k8s.io", "v1", "Event"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("apps", "v1", "Deployment"),
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    }
    for gvk in expected:
        assert builtin_schemas.definition_name(*gvk) in defs, gvk
    spec = defs["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert spec["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert spec["containers"]["x-kubernetes-list-map-keys"] == ["name"]
    assert "List of containers" in spec["containers"]["description"]
    assert defs["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}
    ]


def test_openapi_v3_shape_no_json_schema_leftovers() -> None:
    text = json.dumps(builtin_schemas.load_definitions())
    assert "#/$defs/" not in text
    assert '"null"' not in text
    defs = builtin_schemas.load_definitions()
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    pod = defs["io.k8s.api.core.v1.Pod"]["properties"]
    assert "enum" not in pod["apiVersion"]
    assert pod["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    # Only what the served kinds reach: far fewer than the 638 source definitions.
    assert 100 < len(defs) < 400


def test_prune_unknown_fields_of_builtin_objects() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "x"}, "bogus": 1},
        "spec": {
            "contianers": [],
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "imagePullPolcy": "Always",
                    "ports": [{"containerPort": 80, "prot": "TCP"}],
                    "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": 1}},
                }
            ],
            "nodeSelector": {"disk": "ssd"},
        },
        "status": {"phase": "Running", "weird": True},
    }
    pruned, unknown = builtin_schemas.prune_unknown_fields(pod, api_version="v1", kind="Pod")
    assert unknown == [
        "metadata.bogus",
        "spec.contianers",
        "spec.containers[0].imagePullPolcy",
        "spec.containers[0].ports[0].prot",
        "status.weird",
    ]
    container = pruned["spec"]["containers"][0]
    assert container == {
        "name": "c",
        "image": "i",
        "ports": [{"containerPort": 80}],
        "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": 1}},
    }
    assert pruned["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert "bogus" in pod["metadata"]  # the input is not modified


def test_prune_keeps_opaque_and_recursive_types() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "things", "kind": "Thing"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "default": {"any": ["thing"]}, "typo": 1}},
                        }
                    },
                }
            ],
        },
    }
    pruned, unknown = builtin_schemas.prune_unknown_fields(
        crd, api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    assert unknown == ["spec.versions[0].schema.openAPIV3Schema.properties.spec.typo"]
    spec_schema = pruned["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec_schema["default"] == {"any": ["thing"]}
    thing = {"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"x": 1}}
    assert builtin_schemas.prune_unknown_fields(thing, api_version="example.com/v1", kind="Thing") == (thing, [])
