"""The subset of CEL that kube-apiserver evaluates for CRD ``x-kubernetes-validations``, and the causes it reports.

Our CRD's rules are small (``self == oldSelf`` immutability, ``self in [...]``, ``!has(self.x) || ...``),
so a tokenizer, a recursive-descent parser and a tree-walking evaluator cover them with exact CEL
semantics where it matters: ``&&``/``||`` absorb errors when the other side decides, ``bool`` never
equals ``int``, integer division truncates, missing fields are errors except inside ``has()``.
Supported: literals (int, uint, double, string, bytes-less, bool, null, list, map), field selection,
indexing, ``has``, ``size``, ``in``, arithmetic, comparisons, ``!``, ``?:``, the string functions
``startsWith``/``endsWith``/``contains``/``matches``, Kubernetes' string library (``lowerAscii``,
``upperAscii``, ``trim``, ``split``, ``replace``, ``indexOf``, ``lastIndexOf``, ``charAt``,
``substring``) and list library (``join``, ``sum``, ``min``, ``max``, ``isSorted``, ``indexOf``),
``int``/``uint``/``double``/``string`` conversions, and the macros
``all``/``exists``/``exists_one``/``map``/``filter``.

Decided against ``cel-python``: it pulls ``lark`` and more, compiles slowly (~3 ms per rule), and we
need its error texts to match kube-apiserver's anyway; the quantity, url, ip and regex-extension
libraries are not implemented.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import Cause


class CelError(Exception):
    """A syntax or evaluation error, with CEL-style text."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<double>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>0[xX][0-9a-fA-F]+[uU]?|\d+[uU]?)
  | (?P<string>[rR]?(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,\[\](){}])
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match:
            raise CelError(f"Syntax error: token recognition error at: '{source[pos]}' (position {pos})")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Tok("eof", "", pos))
    return tokens


def _unquote(text: str) -> str:
    raw = text[0] in "rR"
    body = text[2:-1] if raw else text[1:-1]
    if raw:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# AST nodes are tuples: (tag, ...). Kept as plain tuples for a compact evaluator.
Node = tuple[Any, ...]

_MACROS = {"all", "exists", "exists_one", "map", "filter"}


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self, text: str | None = None) -> _Tok:
        tok = self.tokens[self.i]
        if text is not None and tok.text != text:
            found = tok.text or "<EOF>"
            raise CelError(f"Syntax error: mismatched input '{found}' expecting '{text}' (position {tok.pos})")
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        if self.peek().text == text and self.peek().kind in ("op", "ident"):
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        node = self.expr()
        if self.peek().kind != "eof":
            tok = self.peek()
            raise CelError(f"Syntax error: extraneous input '{tok.text}' (position {tok.pos})")
        return node

    def expr(self) -> Node:
        cond = self.or_()
        if self.accept("?"):
            yes = self.or_()
            self.take(":")
            no = self.expr()
            return ("cond", cond, yes, no)
        return cond

    def or_(self) -> Node:
        node = self.and_()
        while self.accept("||"):
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.rel()
        while self.accept("&&"):
            node = ("and", node, self.rel())
        return node

    def rel(self) -> Node:
        node = self.add()
        while self.peek().text in ("==", "!=", "<", "<=", ">", ">=", "in") and self.peek().kind in ("op", "ident"):
            op = self.take().text
            node = ("bin", op, node, self.add())
        return node

    def add(self) -> Node:
        node = self.mul()
        while self.peek().text in ("+", "-") and self.peek().kind == "op":
            op = self.take().text
            node = ("bin", op, node, self.mul())
        return node

    def mul(self) -> Node:
        node = self.unary()
        while self.peek().text in ("*", "/", "%") and self.peek().kind == "op":
            op = self.take().text
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.accept("!"):
            return ("not", self.unary())
        if self.accept("-"):
            return ("neg", self.unary())
        return self.postfix()

    def args(self, close: str) -> list[Node]:
        items: list[Node] = []
        if not self.accept(close):
            while True:
                items.append(self.expr())
                if self.accept(close):
                    break
                self.take(",")
                if self.accept(close):
                    break
        return items

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("."):
                tok = self.take()
                if tok.kind != "ident":
                    raise CelError(
                        f"Syntax error: mismatched input '{tok.text}' expecting IDENTIFIER (position {tok.pos})"
                    )
                if self.accept("("):
                    if tok.text in _MACROS:
                        var = self.take()
                        if var.kind != "ident":
                            raise CelError(f"Syntax error: {tok.text}() variable name must be a simple identifier")
                        self.take(",")
                        body = self.expr()
                        self.take(")")
                        node = ("macro", tok.text, node, var.text, body)
                    else:
                        node = ("call", tok.text, node, self.args(")"))
                else:
                    node = ("select", node, tok.text)
            elif self.accept("["):
                index = self.expr()
                self.take("]")
                node = ("index", node, index)
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "int":
            text = tok.text.rstrip("uU")
            return ("lit", int(text, 16) if text.lower().startswith("0x") else int(text))
        if tok.kind == "double":
            return ("lit", float(tok.text))
        if tok.kind == "string":
            return ("lit", _unquote(tok.text))
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return ("lit", tok.text == "true")
            if tok.text == "null":
                return ("lit", None)
            if self.accept("("):
                if tok.text == "has":
                    arg = self.expr()
                    self.take(")")
                    if arg[0] != "select":
                        raise CelError("Syntax error: invalid argument to has() macro")
                    return ("has", arg)
                return ("call", tok.text, None, self.args(")"))
            return ("ident", tok.text)
        if tok.text == "(":
            node = self.expr()
            self.take(")")
            return node
        if tok.text == "[":
            return ("list", self.args("]"))
        if tok.text == "{":
            entries: list[tuple[Node, Node]] = []
            if not self.accept("}"):
                while True:
                    key = self.expr()
                    self.take(":")
                    entries.append((key, self.expr()))
                    if self.accept("}"):
                        break
                    self.take(",")
            return ("map", entries)
        found = tok.text or "<EOF>"
        raise CelError(f"Syntax error: mismatched input '{found}' (position {tok.pos})")


