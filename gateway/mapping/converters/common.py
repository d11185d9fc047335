"""What every converter family shares: the error, JSON-safe numbers and range checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

Converter = Callable[[Any], Any]

# Floats carry 15 significant decimal digits exactly; beyond that a JSON number would lie.
MAX_EXACT_DIGITS = 15
EXACT_INT = 10**MAX_EXACT_DIGITS
SCALARS = (str, int, float, Decimal, bool, dt.date, dt.time)


class Unmappable(ValueError):
    """A value that cannot be converted; the message says why."""


def decimal_to_json(value: Decimal) -> float | int:
    """A Decimal as a JSON number, refusing any value a float would not carry exactly."""
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    if len(value.as_tuple().digits) > MAX_EXACT_DIGITS:
        raise Unmappable(f"{value} has more than {MAX_EXACT_DIGITS} significant digits")
    return float(value)


def as_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise Unmappable("expected a number, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float | str):
        if isinstance(value, str) and not value.isascii():
            # Decimal() reads any script's digits: "٨٩.٩٠" is 89.90 to it, and to no one else.
            raise Unmappable("not a number (digits are 0-9)")
        try:
            # str() of a float is its shortest exact spelling; never Decimal(float).
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise Unmappable("not a number") from None
    else:
        raise Unmappable(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise Unmappable("not a finite number")
    return result


def check_range(value: Any, low: Any, high: Any) -> None:
    if value < low:
        raise Unmappable(f"less than the minimum {low}")
    if value > high:
        raise Unmappable(f"greater than the maximum {high}")
