"""Evaluation of a parsed CEL ``Program``: CEL's value semantics and the library functions Kubernetes adds.

Exact where it matters: ``&&``/``||`` absorb errors when the other side decides, ``bool`` never equals
``int``, integer division truncates toward zero, missing fields are errors except inside ``has()``,
and a call with no matching overload fails with ``no such overload: name(types)``.
Decided against: Python's own equality and truthiness (``True == 1`` and ``1 == 1.0`` would leak
through), and compiling to Python closures (the tree walk is fast enough for a few rules per write).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ray_operator.sandbox.schema.cel.parser import CelError, Node, Program


def _type_name(value: Any) -> str:
    if value is None:
        return "null_type"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _no_overload(op: str, *values: Any) -> CelError:
    return CelError(f"no such overload: {op}({', '.join(_type_name(v) for v in values)})")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _compare(op: str, a: Any, b: Any) -> bool:
    numeric = (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )
    if not (numeric or (type(a) is type(b) and isinstance(a, str | bool))):
        raise _no_overload(f"_{op}_", a, b)
    result: bool
    if op == "<":
        result = a < b
    elif op == "<=":
        result = a <= b
    elif op == ">":
        result = a > b
    else:
        result = a >= b
    return result


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, list) and isinstance(b, list):
            return a + b
    both_int = _is_int(a) and _is_int(b)
    both_double = isinstance(a, float) and isinstance(b, float)
    if not (both_int or both_double):
        raise _no_overload(f"_{op}_", a, b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if both_int:
            if b == 0:
                raise CelError("division by zero")
            quotient = abs(a) // abs(b)
            return quotient if (a >= 0) == (b >= 0) else -quotient
        return a / b if b else float("inf")
    if b == 0:
        raise CelError("modulus by zero")
    if not both_int:
        raise _no_overload("_%_", a, b)
    return a - b * int(a / b)


_ABSENT = object()


class _Evaluator:
    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = dict(variables)

    def eval(self, node: Node) -> Any:
        tag = node[0]
        method: Callable[[Node], Any] = getattr(self, f"_{tag}")
        return method(node)

    def _lit(self, node: Node) -> Any:
        return node[1]

    def _ident(self, node: Node) -> Any:
        name = node[1]
        if name not in self.variables:
            raise CelError(f"undeclared reference to '{name}'")
        return self.variables[name]

    def _list(self, node: Node) -> Any:
        return [self.eval(item) for item in node[1]]

    def _map(self, node: Node) -> Any:
        return {self.eval(k): self.eval(v) for k, v in node[1]}

    def _select(self, node: Node) -> Any:
        target = self.eval(node[1])
        if not isinstance(target, dict):
            raise CelError(f"type '{_type_name(target)}' does not support field selection")
        if node[2] not in target:
            raise CelError(f"no such key: {node[2]}")
        return target[node[2]]

    def _has(self, node: Node) -> Any:
        target = self.eval(node[1][1])
        if not isinstance(target, dict):
            raise CelError(f"invalid type for field selection: {_type_name(target)}")
        return node[1][2] in target

    def _index(self, node: Node) -> Any:
        target = self.eval(node[1])
        key = self.eval(node[2])
        if isinstance(target, list):
            if not _is_int(key):
                raise _no_overload("_[_]", target, key)
            if not 0 <= key < len(target):
                raise CelError(f"index out of bounds: {key}")
            return target[key]
        if isinstance(target, dict):
            if key not in target:
                raise CelError(f"no such key: {key}")
            return target[key]
        raise _no_overload("_[_]", target, key)

    def _not(self, node: Node) -> Any:
        value = self.eval(node[1])
        if not isinstance(value, bool):
            raise _no_overload("!_", value)
        return not value

    def _neg(self, node: Node) -> Any:
        value = self.eval(node[1])
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _no_overload("-_", value)
        return -value

    def _logic(self, node: Node, decisive: bool) -> Any:
        error: CelError | None = None
        for side in (node[1], node[2]):
            try:
                value = self.eval(side)
            except CelError as exc:
                error = error or exc
                continue
            if not isinstance(value, bool):
                error = error or _no_overload("_&&_" if not decisive else "_||_", value)
                continue
            if value is decisive:
                return decisive
        if error:
            raise error
        return not decisive

    def _and(self, node: Node) -> Any:
        return self._logic(node, False)

    def _or(self, node: Node) -> Any:
        return self._logic(node, True)

    def _cond(self, node: Node) -> Any:
        cond = self.eval(node[1])
        if not isinstance(cond, bool):
            raise _no_overload("_?_:_", cond)
        return self.eval(node[2] if cond else node[3])

    def _bin(self, node: Node) -> Any:
        op = node[1]
        left = self.eval(node[2])
        right = self.eval(node[3])
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("<", "<=", ">", ">="):
            return _compare(op, left, right)
        if op == "in":
            if isinstance(right, list):
                return any(_equal(left, item) for item in right)
            if isinstance(right, dict):
                return left in right
            raise _no_overload("@in", left, right)
        return _arith(op, left, right)

    def _macro(self, node: Node) -> Any:
        _, name, target_node, var, body = node
        target = self.eval(target_node)
        if isinstance(target, dict):
            items = list(target)
        elif isinstance(target, list):
            items = target
        else:
            raise _no_overload(name, target)
        saved = self.variables.get(var, _ABSENT)
        results: list[Any] = []
        try:
            for item in items:
                self.variables[var] = item
                results.append(self.eval(body))
        finally:
            if saved is _ABSENT:
                self.variables.pop(var, None)
            else:
                self.variables[var] = saved
        if name == "map":
            return results
        if name == "filter":
            return [item for item, keep in zip(items, results, strict=True) if keep is True]
        if not all(isinstance(r, bool) for r in results):
            raise _no_overload(name, *results)
        if name == "all":
            return all(results)
        if name == "exists":
            return any(results)
        return sum(1 for r in results if r) == 1

    def _call(self, node: Node) -> Any:
        _, name, target_node, arg_nodes = node
        args = [self.eval(a) for a in arg_nodes]
        if target_node is not None:
            args.insert(0, self.eval(target_node))
        return _call_function(name, args)


def _is_str(*values: Any) -> bool:
    return all(isinstance(v, str) for v in values)


def _string_function(name: str, args: Sequence[Any]) -> Any:
    """Kubernetes' CEL string library (and the core string functions), or ``_MISSING_FN``."""
    target, rest = args[0], list(args[1:])
    if name == "startsWith" and len(rest) == 1 and _is_str(*rest):
        return target.startswith(rest[0])
    if name == "endsWith" and len(rest) == 1 and _is_str(*rest):
        return target.endswith(rest[0])
    if name == "contains" and len(rest) == 1 and _is_str(*rest):
        return rest[0] in target
    if name == "matches" and len(rest) == 1 and _is_str(*rest):
        try:
            return re.search(rest[0], target) is not None
        except re.error as exc:
            raise CelError(f"invalid regular expression {rest[0]!r}: {exc}") from exc
    if name in ("lowerAscii", "upperAscii", "trim") and not rest:
        if name == "trim":
            return target.strip()
        table = str.maketrans(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if name == "lowerAscii" else "abcdefghijklmnopqrstuvwxyz",
            "abcdefghijklmnopqrstuvwxyz" if name == "lowerAscii" else "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        )
        return target.translate(table)
    if name == "split" and len(rest) == 1 and _is_str(*rest):
        return target.split(rest[0]) if rest[0] else list(target)
    if name == "replace" and len(rest) == 2 and _is_str(*rest):
        return target.replace(rest[0], rest[1])
    if name in ("indexOf", "lastIndexOf") and len(rest) == 1 and _is_str(*rest):
        return target.find(rest[0]) if name == "indexOf" else target.rfind(rest[0])
    if name == "charAt" and len(rest) == 1 and _is_int(rest[0]):
        if not 0 <= rest[0] <= len(target):
            raise CelError(f"index out of range: {rest[0]}")
        return target[rest[0] : rest[0] + 1]
    if name == "substring" and 1 <= len(rest) <= 2 and all(_is_int(v) for v in rest):
        start, stop = rest[0], rest[1] if len(rest) == 2 else len(target)
        if not 0 <= start <= stop <= len(target):
            raise CelError(f"index out of range: {start}, {stop}")
        return target[start:stop]
    return _MISSING_FN


def _list_function(name: str, args: Sequence[Any]) -> Any:
    """Kubernetes' CEL list library, or ``_MISSING_FN``."""
    target, rest = args[0], list(args[1:])
    if name == "join" and len(rest) <= 1 and _is_str(*rest) and all(isinstance(v, str) for v in target):
        return (rest[0] if rest else "").join(target)
    if rest:
        if name in ("indexOf", "lastIndexOf") and len(rest) == 1:
            hits = [i for i, v in enumerate(target) if _equal(v, rest[0])]
            return (hits[0] if name == "indexOf" else hits[-1]) if hits else -1
        return _MISSING_FN
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in target)
    if name == "sum" and numbers:
        return sum(target)
    if name in ("min", "max") and target and (numbers or all(isinstance(v, str) for v in target)):
        return min(target) if name == "min" else max(target)
    if name == "isSorted" and (numbers or all(isinstance(v, str) for v in target)):
        return all(a <= b for a, b in itertools.pairwise(target))
    return _MISSING_FN


