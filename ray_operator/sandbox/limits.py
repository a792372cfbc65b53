"""kube-apiserver's limits on what a request may carry, with its messages: body, object and data sizes,
JSON depth, YAML aliases, and how a resourceVersion is parsed.

Every body the emulator reads (objects, patches, server-side apply) comes through here, so one
hostile request cannot stall the event loop or take gigabytes, and a client that works here is not
refused for size on a real cluster:

* a request body over ``MAX_BODY_BYTES`` (3 MiB, chunked or not) is a 413 ``Request entity too
  large: limit is 3145728``;
* an object whose stored form is over ``MAX_OBJECT_BYTES`` (etcd's 1.5 MiB request limit) is refused
  as upstream relays etcd's error (500 ``etcdserver: request is too large``); dry-run writes never
  reach etcd and pass;
* ConfigMap ``data`` + ``binaryData`` and Secret ``data`` over ``MAX_CONFIG_DATA_BYTES`` (1 MiB) are
  422 ``Too long: must have at most 1048576 bytes``;
* JSON nested up to ``MAX_JSON_DEPTH`` (Go's ``encoding/json`` limit, which kube-apiserver's decoder
  keeps) decodes; deeper fails as upstream does (``exceeded max depth``, a 400 for the caller). The C
  decoder recurses and gives up near Python's recursion limit, so deeper bodies are parsed again by
  an iterative parser here.
* YAML aliases are limited with go-yaml's own rule (the decoder kube-apiserver uses): more than 100
  nodes decoded through aliases, more than 1,000 decoded in all, and a share decoded through aliases
  above a ratio that falls from 99% at 400,000 nodes to 10% at 4,000,000 is ``document contains
  excessive aliasing``. PyYAML shares one object per anchor, so the bomb costs nothing to *load*;
  it explodes later when the object is copied or serialised. The count is taken on the composed
  node graph, with the expanded size of each anchor computed once, so the check is linear in the
  document's text, and it is exact: go-yaml checks after every node, and both the alias share and the
  threshold move monotonically while one alias is expanded, so checking after each alias as a whole
  fails the same documents.

Decided against: a YAML library with alias limits (none among our dependencies) and refusing YAML
anchors outright (kubectl and Helm users write them).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from ray_operator.sandbox import errors

MAX_BODY_BYTES = 3 * 1024 * 1024
"""kube-apiserver's request body limit (``--max-request-body-bytes`` default)."""

MAX_OBJECT_BYTES = 1536 * 1024
"""etcd's default ``--max-request-bytes``: the largest object that can be stored."""

MAX_CONFIG_DATA_BYTES = 1024 * 1024
"""``core.MaxSecretSize``: ConfigMap data + binaryData, Secret data."""

MAX_JSON_DEPTH = 10_000
"""Go's ``encoding/json`` ``maxNestingDepth``."""

_ALIAS_COUNT_MIN = 100
_DECODE_COUNT_MIN = 1000
_RATIO_RANGE_LOW = 400_000
_RATIO_RANGE_HIGH = 4_000_000


class DepthError(ValueError):
    """JSON nested deeper than ``MAX_JSON_DEPTH``."""


class AliasError(yaml.YAMLError):
    """A YAML document that expands its aliases beyond go-yaml's limit."""


CLOSE = {"Connection": "close"}
"""For an answer sent before the body was read in full: the rest must not be parsed as a request."""


def body_too_large() -> errors.ApiError:
    return errors.ApiError(
        code=413,
        reason="RequestEntityTooLarge",
        message=f"Request entity too large: limit is {MAX_BODY_BYTES}",
        headers=CLOSE,
    )


def check_storable(obj: dict[str, Any]) -> None:
    """Refuse an object etcd would refuse; the size is that of its compact JSON (how CRs are stored)."""
    if len(json.dumps(obj, separators=(",", ":"))) > MAX_OBJECT_BYTES:
        raise errors.ApiError(code=500, reason="", message="etcdserver: request is too large")


def config_data_causes(kind: str, obj: dict[str, Any]) -> list[errors.Cause]:
    """The 1 MiB limit on a ConfigMap's ``data`` + ``binaryData`` or a Secret's ``data``.

    Upstream counts decoded bytes; a Secret's ``data`` is base64 here, so it is decoded size too."""
    total = 0
    fields = ("data", "binaryData") if kind == "ConfigMap" else ("data",)
    for name in fields:
        values = obj.get(name)
        if not isinstance(values, dict):
            continue
        for value in values.values():
            if not isinstance(value, str):
                continue
            if kind == "ConfigMap" and name == "data":
                total += len(value.encode())
            else:  # base64: the decoded length
                total += len(value) * 3 // 4 - value[-2:].count("=")
    if total <= MAX_CONFIG_DATA_BYTES:
        return []
    field = "[]" if kind == "ConfigMap" else "data"  # upstream names the whole object for ConfigMaps
    message = f"Too long: must have at most {MAX_CONFIG_DATA_BYTES} bytes"
    return [errors.Cause(reason="FieldValueTooLong", message=message, field=field)]


