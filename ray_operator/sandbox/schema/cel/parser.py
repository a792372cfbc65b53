"""CEL source to an immutable ``Program``: a tokenizer, a recursive-descent parser and a memoised compile.

The AST is plain tuples (``("bin", "==", left, right)``), which keeps the evaluator a compact dispatch
on the tag; the grammar is CEL's (precedence ``?:`` < ``||`` < ``&&`` < relations < ``+ -`` <
``* / %`` < unary < member/call/index), and syntax errors name the position in the source.
A ``Program`` records whether it mentions ``oldSelf``, because transition rules run only on UPDATE.
Decided against: a parser generator (``lark``), for the same reasons the package gives against
``cel-python``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any


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
