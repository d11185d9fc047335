"""Integers, binary numbers and exact decimals: scales, units and ranges, both ways."""

from __future__ import annotations

import decimal
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.mapping.converters.common import (
    EXACT_INT,
    Converter,
    Unmappable,
    as_decimal,
    check_range,
    decimal_to_json,
)
from gateway.mapping.limits import decimal_pattern, decimal_range, integer_range
from gateway.mapping.patterns import ecma_pattern
from gateway.mapping.spec import ValueSpec
from gateway.mapping.units import unit_transform

ROUNDING = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_down": decimal.ROUND_HALF_DOWN,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
    "floor": decimal.ROUND_FLOOR,
    "ceiling": decimal.ROUND_CEILING,
}


def _unit_steps(spec: ValueSpec) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None, str]:
    """(factor, offset, agent quantum, legacy quantum, rounding) of a field's unit."""
    unit = spec.unit
    if unit is None:
        return Decimal(1), Decimal(0), None, None, decimal.ROUND_HALF_UP
    factor, offset = unit_transform(unit.legacy, unit.agent)
    legacy_places = unit.legacy_round
    if legacy_places is None:
        legacy_places = -spec.scale if spec.scale and spec.scale < 0 else unit.round
    return (
        factor,
        offset,
        Decimal(1).scaleb(-unit.round),
        Decimal(1).scaleb(-legacy_places),
        ROUNDING[unit.rounding],
    )


# ---------------------------------------------------------------- legacy -> agent


def integer_to_agent(spec: ValueSpec) -> Converter:
    return _integer_out


def _integer_out(raw: Any) -> Any:
    if isinstance(raw, bool):
        raise Unmappable("not an integer")
    if isinstance(raw, int):
        return raw
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise Unmappable("not an integer") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise Unmappable("not an integer")
    return int(value)


def number_to_agent(spec: ValueSpec) -> Converter:
    scale = spec.scale or 0
    factor, offset, quantum, _, rounding = _unit_steps(spec)
    exact = spec.type == "decimal"

    shift = 10**-scale if exact and scale < 0 and quantum is None else 0

    def convert(raw: Any) -> Any:
        if shift and raw.__class__ is str and raw.isascii() and raw.isdigit():
            raw = int(raw)  # cents as text, as SOAP and CHAR columns carry them
        if shift and raw.__class__ is int and -EXACT_INT < raw < EXACT_INT:
            # Integer cents from a database column: int / int is correctly rounded, so it is
            # the float nearest the exact decimal, as float(Decimal) would give, in a tenth
            # of the time.
            units, rest = divmod(raw, shift)
            return units if not rest else raw / shift
        value = as_decimal(raw)
        if scale:
            value = value.scaleb(scale)
        if quantum is not None:
            try:
                value = (value * factor + offset).quantize(quantum, rounding)
            except InvalidOperation:
                raise Unmappable(f"{value} is too large to convert") from None
        return decimal_to_json(value) if exact else float(value)

    return convert


# ---------------------------------------------------------------- agent -> legacy


def integer_to_legacy(spec: ValueSpec) -> Converter:
    low, high = integer_range(spec)

    def convert(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Unmappable("expected an integer")
        check_range(value, low, high)
        return value

    return convert


def number_to_legacy(spec: ValueSpec) -> Converter:
    scale = spec.scale or 0
    factor, offset, _, legacy_quantum, rounding = _unit_steps(spec)
    exact = spec.type == "decimal"
    low, high = decimal_range(spec)
    text_form = ecma_pattern(decimal_pattern(spec))

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            if not exact:
                raise Unmappable("expected a number")
            if not text_form.matches(value):
                raise Unmappable(f"not a decimal as {text_form.source}")
        number = as_decimal(value)
        check_range(number, low, high)
        if legacy_quantum is not None:
            try:
                number = ((number - offset) / factor).quantize(legacy_quantum, rounding)
            except InvalidOperation:
                raise Unmappable(f"{value} is too large to convert") from None
        if scale:
            legacy = number.scaleb(-scale)
            if legacy != legacy.to_integral_value():
                raise Unmappable(f"has more than {-scale} decimal places")
            return int(legacy)
        return number if exact else float(number)

    return convert
