"""Values printed the way Go prints them inside Kubernetes error texts.

``field.Error`` prints a bad value with ``%v`` for numbers and booleans, ``%q`` for strings and ``%#v``
for maps and slices; strategic-merge-patch errors print whole values with ``%v``. Users read these texts
next to kube-apiserver's, and tests compare them byte for byte, so the printing rules live here once:
the webhook's RayCluster errors, the emulator's schema, admission-configuration and patch errors all
call these functions.

Values are decoded JSON. apimachinery decodes a JSON number that is a whole literal into ``int64`` and
anything else into ``float64``; Python's ``json`` does the same (``1e6`` is a float), so a float prints
as Go's ``%v`` of a float64 (``1e+06``) and an int as an integer.
Decided against: printing whole-valued floats as integers, which is what a typed Go field would show
but not what an unstructured object (the only kind the emulator and webhook see) shows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["go_float", "go_sharp", "go_v", "go_value", "json_type"]


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form below 1e-4 and from 1e6 (``1e+06``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    point = len(digits) + exponent  # position of the decimal point after the first digit group
    exp10 = point - 1
    minus = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:  # strconv's 'g' with shortest precision decides at 6 digits
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def go_value(value: Any, *, slice_type: str = "interface {}") -> str:
    """A bad value as ``field.Error`` prints it: ``"null"`` for nil, strings quoted, numbers bare, else ``%#v``.

    ``slice_type`` names the Go element type of a list (``string`` for typed ``[]string`` fields such as a
    webhook's ``operations``); unstructured lists are ``[]interface {}``.
    """
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    try:
        return go_sharp(value, slice_type=slice_type)
    except RecursionError:  # valid JSON nested deeper than Python recursion; say so instead of failing
        return "<value nested too deeply to print>"


def go_sharp(value: Any, *, slice_type: str = "interface {}") -> str:
    """Go's ``%#v`` of a decoded JSON value: ``map[string]interface {}{"a":1}``, ``[]interface {}{"x"}``."""
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}:{go_sharp(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list | tuple):
        return f"[]{slice_type}{{" + ", ".join(go_sharp(v) for v in value) + "}"
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_v(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value (``map[a:1 b:[x y]]``), as strategic-merge-patch errors print it."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def json_type(value: Any) -> str:
    """The JSON type name a ``field.TypeInvalid`` error prints (``Invalid value: "string"``) for a decoded value.

    A whole JSON number is ``integer`` (decoded as ``int``), any other ``number``. Values that are not decoded
    JSON (a tuple or a mapping from Python callers) are named like their JSON counterparts, anything else by
    its Python type.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__
