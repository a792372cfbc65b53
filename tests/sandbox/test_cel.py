"""The CEL subset used by CRD x-kubernetes-validations: parsing, CEL semantics and kube-apiserver's causes."""

from __future__ import annotations

from typing import Any

import pytest

from ray_operator.sandbox.schema.cel import CelError, check_rules, compile_rule, evaluate


def run(rule: str, self_value: Any, old: Any = None) -> Any:
    variables = {"self": self_value}
    if old is not None:
        variables["oldSelf"] = old
    return evaluate(compile_rule(rule), variables)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("self == oldSelf", {"a": 1}, True),
        ("self in ['redis', 'gcs']", "gcs", True),
        ("self in ['redis', 'gcs']", "s3", False),
        ("!has(self.x) || self.x > 0", {}, True),
        ("!has(self.x) || self.x > 0", {"x": 0}, False),
        ("has(self.x) && size(self.x) <= 3", {"x": "abcd"}, False),
        ("self.x.size() == 2", {"x": [1, 2]}, True),
        ("self.a + self.b * 2 == 7 && self.a - 1 >= 0", {"a": 1, "b": 3}, True),
        ("self.n / 2 == -1 && self.n % 2 == -1", {"n": -3}, True),
        ("self.s.startsWith('ray-') && self.s.endsWith('x') && self.s.contains('y')", {"s": "ray-yx"}, True),
        ("self.s.matches('^[a-z]+$')", {"s": "Abc"}, False),
        ("self.l.all(i, i > 0) && self.l.exists(i, i == 2) && self.l.exists_one(i, i == 3)", {"l": [1, 2, 3]}, True),
        ("self.l.filter(i, i > 1).map(i, i * 10) == [20, 30]", {"l": [1, 2, 3]}, True),
        ("self.m['k'] == 'v' && 'k' in self.m", {"m": {"k": "v"}}, True),
        ("self.t ? 'yes' : 'no'", {"t": False}, "no"),
        ("true == 1", {}, False),
        ("[1, 2] == [1, 2] && {'a': 1} != {'a': 2}", {}, True),
        ("\"a\\tb\" == 'a\\tb' && 0x10 == 16 && 3u == 3 && 1.5 < 2.0", {}, True),
        ("self.missing == 1 || true", {}, True),
        ("false && self.missing == 1", {}, False),
        ("int('5') + 1 == 6 && string(5) == '5' && double(1) == 1.0", {}, True),
    ],
)
def test_evaluation(rule: str, value: Any, expected: Any) -> None:
    assert run(rule, value, old=value if "oldSelf" in rule else None) == expected


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        ("self.missing == 1", {}, "no such key: missing"),
        ("self.a < 'x'", {"a": 1}, "no such overload: _<_(int, string)"),
        ("self.l[5] == 1", {"l": [1]}, "index out of bounds: 5"),
        ("1 / 0 == 1", {}, "division by zero"),
        ("foo == 1", {}, "undeclared reference to 'foo'"),
    ],
)
def test_runtime_errors(rule: str, value: Any, message: str) -> None:
    with pytest.raises(CelError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        run(rule, value)


@pytest.mark.parametrize("rule", ["self ==", "self.(x)", "has(self)", "self.a ? 1", "'unterminated", "self @ 1"])
def test_syntax_errors(rule: str) -> None:
    with pytest.raises(CelError, match="Syntax error"):
        compile_rule(rule)


def test_pathological_input_is_an_error_not_a_crash() -> None:
    with pytest.raises(CelError, match="nested too deeply"):
        compile_rule("(" * 5000 + "1" + ")" * 5000)
    deep = compile_rule("1 + " * 20000 + "1 == 0")  # parses iteratively; evaluation runs out of stack
    assert not deep.uses_old_self
    causes = check_rules([{"rule": deep.source}], {}, field="spec", type_name="object")
    assert "nested too deeply" in causes[0].message
    with pytest.raises(CelError, match="too long"):
        compile_rule("1 + " * 30000 + "1")


def test_transition_rule_detection() -> None:
    assert compile_rule("self == oldSelf").uses_old_self
    assert not compile_rule("self.oldSelfish == 1").uses_old_self


def test_causes_render_like_kube_apiserver() -> None:
    rules = [
        {"rule": "self == oldSelf", "message": "Value is immutable"},
        {"rule": "size(self) < 3", "messageExpression": "'too long: ' + string(size(self))"},
        {"rule": "self != 'dup'", "reason": "FieldValueDuplicate"},
        {"rule": "self != 'req'", "reason": "FieldValueRequired", "message": "must be set"},
        {"rule": "self.startsWith('z')", "fieldPath": ".name"},
    ]
    causes = check_rules(rules, "dupe", old_value="old", has_old=True, field="spec.x", type_name="string")
    assert [(c.reason, c.field, c.message) for c in causes] == [
        ("FieldValueInvalid", "spec.x", 'Invalid value: "string": Value is immutable'),
        ("FieldValueInvalid", "spec.x", 'Invalid value: "string": too long: 4'),
        ("FieldValueInvalid", "spec.x.name", "Invalid value: \"string\": failed rule: self.startsWith('z')"),
    ]
    causes = check_rules(rules[2:4], "dup", field="spec.x", type_name="string")
    assert [(c.reason, c.message) for c in causes] == [("FieldValueDuplicate", 'Duplicate value: "string"')]
    causes = check_rules(rules[3:4], "req", field="spec.x", type_name="string")
    assert [(c.reason, c.message) for c in causes] == [("FieldValueRequired", "Required value: must be set")]


def test_transition_rules_skipped_without_old_value_and_errors_reported() -> None:
    rules = [{"rule": "self == oldSelf"}, {"rule": "self.nope == 1"}]
    causes = check_rules(rules, {}, field="spec", type_name="object")
    assert [c.message for c in causes] == ['Invalid value: "object": no such key: nope']


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("'AbC'.lowerAscii() == 'abc' && 'AbC'.upperAscii() == 'ABC' && ' x '.trim() == 'x'", True),
        ("'a,b'.split(',') == ['a', 'b'] && ['a', 'b'].join('-') == 'a-b'", True),
        ("'hello'.replace('l', 'L') == 'heLLo' && 'hello'.indexOf('l') == 2 && 'hello'.lastIndexOf('l') == 3", True),
        ("'hello'.substring(1, 3) == 'el' && 'hello'.charAt(1) == 'e'", True),
        ("[3, 1, 2].sum() == 6 && [3, 1, 2].min() == 1 && [3, 1, 2].max() == 3", True),
        ("[1, 2, 3].isSorted() && ![2, 1].isSorted() && [1, 2, 1].lastIndexOf(1) == 2", True),
    ],
)
def test_kubernetes_string_and_list_libraries(rule: str, expected: Any) -> None:
    assert run(rule, {}) == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("'x'.matches('(')", "invalid regular expression"),
        ("double('abc') == 1.0", "cannot convert"),
        ("'abc'.substring(2, 9) == ''", "index out of range"),
    ],
)
def test_library_misuse_is_an_error(rule: str, message: str) -> None:
    with pytest.raises(CelError, match=message):
        run(rule, {})


def test_unhashable_map_keys_are_cel_errors() -> None:
    with pytest.raises(CelError, match="evaluation error"):
        run("{[1]: 2}.size() == 1", {})
    with pytest.raises(CelError, match="evaluation error"):
        run("self.m[[1]] == 1", {"m": {"a": 1}})
