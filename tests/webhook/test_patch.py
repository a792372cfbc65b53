"""The JSON patch generator: applying its operations to the input gives the target, and nothing more."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.patch import diff, encode_patch, escape_pointer_token

keys = st.text(alphabet=st.sampled_from("ab/~0 .-"), min_size=0, max_size=4)
scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False, allow_infinity=False) | keys
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def apply(doc: Any, ops: list[dict[str, Any]]) -> Any:
    return jsonpatch.apply_patch(copy.deepcopy(doc), ops)


def same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_applying_the_patch_to_the_input_gives_the_target(old: Any, new: Any) -> None:
    ops = diff(old, new)
    assert same_json(apply(old, ops), new)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_identical_documents_need_no_operation(doc: Any) -> None:
    assert diff(doc, copy.deepcopy(doc)) == []


def test_a_single_added_default_is_a_single_add() -> None:
    old: dict[str, Any] = {"spec": {"headGroupSpec": {"rayStartParams": {}}, "workerGroupSpecs": [{"groupName": "a"}]}}
    new = copy.deepcopy(old)
    new["spec"]["workerGroupSpecs"][0]["replicas"] = 1
    assert diff(old, new) == [{"op": "add", "path": "/spec/workerGroupSpecs/0/replicas", "value": 1}]


def test_keys_with_slash_and_tilde_are_escaped() -> None:
    old: dict[str, Any] = {"metadata": {"labels": {}}}
    new = {"metadata": {"labels": {"ray.io/node~type": "head"}}}
    ops = diff(old, new)
    assert ops == [{"op": "add", "path": "/metadata/labels/ray.io~1node~0type", "value": "head"}]
    assert apply(old, ops) == new
    assert escape_pointer_token("~/") == "~0~1"


def test_a_type_change_is_a_replace_even_when_python_equal() -> None:
    assert diff({"a": 1}, {"a": True}) == [{"op": "replace", "path": "/a", "value": True}]
    assert diff({"a": 1}, {"a": 1.5}) == [{"op": "replace", "path": "/a", "value": 1.5}]


def test_list_shrink_removes_from_the_end() -> None:
    ops = diff({"l": [1, 2, 3]}, {"l": [1]})
    assert ops == [{"op": "remove", "path": "/l/2"}, {"op": "remove", "path": "/l/1"}]


def test_encoded_patch_is_base64_of_a_json_array() -> None:
    ops = [{"op": "add", "path": "/x", "value": "é"}]
    assert json.loads(base64.b64decode(encode_patch(ops))) == ops


def test_equal_documents_with_other_key_order_or_shared_objects_need_no_operation() -> None:
    shared = {"x": [1, 2]}
    assert diff({"a": 1, "b": {"c": True}}, {"b": {"c": True}, "a": 1}) == []
    assert diff({"p": shared, "q": shared}, {"p": {"x": [1, 2]}, "q": {"x": [1, 2]}}) == []


def test_a_type_change_deep_inside_an_equal_looking_subtree_is_found() -> None:
    old = {"spec": {"a": {"b": [1, {"c": 1}]}}}
    new = {"spec": {"a": {"b": [1, {"c": True}]}}}
    assert diff(old, new) == [{"op": "replace", "path": "/spec/a/b/1/c", "value": True}]
