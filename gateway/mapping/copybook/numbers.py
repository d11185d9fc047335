"""Checks shared by every numeric codec: an agent's value to the integer of its digits, and
that integer back to the value the agent sees."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from gateway.mapping.copybook.errors import RecordError
from gateway.mapping.copybook.items import Item

# Enough precision that no 38-digit number is ever rounded (the default context has 28).
EXACT = Context(prec=100)


def digits_of(item: Item, unbounded: bool = False) -> Callable[[Any, str], int]:
    """Agent value -> the integer of its digits (value times 10**scale), range-checked.

    ``unbounded`` (COMP-5) checks the binary range instead of the picture's digits.
    """
    scale, limit, signed = item.scale, 10**item.digits, item.signed
    picture = item.picture
    if unbounded:
        bits = item.size * 8 - (1 if signed else 0)
        limit = 2**bits

    def digits(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
            raise RecordError("expected a number", path, repr(value))
        if isinstance(value, int) and not scale:
            whole = value
        else:
            try:
                number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
            except InvalidOperation:
                raise RecordError("not a number", path, repr(value)) from None
            if not number.is_finite():
                raise RecordError("not a finite number", path, repr(value))
            shifted = number.scaleb(scale, EXACT)
            if shifted != shifted.to_integral_value():
                places = max(scale, 0)
                raise RecordError(
                    f"more than {places} decimal places for PIC {picture}"
                    if scale >= 0
                    else f"not a multiple of {10**-scale} for PIC {picture}",
                    path,
                    repr(value),
                )
            whole = int(shifted)
        if whole < 0 and not signed:
            raise RecordError(f"negative value for unsigned PIC {picture}", path, repr(value))
        if whole >= limit or (whole < -limit if unbounded else whole <= -limit):
            raise RecordError(f"too many digits for PIC {picture}", path, repr(value))
        return whole

    return digits


def value_maker(item: Item) -> Callable[[int], Any]:
    """The integer of the digits -> the value: int, or Decimal with the picture's scale."""
    scale = item.scale
    if scale == 0:
        return lambda whole: whole
    if scale < 0:
        factor = 10**-scale
        return lambda whole: whole * factor
    exponent = f"E-{scale}"
    return lambda whole: Decimal(f"{whole}{exponent}")
