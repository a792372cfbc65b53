"""Pure pieces: label/field selector grammar and errors, merge patch, JSON patch, basic server-side apply."""

from __future__ import annotations

from typing import Any

import pytest

from ray_operator.sandbox import errors
from ray_operator.sandbox.schema import patching
from ray_operator.sandbox.storage.selectors import parse_field_selector, parse_label_selector

LABELS = {"app": "ray", "tier": "head", "n": "5"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=ray", True),
        ("app==ray", True),
        ("app!=ray", False),
        ("app in (ray, other)", True),
        ("app notin (ray)", False),
        ("missing notin (x)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=ray,tier=worker", False),
        ("n>4", True),
        ("n<5", False),
        ("", True),
        ("missing!=x", True),
    ],
)
def test_label_selector_grammar(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is expected


REQ = "unable to parse requirement: "


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app in (a", REQ + "found '', expected: ',' or ')'"),
        ("app in (a b)", REQ + "found 'b', expected: ',' or ')'"),
        ("app in (a,", REQ + "found '', expected: ',', or identifier"),
        ("app in a", REQ + "found 'a' expected: '('"),
        ("a b", REQ + "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("!", REQ + "found '', expected: identifier"),
        ("n>x", REQ + "values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"),
        ("x=" + "v" * 64, REQ + f'values[0][x]: Invalid value: "{"v" * 64}": must be no more than 63 characters'),
        ("a/b/c", REQ + '<nil>: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters'),
        ("Bad_Key/x=1", REQ + '<nil>: Invalid value: "Bad_Key/x": prefix part a lowercase RFC 1123 subdomain'),
        # Outside one requirement the text has no prefix, as upstream.
        ("=x", "found '=', expected: !, identifier, or 'end of string'"),
        ("x,", "found '', expected: identifier after ','"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ],
)
def test_invalid_label_selectors_are_400_with_apimachinerys_text(selector: str, message: str) -> None:
    with pytest.raises(errors.ApiError) as info:
        parse_label_selector(selector)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    assert info.value.message.startswith(message)


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app in ()", {"app": ""}, True),  # "()" is the set of the empty value, not an error
        ("app in ()", {"app": "ray"}, False),
        ("app in (a,,b)", {"app": ""}, True),
        ("app=", {"app": ""}, True),
        ("in in (notin)", {"in": "notin"}, True),  # keywords are identifiers where values go
    ],
)
def test_empty_values_and_keywords_as_identifiers(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


def test_field_selectors_and_unsupported_fields() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    sel = parse_field_selector("metadata.name=p,status.phase!=Pending", group="", resource="pods", namespaced=True)
    assert sel.matches(pod) and sel.exact_name() == "p"
    assert not parse_field_selector("spec.nodeName==n2", group="", resource="pods", namespaced=True).matches(pod)
    with pytest.raises(errors.ApiError) as info:
        parse_field_selector("spec.foo=1", group="ray.io", resource="rayclusters", namespaced=True)
    assert info.value.code == 400 and info.value.message == "field label not supported: spec.foo"


def test_merge_patch_null_deletes_and_lists_replace() -> None:
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert patching.merge_patch(doc, {"a": {"b": None, "d": 3}, "l": [3]}) == {"a": {"c": 2, "d": 3}, "l": [3]}
    assert doc == {"a": {"b": 1, "c": 2}, "l": [1, 2]}, "the input is not modified"


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ({"a": 1}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, result: Any) -> None:
    """The RFC's own examples: a map in the patch replaces a non-map target, and nulls under it are dropped."""
    assert patching.merge_patch(target, patch) == result


def test_merge_patch_result_shares_nothing_with_its_inputs() -> None:
    doc = {"spec": {"groups": [{"n": 1}]}}
    patch = {"spec": {"extra": {"l": [1]}}}
    merged = patching.merge_patch(doc, patch)
    merged["spec"]["groups"][0]["n"] = 2
    merged["spec"]["extra"]["l"].append(2)
    assert doc == {"spec": {"groups": [{"n": 1}]}} and patch == {"spec": {"extra": {"l": [1]}}}


def test_json_patch_errors() -> None:
    doc = {"spec": {"size": 1}}
    assert patching.json_patch(doc, [{"op": "replace", "path": "/spec/size", "value": 2}]) == {"spec": {"size": 2}}
    with pytest.raises(errors.ApiError) as info:
        patching.json_patch(doc, {"op": "replace"})
    assert info.value.code == 400 and "cannot unmarshal object" in info.value.message
    with pytest.raises(errors.ApiError) as info:
        patching.json_patch(doc, [{"op": "test", "path": "/spec/size", "value": 5}])
    assert info.value.code == 422
    with pytest.raises(errors.ApiError) as info:
        patching.json_patch(doc, [{"op": "remove", "path": "/spec/missing"}])
    assert info.value.code == 422


def test_server_side_apply_drops_fields_the_manager_stopped_applying() -> None:
    current = {"metadata": {"name": "x", "labels": {"other": "1"}}, "spec": {"a": 1, "b": 2, "keep": 3}}
    first = {"metadata": {"name": "x"}, "spec": {"a": 1, "b": 2}}
    applied_fields = patching.touched_fields(first)
    second = {"metadata": {"name": "x"}, "spec": {"a": 5}}
    result = patching.server_side_apply(current, second, previous_fields=applied_fields)
    assert result["spec"] == {"a": 5, "keep": 3}
    assert result["metadata"]["labels"] == {"other": "1"}
