"""Kubernetes resource quantities as KubeRay computes and prints them.

Why: ``ray start`` flags (``--num-cpus``, ``--memory``, ``--num-gpus``), the ``/dev/shm`` size limit
and the ``desiredCPU``/``desiredMemory``/``desiredGPU``/``desiredTPU`` status fields are all derived
from quantities, and users compare them with what KubeRay wrote. Three behaviours of Go's
``resource.Quantity`` matter and are reproduced here:

* ``Value()`` rounds *up* to an integer (``500m`` CPU gives ``--num-cpus=1``);
* a sum or product keeps the *format* of its first operand (binary ``Gi``-style, decimal ``k``/``m``
  style or exponent ``e3`` style), and a zero value that started a sum prints in exponent style;
* ``String()`` is canonical: binary values print with the largest exact ``Ki``…``Ei`` suffix (values
  under 1024 or fractional fall back to decimal), decimal values with the largest exponent that is a
  multiple of 3 and leaves an integer mantissa (``1.5`` → ``1500m``, ``2000`` → ``2k``).

Parsing and ``Value()`` are ``ray_operator.apimachinery.quantity``'s; only the format bookkeeping and the
canonical printing (which that module leaves out, as nothing else prints quantities) live here.
Decided against floats: ``0.1 + 0.2`` CPUs must print ``300m``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Any

from ray_operator.apimachinery.quantity import parse_quantity, quantity_value

__all__ = ["Quantity", "QuantityFormat", "parse"]


class QuantityFormat(StrEnum):
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"
    DECIMAL_EXPONENT = "DecimalExponent"


_SUFFIX_RE = re.compile(r"(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE])$")
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_NANO = Decimal("1e-9")


def _format_of(text: str) -> QuantityFormat:
    match = _SUFFIX_RE.search(text.strip())
    if match is None:
        return QuantityFormat.DECIMAL_SI
    suffix = match.group(1)
    if suffix.endswith("i"):
        return QuantityFormat.BINARY_SI
    if suffix[0] in "eE" and len(suffix) > 1:
        return QuantityFormat.DECIMAL_EXPONENT
    return QuantityFormat.DECIMAL_SI


@dataclass(frozen=True)
class Quantity:
    """An exact amount plus the format it prints in."""

    amount: Decimal
    format: QuantityFormat

    @classmethod
    def zero(cls) -> Quantity:
        """Go's zero ``resource.Quantity``: no format, so sums started from it print in exponent style."""
        return cls(Decimal(0), QuantityFormat.DECIMAL_EXPONENT)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.amount + other.amount, self.format)

    def times(self, factor: int) -> Quantity:
        return Quantity(self.amount * factor, self.format)

    def is_zero(self) -> bool:
        return self.amount == 0

    def value(self) -> int:
        """Go's ``Quantity.Value()``: the amount rounded up to an integer."""
        return quantity_value(self.amount)

    def as_float(self) -> float:
        """Go's ``AsApproximateFloat64()``."""
        return float(self.amount)

    def __str__(self) -> str:
        amount = self.amount
        if amount == 0:
            return "0"
        # Quantities keep nano precision and round up what is finer.
        amount = amount.quantize(_NANO, rounding=ROUND_CEILING) if amount != amount.to_integral_value() else amount
        fmt = self.format
        if fmt is QuantityFormat.BINARY_SI and (abs(amount) < 1024 or amount != amount.to_integral_value()):
            fmt = QuantityFormat.DECIMAL_SI
        if fmt is QuantityFormat.BINARY_SI:
            number, power = int(amount), 0
            while number % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
                number //= 1024
                power += 1
            return f"{number}{_BINARY_SUFFIXES[power]}"
        mantissa, exponent = _decimal_parts(amount)
        if fmt is QuantityFormat.DECIMAL_SI and exponent in _DECIMAL_SUFFIXES:
            return f"{mantissa}{_DECIMAL_SUFFIXES[exponent]}"
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)


def _decimal_parts(amount: Decimal) -> tuple[int, int]:
    """``amount = mantissa x 10**exponent`` with an integer mantissa and the exponent a multiple of 3, largest first."""
    sign, digits, exponent = amount.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite by construction
    mantissa = int("".join(map(str, digits)) or "0")
    shift = exponent % 3  # lower the exponent to a multiple of 3, growing the mantissa
    mantissa *= 10**shift
    exponent -= shift
    return (-mantissa if sign else mantissa), exponent


def parse(value: Any) -> Quantity | None:
    """A quantity from a manifest value (``"500m"``, ``"2Gi"``, ``4``), or None when it is not one."""
    amount = parse_quantity(value)
    if amount is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return Quantity(amount, _format_of(text))
