"""Quantities behave like Go's resource.Quantity where users see the result."""

from __future__ import annotations

import pytest

from ray_operator.builders import quantities
from ray_operator.builders.quantities import Quantity


def q(text: str | int) -> Quantity:
    parsed = quantities.parse(text)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(("text", "value"), [("500m", 1), ("1", 1), ("1.2", 2), ("2Gi", 2 * 1024**3), ("1k", 1000)])
def test_value_rounds_up_to_an_integer(text: str, value: int) -> None:
    assert q(text).value() == value


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("2Gi", "2Gi"),
        ("2048Mi", "2Gi"),
        ("1.5Gi", "1536Mi"),
        ("1.5", "1500m"),
        ("2000", "2k"),
        ("1200", "1200"),
        ("0.5", "500m"),
        ("100Mi", "100Mi"),
        ("1e3", "1e3"),
        (8, "8"),
    ],
)
def test_string_is_canonical(text: str | int, printed: str) -> None:
    assert str(q(text)) == printed


def test_binary_value_below_1024_prints_decimal() -> None:
    assert str(Quantity(q("1Ki").amount / 2, quantities.QuantityFormat.BINARY_SI)) == "512"


def test_sum_keeps_the_first_operands_format() -> None:
    assert str(q("1Gi") + q("1G")) == "2073741824"  # binary, but not a whole number of Ki
    assert str(q("1") + q("500m")) == "1500m"
    assert str(q("4Gi").times(3)) == "12Gi"


def test_sum_started_from_zero_prints_in_exponent_style() -> None:
    assert str(Quantity.zero() + q("4")) == "4"
    assert str(Quantity.zero() + q("8k")) == "8e3"
    assert str(Quantity.zero()) == "0"


def test_unparsable_values_are_none() -> None:
    assert quantities.parse("lots") is None
    assert quantities.parse(True) is None
