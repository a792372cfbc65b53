"""Kubernetes resource quantities (``"500m"``, ``"1.5Gi"``, ``2``) as exact decimals.

Validation checks that group ``resources`` values are quantities, the builders derive ``num-cpus`` and
``memory`` from container limits, and status sums CPU and memory over pods: all three must read a
quantity the same way, so the parser lives here once. ``Decimal`` rather than float: ``0.1 + 0.2`` CPUs
must be ``0.3``, and ``Ki``..``Ei`` multiples must stay exact.
Decided against: modelling ``resource.Quantity``'s canonical-format bookkeeping, which nothing here
needs; callers that print a quantity choose the unit themselves.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

__all__ = ["parse_quantity", "quantity_value"]

_QUANTITY_RE = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$"
)
_BINARY_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIX = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (``"500m"``, ``"1.5Gi"``, ``2``) as a Decimal, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY_RE.match(value.strip())
    if match is None:
        return None
    number, exponent, suffix = match.groups()
    try:
        amount = Decimal(number)
        if exponent:
            return amount.scaleb(int(exponent[1:]))
        if suffix in _BINARY_SUFFIX:
            return amount * _BINARY_SUFFIX[suffix]
        if suffix:
            return amount.scaleb(_DECIMAL_SUFFIX[suffix])
    except (InvalidOperation, ValueError):
        return None
    return amount


def quantity_value(amount: Decimal) -> int:
    """``resource.Quantity.Value()``: the amount rounded up to a whole number (``500m`` -> 1)."""
    return int(amount.to_integral_value(rounding=ROUND_CEILING))
