"""CRD structural schemas: pruning, defaulting and validation with kube-apiserver's exact cause texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ray_operator.sandbox.errors import ApiError, Cause
from ray_operator.sandbox.schema import apply_defaults, is_structural, prune, validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["rayVersion"],
            "properties": {
                "rayVersion": {"type": "string", "maxLength": 10},
                "replicas": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2147483647, "default": 1},
                "ratio": {"type": "number", "maximum": 1.5},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2},
                "when": {"type": "string", "format": "date-time"},
                "port": {"x-kubernetes-int-or-string": True},
                "nothing": {"type": "string", "nullable": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 2},
                "opaque": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "maxItems": 3},
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["groupName"],
                    "items": {
                        "type": "object",
                        "required": ["groupName"],
                        "properties": {
                            "groupName": {"type": "string"},
                            "replicas": {"type": "integer", "default": 0},
                            "ports": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "containerPort": {"type": "integer"},
                                        "protocol": {"type": "string", "default": "TCP"},
                                    },
                                },
                            },
                        },
                    },
                },
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}},
                },
                "storage": {
                    "type": "object",
                    "properties": {"backend": {"type": "string"}},
                    "x-kubernetes-validations": [
                        {"rule": "self.backend == oldSelf.backend", "message": "storage.backend is immutable"},
                        {"rule": "self.backend in ['redis', 'gcs']", "reason": "FieldValueForbidden"},
                    ],
                },
            },
        },
        "status": {"type": "object", "properties": {"state": {"type": "string"}}},
    },
}


def obj(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo"},
        "spec": {"rayVersion": "2.9", **spec},
    }


def rendered(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


# -- prune -----------------------------------------------------------------------------------------


def test_prune_reports_unknown_fields_with_real_paths() -> None:
    pruned, unknown = prune(
        {
            **obj(foo=1, groups=[{"groupName": "g", "bar": True}]),
            "extra": 1,
            "metadata": {"name": "demo", "labels": {"a": "b"}, "bogus": 1},
        },
        SCHEMA,
    )
    assert unknown == ["extra", "metadata.bogus", "spec.foo", "spec.groups[0].bar"]
    assert "foo" not in pruned["spec"]
    assert pruned["spec"]["groups"] == [{"groupName": "g"}]
    assert pruned["metadata"] == {"name": "demo", "labels": {"a": "b"}}
    assert pruned["apiVersion"] == "ray.io/v1"


def test_prune_keeps_preserved_and_map_values_and_embedded_resource_header() -> None:
    template = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"x": "y"}, "junk": 1},
        "spec": {"x": "1", "y": 2},
    }
    pruned, unknown = prune(obj(opaque={"anything": {"deep": [1]}}, labels={"k": "v"}, template=template), SCHEMA)
    assert pruned["spec"]["opaque"] == {"anything": {"deep": [1]}}
    assert pruned["spec"]["labels"] == {"k": "v"}
    assert pruned["spec"]["template"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"x": "y"}},
        "spec": {"x": "1"},
    }
    assert unknown == ["spec.template.metadata.junk", "spec.template.spec.y"]


def test_prune_object_without_properties_drops_everything_inside() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object"}}}
    pruned, unknown = prune({"spec": {"a": 1}}, schema)
    assert pruned == {"spec": {}}
    assert unknown == ["spec.a"]


# -- defaults --------------------------------------------------------------------------------------


def test_defaults_apply_under_existing_parents_including_list_items() -> None:
    out = apply_defaults(obj(groups=[{"groupName": "g", "ports": [{"containerPort": 80}]}]), SCHEMA)
    assert out["spec"]["replicas"] == 1
    assert out["spec"]["groups"][0]["replicas"] == 0
    assert out["spec"]["groups"][0]["ports"][0]["protocol"] == "TCP"
    assert "status" not in out  # no parent, no default below it


def test_defaults_do_not_override_and_replace_non_nullable_null() -> None:
    out = apply_defaults(obj(replicas=5), SCHEMA)
    assert out["spec"]["replicas"] == 5
    out = apply_defaults(obj(replicas=None), SCHEMA)
    assert out["spec"]["replicas"] == 1


def test_defaults_in_additional_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "m": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"p": {"type": "string", "default": "d"}}},
            }
        },
    }
    assert apply_defaults({"m": {"a": {}, "b": {"p": "x"}}}, schema) == {"m": {"a": {"p": "d"}, "b": {"p": "x"}}}


# -- validate --------------------------------------------------------------------------------------


def test_valid_object_has_no_causes() -> None:
    good = obj(
        replicas=2,
        ratio=0.5,
        mode="a",
        name="abc",
        when="2024-01-02T03:04:05Z",
        port="http",
        nothing=None,
        tags=["x", "y"],
        groups=[{"groupName": "g"}],
        storage={"backend": "redis"},
    )
    assert validate(good, SCHEMA) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"replicas": "3"},
            'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        ),
        (
            {"replicas": 1.5},
            'spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"',
        ),
        (
            {"replicas": -1},
            "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
        ),
        ({"ratio": 2}, "spec.ratio: Invalid value: 2: spec.ratio in body should be less than or equal to 1.5"),
        ({"ratio": 1e6}, "spec.ratio: Invalid value: 1e+06: spec.ratio in body should be less than or equal to 1.5"),
        (
            {"replicas": 2**31},
            "spec.replicas: Invalid value: 2147483648: "
            "spec.replicas in body should be less than or equal to 2.147483647e+09",
        ),
        ({"mode": "c"}, 'spec.mode: Unsupported value: "c": supported values: "a", "b"'),
        ({"name": "ABC"}, "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'"),
        ({"name": "a"}, 'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long'),
        ({"rayVersion": "2.9.0-long-version"}, "spec.rayVersion: Too long: may not be longer than 10"),
        (
            {"when": "yesterday"},
            'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
        ),
        (
            {"port": True},
            'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        ),
        ({"labels": {"a": "1", "b": "2", "c": "3"}}, "spec.labels: Too many: 3: must have at most 2 items"),
        (
            {"labels": {"a": 1}},
            'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
        ),
        ({"tags": ["a", "b", "a"]}, 'spec.tags[2]: Duplicate value: "a"'),
        ({"tags": ["a", "b", "c", "d"]}, "spec.tags: Too many: 4: must have at most 3 items"),
        ({"groups": []}, "spec.groups: Invalid value: 0: spec.groups in body should have at least 1 items"),
        (
            {"groups": [{"groupName": "g"}, {"groupName": "g"}]},
            'spec.groups[1]: Duplicate value: map[string]interface {}{"groupName":"g"}',
        ),
        ({"groups": [{"replicas": 1}]}, "spec.groups[0].groupName: Required value"),
    ],
)
def test_validation_messages_match_kube_apiserver(spec: dict[str, Any], expected: str) -> None:
    assert rendered(validate(obj(**spec), SCHEMA)) == [expected]


def test_embedded_resource_needs_api_version_and_kind() -> None:
    causes = validate(obj(template={"metadata": {}, "spec": {}}), SCHEMA)
    assert rendered(causes) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty",
    ]
    assert validate(obj(template={"apiVersion": "v1", "kind": "Pod"}), SCHEMA) == []


def test_null_gets_type_and_enum_errors_only() -> None:
    assert rendered(validate(obj(mode=None), SCHEMA)) == [
        'spec.mode: Invalid value: "null": spec.mode in body must be of type string: "null"',
        'spec.mode: Unsupported value: "null": supported values: "a", "b"',
    ]
    assert validate(obj(nothing=None), SCHEMA) == []  # nullable


def test_type_error_does_not_hide_other_applicable_checks() -> None:
    assert rendered(validate(obj(mode=3), SCHEMA)) == [
        'spec.mode: Invalid value: "integer": spec.mode in body must be of type string: "integer"',
        'spec.mode: Unsupported value: 3: supported values: "a", "b"',
    ]


def test_int_or_string_with_any_of_like_controller_gen_emits() -> None:
    schema = {
        "type": "object",
        "properties": {
            "port": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True},
        },
    }
    assert validate({"port": 80}, schema) == [] and validate({"port": "http"}, schema) == []
    assert rendered(validate({"port": True}, schema)) == [
        'port: Invalid value: "boolean": port in body must be of type integer,string: "boolean"',
        '<nil>: Invalid value: "": port in body must validate at least one schema (anyOf)',
        'port: Invalid value: "boolean": port in body must be of type integer: "boolean"',
    ]


def test_one_of_and_not() -> None:
    schema = {
        "type": "object",
        "properties": {
            "x": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}], "not": {"enum": [13]}},
        },
    }
    assert validate({"x": 20}, schema) == []
    assert rendered(validate({"x": 5}, schema)) == [
        '<nil>: Invalid value: "": x in body must validate one and only one schema (oneOf). Found 2 valid alternatives'
    ]
    assert rendered(validate({"x": 13}, schema)) == [
        '<nil>: Invalid value: "": x in body must not validate the schema (not)'
    ]


def test_required_top_level_field_and_reasons() -> None:
    causes = validate({"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {}, "spec": {}}, SCHEMA)
    assert causes == [Cause(reason="FieldValueRequired", message="Required value", field="spec.rayVersion")]
    (cause,) = validate(obj(replicas="x"), SCHEMA)
    assert cause.reason == "FieldValueTypeInvalid"


def test_cel_transition_rule_only_on_update_with_old_value() -> None:
    new = obj(storage={"backend": "gcs"})
    assert validate(new, SCHEMA) == []  # create: oldSelf rules skipped
    assert validate(new, SCHEMA, old=obj()) == []  # old lacks the field
    causes = validate(new, SCHEMA, old=obj(storage={"backend": "redis"}))
    assert rendered(causes) == ['spec.storage: Invalid value: "object": storage.backend is immutable']
    assert causes[0].reason == "FieldValueInvalid"


def test_cel_rule_with_reason_and_default_message() -> None:
    causes = validate(obj(storage={"backend": "s3"}), SCHEMA)
    assert rendered(causes) == ["spec.storage: Forbidden: failed rule: self.backend in ['redis', 'gcs']"]
    assert causes[0].reason == "FieldValueForbidden"


def test_cel_rules_are_skipped_when_types_are_wrong() -> None:
    causes = validate(obj(replicas="x", storage={"backend": "s3"}), SCHEMA)
    assert [c.field for c in causes] == ["spec.replicas", "<nil>"]
    assert "some validation rules were not checked because the object was invalid" in causes[1].message


def test_pathologically_deep_objects_are_a_bad_request_not_a_crash() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(3000):
        cursor["a"] = {}
        cursor = cursor["a"]
    nested_schema: dict[str, Any] = {"type": "object"}
    cursor_schema = nested_schema
    for _ in range(3000):
        cursor_schema["properties"] = {"a": {"type": "object"}}
        cursor_schema = cursor_schema["properties"]["a"]
    for call in (lambda: prune(deep, nested_schema), lambda: apply_defaults(deep, nested_schema)):
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.code == 400
    with pytest.raises(ApiError):
        validate(deep, nested_schema)
    assert "nested too deeply" in is_structural(nested_schema)[-1]


# -- structural ------------------------------------------------------------------------------------


def test_structural_schema_accepts_the_test_schema() -> None:
    assert is_structural(SCHEMA) == []


def test_structural_check_rejects_keywords_of_the_wrong_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "maxLength": "5", "pattern": "("},
            "l": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-map-keys": [1]},
            "o": {"type": "object", "required": "name"},
        },
    }
    problems = is_structural(schema)
    assert [p.split(": ")[0] for p in problems] == [
        "properties[a].pattern",
        "properties[a].maxLength",
        "properties[l].x-kubernetes-list-map-keys",
        "properties[o].required",
    ]
    assert problems[1].endswith('Invalid value: "5": must be of type integer')
    # Validation against such a schema degrades instead of crashing.
    assert validate({"a": "x", "l": [{}], "o": {}}, schema) == []
    odd = {"type": "object", "properties": {"s": "not a schema", "l": {"type": "array", "items": 5}}}
    assert prune({"s": {"x": 1}, "l": [{"y": 1}]}, odd)[1] == ["l[0].y", "s.x"]
    assert apply_defaults({"s": {}, "l": [{}]}, odd) == {"s": {}, "l": [{}]}


def test_structural_check_compiles_cel_rules() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.a == "},
                    {"rule": "true", "messageExpression": "'x' +"},
                    {"message": "no rule"},
                ],
            }
        },
    }
    problems = is_structural(schema)
    assert [p.split(": Invalid value")[0].split(": Required")[0] for p in problems] == [
        "properties[spec].x-kubernetes-validations[0].rule",
        "properties[spec].x-kubernetes-validations[1].messageExpression",
        "properties[spec].x-kubernetes-validations[2].rule",
    ]
    assert "compilation failed: Syntax error" in problems[0]


def test_structural_violations_are_named() -> None:
    schema = {
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "spec": {"properties": {"a": {"type": "array"}}},
            "m": {
                "type": "object",
                "properties": {"x": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            "u": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
    }
    assert is_structural(schema) == [
        "properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
        "but metadata is implicitly specified",
        "properties[spec].type: Required value: must not be empty for specified object fields",
        "properties[spec].properties[a].items: Required value: must be specified",
        "properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
        "properties[u].type: Required value: must not be empty for specified object fields",
        "properties[u].anyOf[0].type: Forbidden: must be empty to be structural",
        "properties[u].anyOf[1].type: Forbidden: must be empty to be structural",
    ]


# -- the project's own CRD -------------------------------------------------------------------------

CRD = Path(__file__).resolve().parents[2] / "config" / "crd" / "bases" / "ray.io_rayclusters.yaml"


@pytest.fixture(scope="module")
def raycluster_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def test_project_crd_is_structural_and_a_minimal_raycluster_round_trips(raycluster_schema: dict[str, Any]) -> None:
    assert is_structural(raycluster_schema) == []
    rc = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "ray-head", "image": "rayproject/ray:2.9.0", "ports": [{"containerPort": 6379}]}
                        ]
                    }
                },
            },
            "workerGroupSpecs": [
                {
                    "groupName": "small",
                    "replicas": 1,
                    "rayStartParams": {},
                    "template": {"spec": {"containers": [{"name": "w", "image": "rayproject/ray:2.9.0"}]}},
                    "unknownField": 1,
                }
            ],
        },
    }
    pruned, unknown = prune(rc, raycluster_schema)
    assert unknown == ["spec.workerGroupSpecs[0].unknownField"]
    defaulted = apply_defaults(pruned, raycluster_schema)
    assert validate(defaulted, raycluster_schema) == []
    head = defaulted["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["ports"] == [{"containerPort": 6379, "protocol": "TCP"}]  # the list-map key gets its default
    bad = apply_defaults(pruned, raycluster_schema)
    bad["spec"]["workerGroupSpecs"][0]["replicas"] = "two"
    assert any(
        c.field == "spec.workerGroupSpecs[0].replicas" and "must be of type integer" in c.message
        for c in validate(bad, raycluster_schema)
    )


def test_project_crd_immutable_fields_on_update(raycluster_schema: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo"},
        "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "h", "image": "i"}]}}}},
    }
    old = apply_defaults({**base, "spec": {**base["spec"], "managedBy": "ray.io/kuberay-operator"}}, raycluster_schema)
    new = apply_defaults(
        {**base, "spec": {**base["spec"], "managedBy": "kueue.x-k8s.io/multikueue"}}, raycluster_schema
    )
    assert validate(new, raycluster_schema) == []  # create: no transition rules
    causes = validate(new, raycluster_schema, old=old)
    assert rendered(causes) == ['spec.managedBy: Invalid value: "string": the managedBy field is immutable']


SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_every_sample_raycluster_is_accepted_unchanged(raycluster_schema: dict[str, Any]) -> None:
    manifests = [
        doc
        for path in sorted(SAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "RayCluster"
    ]
    assert manifests, "samples/ holds RayCluster manifests"
    for manifest in manifests:
        pruned, unknown = prune(manifest, raycluster_schema)
        assert unknown == [], manifest["metadata"]["name"]
        assert validate(apply_defaults(pruned, raycluster_schema), raycluster_schema) == [], manifest["metadata"][
            "name"
        ]