_MAX_UINT64 = 2**64 - 1


def parse_resource_version(raw: str) -> int | None:
    """A resourceVersion as Go's ``strconv.ParseUint(rv, 10, 64)`` reads it: ASCII digits only (no sign,
    spaces, underscores or full-width digits, which Python's ``int`` takes) and at most 2^64-1;
    ``None`` when it is not one."""
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if value <= _MAX_UINT64 else None


def loads_json(raw: bytes | str) -> Any:
    """``json.loads``, but nesting up to ``MAX_JSON_DEPTH`` decodes and deeper raises ``DepthError``."""
    try:
        return json.loads(raw)
    except RecursionError:
        pass
    text = raw.decode() if isinstance(raw, bytes) else raw
    return _IterativeJson(text).parse()


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` of one document, refusing excessive aliasing as go-yaml does."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_aliasing(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def allowed_alias_ratio(decode_count: int) -> float:
    """go-yaml's ``allowedAliasRatio``: generous for small documents, strict for huge ones."""
    if decode_count <= _RATIO_RANGE_LOW:
        return 0.99
    if decode_count >= _RATIO_RANGE_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decode_count - _RATIO_RANGE_LOW) / (_RATIO_RANGE_HIGH - _RATIO_RANGE_LOW)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_sizes(root: yaml.Node) -> dict[int, int]:
    """How many nodes each node stands for once every alias is expanded, computed once per node."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        kids = _children(node)
        if children_done or not kids:
            sizes[key] = 1 + sum(sizes[id(kid)] for kid in kids)
            continue
        stack.append((node, True))
        stack.extend((kid, False) for kid in kids if id(kid) not in sizes)
    return sizes


def check_aliasing(root: yaml.Node) -> None:
    """Raise ``AliasError`` where go-yaml fails with ``document contains excessive aliasing``."""
    sizes = _expanded_sizes(root)
    seen: set[int] = set()
    decoded = 0
    through_aliases = 0
    stack = [root]
    while stack:  # document order; the second and later visits of a node are its aliases
        node = stack.pop()
        key = id(node)
        if key in seen:  # the alias node itself, then everything it expands to
            decoded += 1 + sizes[key]
            through_aliases += sizes[key]
        else:
            seen.add(key)
            decoded += 1
            stack.extend(reversed(_children(node)))
        if (
            through_aliases > _ALIAS_COUNT_MIN
            and decoded > _DECODE_COUNT_MIN
            and through_aliases / decoded > allowed_alias_ratio(decoded)
        ):
            raise AliasError("yaml: document contains excessive aliasing")


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class _IterativeJson:
    """A JSON parser with an explicit stack, for bodies too deep for the C decoder's recursion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _ws(self) -> None:
        match = _WS.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()

    def _fail(self, what: str) -> ValueError:
        return json.JSONDecodeError(what, self.text, self.pos)

    def _key(self) -> str:
        self._ws()
        if self.text.startswith('"', self.pos):
            key, self.pos = json.decoder.scanstring(self.text, self.pos + 1)  # type: ignore[attr-defined]
            self._ws()
            if self.text.startswith(":", self.pos):
                self.pos += 1
                return str(key)
            raise self._fail("Expecting ':' delimiter")
        raise self._fail("Expecting property name enclosed in double quotes")

    def parse(self) -> Any:
        text = self.text
        stack: list[list[Any]] = []  # [container, pending key]
        while True:
            self._ws()
            char = text[self.pos : self.pos + 1]
            value: Any
            if char in ("{", "["):
                if len(stack) >= MAX_JSON_DEPTH:
                    raise DepthError(f"invalid character '{char}' exceeded max depth")
                self.pos += 1
                self._ws()
                closing = "}" if char == "{" else "]"
                if text.startswith(closing, self.pos):
                    self.pos += 1
                    value = {} if char == "{" else []
                else:
                    stack.append([{}, self._key()] if char == "{" else [[], None])
                    continue
            elif char == '"':
                value, self.pos = json.decoder.scanstring(text, self.pos + 1)  # type: ignore[attr-defined]
            elif number := _NUMBER.match(text, self.pos):
                literal = number.group(0)
                value = float(literal) if number.group(1) or number.group(2) else int(literal)
                self.pos = number.end()
            else:
                word = next((w for w in _LITERALS if text.startswith(w, self.pos)), None)
                if word is None:
                    raise self._fail("Expecting value")
                value = _LITERALS[word]
                self.pos += len(word)
            while True:  # attach the value; close every container that ends here
                self._ws()
                if not stack:
                    if self.pos != len(text):
                        raise self._fail("Extra data")
                    return value
                top = stack[-1]
                container = top[0]
                if isinstance(container, dict):
                    container[top[1]] = value
                else:
                    container.append(value)
                char = text[self.pos : self.pos + 1]
                if char == ",":
                    self.pos += 1
                    if isinstance(container, dict):
                        top[1] = self._key()
                    break
                if char == ("}" if isinstance(container, dict) else "]"):
                    self.pos += 1
                    stack.pop()
                    value = container
                    continue
                raise self._fail("Expecting ',' delimiter")