@dataclass(frozen=True)
class Program:
    """A parsed CEL expression (immutable: one instance is shared by every evaluation of its source)."""

    source: str
    ast: Node
    uses_old_self: bool
    """True for transition rules, which run only on UPDATE when the old value exists."""


def _mentions(node: Any, name: str) -> bool:
    """Whether the AST refers to the variable ``name`` (iterative: parsed chains can be very deep)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple):
            if len(current) == 2 and current[0] == "ident" and current[1] == name:
                return True
            stack.extend(current)
        elif isinstance(current, list):
            stack.extend(current)
    return False


@functools.lru_cache(maxsize=512)
def compile_rule(source: str) -> Program:
    """Parse ``source``; raises ``CelError`` with a syntax message.

    Memoised: every CR write evaluates the same few CRD and webhook rules, and parsing costs ~20 times
    the evaluation. Failures are not cached (they only occur when a CRD or webhook is written).
    """
    if len(source) > 100_000:
        raise CelError("Syntax error: expression is too long")
    try:
        ast = _Parser(source).parse()
        return Program(source=source, ast=ast, uses_old_self=_mentions(ast, "oldSelf"))
    except RecursionError as exc:
        raise CelError("Syntax error: expression is nested too deeply") from exc


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


_REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_cause(*, field: str, type_name: str, message: str, reason: str | None) -> Cause:
    """A failed rule's cause, rendered as kube-apiserver's ``field.*`` helpers render it."""
    if reason == "FieldValueForbidden":
        return Cause(reason=reason, message=f"Forbidden: {message}", field=field)
    if reason == "FieldValueRequired":
        return Cause(reason=reason, message=f"Required value: {message}", field=field)
    if reason == "FieldValueDuplicate":
        return Cause(reason=reason, message=f"Duplicate value: {_quote(type_name)}", field=field)
    return Cause(reason="FieldValueInvalid", message=f"Invalid value: {_quote(type_name)}: {message}", field=field)


def _join_field(base: str, relative: str) -> str:
    relative = relative.strip()
    if not relative:
        return base
    if relative.startswith("["):
        return base + relative
    return f"{base}{relative}" if base else relative.lstrip(".")


def check_rules(
    rules: Sequence[Mapping[str, Any]],
    value: Any,
    *,
    old_value: Any = None,
    has_old: bool = False,
    field: str,
    type_name: str,
) -> list[Cause]:
    """Evaluate one schema node's ``x-kubernetes-validations`` and return the causes of failed rules.

    ``has_old`` is False on CREATE or when the old object lacks this field; transition rules
    (those mentioning ``oldSelf``) are then skipped.
    """
    causes: list[Cause] = []
    for rule in rules:
        source = str(rule.get("rule", ""))
        try:
            program = compile_rule(source)
        except CelError as exc:
            causes.append(
                Cause(
                    reason="FieldValueInvalid",
                    message=f"Invalid value: {_quote(type_name)}: compilation failed: {exc}",
                    field=field,
                )
            )
            continue
        variables: dict[str, Any] = {"self": value}
        if program.uses_old_self:
            if not has_old:
                continue
            variables["oldSelf"] = old_value
        target = _join_field(field, str(rule.get("fieldPath", "")))
        try:
            result = evaluate(program, variables)
        except CelError as exc:
            causes.append(
                Cause(reason="FieldValueInvalid", message=f"Invalid value: {_quote(type_name)}: {exc}", field=field)
            )
            continue
        if result is True:
            continue
        if not isinstance(result, bool):
            causes.append(
                Cause(
                    reason="FieldValueInvalid",
                    message=f"Invalid value: {_quote(type_name)}: rule did not evaluate to a bool: {source}",
                    field=field,
                )
            )
            continue
        message = _rule_message(rule, variables)
        reason = rule.get("reason")
        causes.append(
            rule_cause(
                field=target, type_name=type_name, message=message, reason=reason if reason in _REASONS else None
            )
        )
    return causes


def _rule_message(rule: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    expression = rule.get("messageExpression")
    if expression:
        try:
            text = evaluate(compile_rule(str(expression)), variables)
        except CelError:
            text = None
        if isinstance(text, str) and text.strip():
            return text
    message = rule.get("message")
    if message:
        return str(message)
    return f"failed rule: {rule.get('rule', '')}"
