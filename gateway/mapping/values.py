"""Compiling one value spec into converters, in both directions.

``agent_to_legacy(spec)`` and ``legacy_to_agent(spec)`` are called once per field when the
config loads; they return small closures with every decision (type, scale, unit factor, code
table, date format) already taken, so that a call or a row pays only for the conversion.
Converters raise ``Unmappable`` with a reason; the record mapper adds the field path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from gateway.mapping.spec import InputField, OutputField, UnitSpec

Converter = Callable[[Any], Any]

TRUE_WORDS = frozenset({"Y", "YES", "T", "TRUE", "1", "J"})
FALSE_WORDS = frozenset({"N", "NO", "F", "FALSE", "0"})
# Legacy "no date" spellings: blanks (handled earlier) and zeros.
NULL_DATES = frozenset({"0", "00000000", "000000", "0000-00-00"})
# Floats carry 15 significant decimal digits exactly; beyond that a JSON number would lie.
MAX_EXACT_DIGITS = 15


class Unmappable(ValueError):
    """A value that cannot be converted; the message says why."""


@cache
def _unit_registry() -> Any:
    import pint  # imported on first use: it costs ~0.3 s and only unit fields need it

    return pint.UnitRegistry()


def unit_transform(unit: UnitSpec) -> tuple[Decimal, Decimal]:
    """(factor, offset) such that agent = legacy * factor + offset. Raises ValueError."""
    import pint

    registry = _unit_registry()
    try:
        legacy, agent = registry.Unit(unit.legacy), registry.Unit(unit.agent)
    except (pint.UndefinedUnitError, AttributeError, ValueError) as exc:
        raise ValueError(f"unknown unit: {exc}") from exc
    if legacy.dimensionality != agent.dimensionality:
        raise ValueError(
            f"cannot convert {unit.legacy} ({legacy.dimensionality}) "
            f"to {unit.agent} ({agent.dimensionality})"
        )
    zero = registry.Quantity(0.0, legacy).to(agent).magnitude
    one = registry.Quantity(1.0, legacy).to(agent).magnitude
    # repr() of the float is its shortest exact spelling: 2.54 stays 2.54.
    return Decimal(repr(one - zero)), Decimal(repr(zero))


def decimal_to_json(value: Decimal) -> float | int:
    """A Decimal as a JSON number, refusing any value a float would not carry exactly."""
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    if len(value.as_tuple().digits) > MAX_EXACT_DIGITS:
        raise Unmappable(f"{value} has more than {MAX_EXACT_DIGITS} significant digits")
    return float(value)


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise Unmappable("expected a number, got a boolean")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise Unmappable("not a number") from None
        if not result.is_finite():
            raise Unmappable("not a finite number")
        return result
    raise Unmappable(f"expected a number, got {type(value).__name__}")


# ---------------------------------------------------------------- legacy -> agent


def legacy_to_agent(spec: OutputField) -> Converter:
    """Compile the conversion of one raw legacy value (a string, or None) to JSON."""
    kind = spec.type
    convert: Converter
    if kind == "string":
        convert = _string_out(spec)
    elif kind == "integer":
        convert = _scalar_out(int, "not an integer")
    elif kind in ("decimal", "number"):
        convert = _number_out(spec)
    elif kind == "boolean":
        convert = _boolean_out(spec)
    else:
        convert = _date_out(spec.format)
    if kind == "string":
        return convert

    def non_string(raw: Any) -> Any:
        if raw is None:
            return None
        if not isinstance(raw, str | int | float | Decimal | bool | dt.date):
            raise Unmappable(f"expected a single value, found {type(raw).__name__}")
        if isinstance(raw, str):
            raw = raw.strip()
            if not raw:
                return None
        return convert(raw)

    return non_string


def _string_out(spec: OutputField) -> Converter:
    trim, blank_null = spec.trim, spec.blank_is_null
    codes = dict(spec.codes) if spec.codes is not None else None
    unknown = spec.unknown_code

    def convert(raw: Any) -> Any:
        if raw is None:
            return None
        if not isinstance(raw, str):
            if isinstance(raw, dict | list):
                raise Unmappable(f"expected a single value, found {type(raw).__name__}")
            raw = str(raw)
        value = raw.strip() if trim else raw
        if blank_null and not value.strip():
            return None
        if codes is None:
            return value
        key = raw.strip()
        if key in codes:
            return codes[key]
        if unknown == "pass":
            return key
        if unknown == "null":
            return None
        raise Unmappable(f"unknown code (known: {', '.join(sorted(codes))})")

    return convert


def _scalar_out(parse: Callable[[Any], Any], reason: str) -> Converter:
    def convert(raw: Any) -> Any:
        try:
            return parse(raw)
        except (ValueError, TypeError):
            raise Unmappable(reason) from None

    return convert


def _number_out(spec: OutputField) -> Converter:
    scale = spec.scale or 0
    factor, offset = unit_transform(spec.unit) if spec.unit else (Decimal(1), Decimal(0))
    quantum = Decimal(1).scaleb(-spec.unit.round) if spec.unit else None
    exact = spec.type == "decimal"

    def convert(raw: Any) -> Any:
        value = _as_decimal(raw)
        if scale:
            value = value.scaleb(scale)
        if quantum is not None:
            value = (value * factor + offset).quantize(quantum)
        return decimal_to_json(value) if exact else float(value)

    return convert


def _boolean_out(spec: OutputField) -> Converter:
    if spec.flags is not None:
        true_words = frozenset({spec.flags[0].upper()})
        false_words = frozenset({spec.flags[1].upper()})
    else:
        true_words, false_words = TRUE_WORDS, FALSE_WORDS

    def convert(raw: Any) -> Any:
        if isinstance(raw, bool):
            return raw
        word = str(raw).upper()
        if word in true_words:
            return True
        if word in false_words:
            return False
        raise Unmappable("not a known true/false flag")

    return convert


_FIXED_WIDTH = {"%Y": ("year", 4), "%m": ("month", 2), "%d": ("day", 2)}


def _digit_slicer(fmt: str) -> Callable[[str], dt.date] | None:
    """A parser for formats made only of %Y, %m, %d and literals (%Y%m%d, %d.%m.%Y...).

    strptime costs ~20 us a value; slicing fixed-width digits costs ~1 us, which matters
    when every row of a large answer carries dates. Other formats return None (strptime).
    """
    parts = re.findall(r"%.|[^%]+", fmt)
    slots: dict[str, tuple[int, int]] = {}
    literals: list[tuple[int, str]] = []
    position = 0
    for part in parts:
        if part in _FIXED_WIDTH:
            name, width = _FIXED_WIDTH[part]
            if name in slots:
                return None
            slots[name] = (position, position + width)
            position += width
        elif part.startswith("%"):
            return None
        else:
            literals.append((position, part))
            position += len(part)
    if set(slots) != {"year", "month", "day"}:
        return None
    length = position
    (y0, y1), (m0, m1), (d0, d1) = slots["year"], slots["month"], slots["day"]

    def parse(text: str) -> dt.date:
        if len(text) != length:
            raise ValueError(text)
        year, month, day = text[y0:y1], text[m0:m1], text[d0:d1]
        if not (year.isdigit() and month.isdigit() and day.isdigit()):
            raise ValueError(text)
        for at, literal in literals:
            if text[at : at + len(literal)] != literal:
                raise ValueError(text)
        return dt.date(int(year), int(month), int(day))

    return parse


def _date_out(fmt: str | None) -> Converter:
    sliced = _digit_slicer(fmt) if fmt else None

    def convert(raw: Any) -> Any:
        if isinstance(raw, dt.date):
            return raw.isoformat()
        text = str(raw)
        if text in NULL_DATES:
            return None
        try:
            if sliced is not None:
                return sliced(text).isoformat()
            if fmt is None:
                return dt.date.fromisoformat(text).isoformat()
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            raise Unmappable(f"not a date in format {fmt or 'YYYY-MM-DD'}") from None

    return convert


# ---------------------------------------------------------------- agent -> legacy


def agent_to_legacy(spec: InputField) -> Converter:
    """Compile validation and conversion of one agent argument to its legacy value."""
    kind = spec.type
    if kind == "string":
        return _string_in(spec)
    if kind == "integer":
        return _integer_in(spec)
    if kind in ("decimal", "number"):
        return _number_in(spec)
    if kind == "boolean":
        flags = spec.flags

        def boolean(value: Any) -> Any:
            if not isinstance(value, bool):
                raise Unmappable("expected true or false")
            if flags is None:
                return value
            return flags[0] if value else flags[1]

        return boolean
    return _date_in(spec.format)


def _string_in(spec: InputField) -> Converter:
    pattern = re.compile(spec.pattern) if spec.pattern else None
    min_len, max_len = spec.min_length, spec.max_length
    reverse = {agent: legacy for legacy, agent in spec.codes.items()} if spec.codes else None
    case = spec.case

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            raise Unmappable("expected a string")
        if reverse is not None:
            if value not in reverse:
                raise Unmappable(f"must be one of: {', '.join(reverse)}")
            return reverse[value]
        if pattern is not None and not pattern.search(value):
            raise Unmappable(f"does not match pattern {pattern.pattern}")
        if min_len is not None and len(value) < min_len:
            raise Unmappable(f"shorter than {min_len} characters")
        if max_len is not None and len(value) > max_len:
            raise Unmappable(f"longer than {max_len} characters")
        if case == "upper":
            return value.upper()
        return value.lower() if case == "lower" else value

    return convert


def _check_range(value: Any, spec: InputField) -> None:
    if spec.minimum is not None and value < spec.minimum:
        raise Unmappable(f"less than the minimum {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise Unmappable(f"greater than the maximum {spec.maximum:g}")


def _integer_in(spec: InputField) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Unmappable("expected an integer")
        _check_range(value, spec)
        return value

    return convert


def _number_in(spec: InputField) -> Converter:
    scale = spec.scale or 0
    factor, offset = unit_transform(spec.unit) if spec.unit else (Decimal(1), Decimal(0))
    has_unit = spec.unit is not None
    exact = spec.type == "decimal"

    def convert(value: Any) -> Any:
        if isinstance(value, str) and not exact:
            raise Unmappable("expected a number")
        number = _as_decimal(value)
        _check_range(number, spec)
        if has_unit:
            number = (number - offset) / factor
        if scale:
            legacy = number.scaleb(-scale)
            if legacy != legacy.to_integral_value():
                raise Unmappable(f"has more than {-scale} decimal places")
            return int(legacy)
        return number if exact else float(number)

    return convert


def _date_in(fmt: str | None) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            raise Unmappable("expected a date as YYYY-MM-DD")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise Unmappable("expected a date as YYYY-MM-DD") from None
        return day.strftime(fmt) if fmt else day

    return convert
