"""Custom resources' Table columns: ``Name`` plus the CRD's ``additionalPrinterColumns``, evaluated by JSONPath.

As apiextensions-apiserver's ``tableconvertor``: each column's ``jsonPath`` is evaluated with the simple
forms CRDs may use (``.a.b``, ``[0]``, ``[*]``, ``['k']``); the first value is the cell, typed by the
column (``string`` printed as kubectl's JSONPath printer prints it, ``integer``/``number``/``boolean``
typed, ``date`` as an age); a missing value is ``null``. A CRD version without columns gets ``Age``.
Decided against a full JSONPath implementation: filters and ranges are not allowed in printer columns.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ray_operator.apimachinery.govalues import go_float
from ray_operator.sandbox.tables.columns import (
    Obj,
    age,
    as_int,
    define_column,
    meta_description,
    name_column,
    parse_time,
)

_JSONPATH_TOKEN = re.compile(
    r"""\.\.?(?P<field>(?:\\.|[^.\[\\])+)|\[(?P<index>-?\d+)\]|\[\*\]|\.\*|\[(?P<quote>['"])(?P<key>.*?)(?P=quote)\]"""
)


class JsonPathError(ValueError):
    """A printer-column path outside the simple forms CRDs may use."""


def parse_jsonpath(path: str) -> list[tuple[str, Any]]:
    """Steps of a simple JSONPath (``.a.b``, ``[0]``, ``[*]``, ``['k']``); the surrounding ``{}`` is optional."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        match = _JSONPATH_TOKEN.match(text, pos)
        if not match:
            raise JsonPathError(f"unrecognized JSONPath at {text[pos:]!r}")
        if match.group("field") is not None:
            steps.append(("key", re.sub(r"\\(.)", r"\1", match.group("field"))))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        elif match.group("key") is not None:
            steps.append(("key", match.group("key")))
        else:
            steps.append(("all", None))
        pos = match.end()
    return steps


def find_values(obj: Any, path: str) -> list[Any]:
    """Every value the path selects (missing keys select nothing, as with AllowMissingKeys)."""
    return _select(obj, parse_jsonpath(path))


def _select(obj: Any, steps: Sequence[tuple[str, Any]]) -> list[Any]:
    current = [obj]
    for kind, arg in steps:
        following: list[Any] = []
        for value in current:
            found_key = kind == "key" and isinstance(value, Mapping) and arg in value
            found_index = kind == "index" and isinstance(value, list) and -len(value) <= arg < len(value)
            if found_key or found_index:
                following.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, Mapping):
                    following.extend(value[k] for k in sorted(value))
        current = following
    return current


def _text(value: Any) -> str:
    """How kubectl's JSONPath printer renders one value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def column_steps(column: Mapping[str, Any]) -> list[tuple[str, Any]] | None:
    """A printer column's parsed path, or None when it is outside the supported forms (its cells stay empty)."""
    try:
        return parse_jsonpath(str(column.get("jsonPath", "")))
    except JsonPathError:
        return None


def custom_cell(column: Mapping[str, Any], steps: Sequence[tuple[str, Any]] | None, obj: Obj, now: datetime) -> Any:
    if steps is None:
        return None
    values = _select(obj, steps)
    if not values or values[0] is None:
        return None
    value = values[0]
    kind = column.get("type")
    if kind == "string":
        return _text(value)
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if math.isfinite(value) else None
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return "<invalid>" if parse_time(value) is None else age(value, now)
    return None


def declared_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The CRD's printer columns, or the ``Age`` column kube-apiserver shows when it declares none."""
    return [c for c in printer_columns if isinstance(c, Mapping)] or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": meta_description("creationTimestamp"),
        }
    ]


def custom_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Column definitions of a custom resource: Name, then the CRD's columns (or Age when none)."""
    columns = [name_column()]
    for col in declared_columns(printer_columns):
        path = str(col.get("jsonPath", ""))
        columns.append(
            define_column(
                str(col.get("name", "")),
                str(col.get("type", "string")),
                str(col.get("description") or f"Custom resource definition column (in JSONPath format): {path}"),
                priority=as_int(col.get("priority")),
                format_=str(col.get("format", "")),
            )
        )
    return columns