_MISSING_FN: Any = object()


def _call_function(name: str, args: Sequence[Any]) -> Any:
    if name == "size" and len(args) == 1 and isinstance(args[0], str | list | dict):
        return len(args[0])
    if args and isinstance(args[0], str):
        result = _string_function(name, args)
        if result is not _MISSING_FN:
            return result
    if args and isinstance(args[0], list):
        result = _list_function(name, args)
        if result is not _MISSING_FN:
            return result
    if len(args) == 1:
        value = args[0]
        try:
            if name in ("int", "uint") and isinstance(value, int | float | str) and not isinstance(value, bool):
                return int(value)
            if name == "double" and isinstance(value, int | float | str) and not isinstance(value, bool):
                return float(value)
        except (ValueError, OverflowError) as exc:
            raise CelError(f"cannot convert {value!r} to {name}") from exc
        if name == "string":
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int | float | str):
                return str(value)
    raise _no_overload(name, *args)


def evaluate(program: Program, variables: Mapping[str, Any]) -> Any:
    """Evaluate ``program`` with ``variables`` (``self``, ``oldSelf``); raises ``CelError``."""
    try:
        return _Evaluator(variables).eval(program.ast)
    except RecursionError as exc:
        raise CelError("expression is nested too deeply") from exc
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        raise CelError(f"evaluation error: {exc}") from exc
