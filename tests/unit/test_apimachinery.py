"""The Kubernetes primitives: quantities, name rules, selectors and Go-style printing, each against upstream.

The emulator, the webhook and the builders all use these, so a test here pins the one implementation
their error texts and matching decisions come from.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ray_operator.apimachinery.govalues import go_float, go_v, go_value, json_type
from ray_operator.apimachinery.names import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    qualified_name_errors,
)
from ray_operator.apimachinery.quantity import parse_quantity, quantity_value
from ray_operator.apimachinery.selectors import (
    SelectorError,
    format_label_selector,
    label_selector_from_object,
    parse_label_selector,
)

# --- quantities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", "0.5"),
        ("2", "2"),
        (2, "2"),
        ("1.5", "1.5"),
        ("1Gi", str(2**30)),
        ("1k", "1000"),
        ("1e3", "1000"),
        ("0", "0"),
        ("100n", "0.0000001"),
    ],
)
def test_parse_quantity(text: Any, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["one", "", "1.5.5", "Gi", True, None, [1], "1Ki5"])
def test_parse_quantity_refuses_non_quantities(text: Any) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(("text", "value"), [("500m", 1), ("1", 1), ("1001m", 2), ("0", 0), ("2Ki", 2048)])
def test_quantity_value_rounds_up_like_quantity_value(text: str, value: int) -> None:
    amount = parse_quantity(text)
    assert amount is not None
    assert quantity_value(amount) == value


# --- names -----------------------------------------------------------------------------------------


def test_dns1123_label_reports_length_and_syntax_together() -> None:
    problems = dns1123_label_errors("A" * 64)
    assert problems[0] == "must be no more than 63 characters"
    assert problems[1].startswith("a lowercase RFC 1123 label must consist of lower case alphanumeric characters")
    assert dns1123_label_errors("workers-1") == []


def test_dns1035_label_must_start_with_a_letter() -> None:
    assert dns1035_label_errors("1demo") == [
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
        "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
        "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]
    assert dns1035_label_errors("demo-1") == []


def test_dns1123_subdomain_allows_dots_and_limits_253() -> None:
    assert dns1123_subdomain_errors("ray.io") == []
    assert dns1123_subdomain_errors("a" * 254)[0] == "must be no more than 253 characters"


def test_qualified_name_prefix_and_name_parts() -> None:
    assert qualified_name_errors("ray.io/cluster") == []
    assert qualified_name_errors("/x") == ["prefix part must be non-empty"]
    assert qualified_name_errors("Bad_Prefix/x")[0].startswith("prefix part a lowercase RFC 1123 subdomain")
    # upstream reports an empty name part twice: empty, and not matching the regex
    empty = qualified_name_errors("ray.io/")
    assert empty[0] == "name part must be non-empty" and empty[1].startswith("name part must consist of")
    assert qualified_name_errors("a/b/c")[0].startswith("a qualified name must consist of")


def test_label_values() -> None:
    assert label_value_errors("") == []
    assert label_value_errors("v1.2_x") == []
    assert label_value_errors("-x")[0].startswith("a valid label must be an empty string or consist of")
    assert label_value_errors("x" * 64) == ["must be no more than 63 characters"]


# --- selectors -----------------------------------------------------------------------------------


def test_selector_object_operators() -> None:
    labels = {"app": "ray", "tier": "head"}

    def selects(selector: Any) -> bool:
        return label_selector_from_object(selector).matches(labels)

    assert selects({}) and selects(None)
    assert selects({"matchLabels": {"app": "ray"}})
    assert not selects({"matchLabels": {"app": "web"}})
    assert selects({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["head", "x"]}]})
    assert not selects({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["head"]}]})
    assert selects({"matchExpressions": [{"key": "gone", "operator": "NotIn", "values": ["a"]}]})
    assert selects({"matchExpressions": [{"key": "app", "operator": "Exists"}]})
    assert not selects({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]})


def test_string_and_object_forms_agree() -> None:
    text = parse_label_selector("ray.io/node-type in (worker,head),ray.io/cluster=c,!gone")
    obj = label_selector_from_object(
        {
            "matchLabels": {"ray.io/cluster": "c"},
            "matchExpressions": [
                {"key": "ray.io/node-type", "operator": "In", "values": ["head", "worker"]},
                {"key": "gone", "operator": "DoesNotExist"},
            ],
        }
    )
    assert text == obj
    assert str(obj) == "!gone,ray.io/cluster=c,ray.io/node-type in (head,worker)"


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist',
        ),
        ({"matchExpressions": [{"key": "a", "operator": "Has"}]}, '"Has" is not a valid label selector operator'),
    ],
)
def test_selector_object_errors_carry_upstream_text(selector: Any, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        label_selector_from_object(selector)
    assert str(caught.value) == message


def test_format_label_selector_like_kubectl() -> None:
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({}) == "<none>"
    assert format_label_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Bad"}]}) == "<error>"


def test_selector_parse_error_text() -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector("a in b")
    assert str(caught.value) == "unable to parse requirement: found 'b' expected: '('"


# --- Go-style printing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1.5, "1.5"),
        (0.00001, "1e-05"),
        (2.0, "2"),
        (-0.0, "-0"),
        (float("inf"), "+Inf"),
    ],
)
def test_go_float_is_percent_v_of_a_float64(value: float, printed: str) -> None:
    assert go_float(value) == printed


def test_every_printer_agrees_on_numbers() -> None:
    # The issue that created this package: 1e6 printed 1000000, 1000000.0 and 1e+06 in three places.
    assert go_value(1e6) == go_v(1e6) == "1e+06"
    assert go_value(1000000) == go_v(1000000) == "1000000"


def test_go_value_shapes() -> None:
    assert go_value(None) == '"null"'
    assert go_value("x") == '"x"'
    assert go_value(True) == "true"
    assert go_value({"b": 1, "a": [1]}) == 'map[string]interface {}{"a":[]interface {}{1}, "b":1}'
    assert go_value(["CREATE", "x"], slice_type="string") == '[]string{"CREATE", "x"}'
    assert go_v({"a": [1, "x"], "b": None}) == "map[a:[1 x] b:<nil>]"


def test_json_type_names_what_a_type_error_prints() -> None:
    decoded = json.loads('[null, true, 1, 1.0, 1e6, "x", {}, []]')
    assert [json_type(v) for v in decoded] == [
        "null",
        "boolean",
        "integer",
        "number",
        "number",
        "string",
        "object",
        "array",
    ]
