"""Compiling one value spec into converters, in both directions.

``legacy_to_agent(spec)`` and ``agent_to_legacy(spec)`` are called once per field when the
config loads; they return small closures with every decision (type, scale, unit factor, code
table, date layout, width) already taken, so that a call or a row pays only for the
conversion. Both are built from the same declaration, which is what makes a mapping two-way.
The typed converters live in ``converters`` (one module per family); this module picks one
by the spec's type and wraps it in what every type shares: constants, legacy nulls, widths.
Converters raise ``Unmappable`` with a reason; the record mappers add the field path.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gateway.mapping.converters import moments, numbers, text
from gateway.mapping.converters.common import (
    EXACT_INT,
    MAX_EXACT_DIGITS,
    SCALARS,
    Converter,
    Unmappable,
    as_decimal,
    decimal_to_json,
)
from gateway.mapping.converters.encoded import record_codec
from gateway.mapping.converters.moments import NULL_DATES
from gateway.mapping.spec import ValueSpec

__all__ = [
    "EXACT_INT",
    "MAX_EXACT_DIGITS",
    "Converter",
    "Unmappable",
    "agent_to_legacy",
    "as_decimal",
    "decimal_to_json",
    "legacy_to_agent",
    "record_codec",
]

ConverterBuilder = Callable[[ValueSpec], Converter]

#: Legacy value -> the agent's JSON value, by the spec's type.
TO_AGENT: dict[str, ConverterBuilder] = {
    "string": text.string_to_agent,
    "boolean": text.boolean_to_agent,
    "integer": numbers.integer_to_agent,
    "number": numbers.number_to_agent,
    "decimal": numbers.number_to_agent,
    "date": moments.date_to_agent,
    "time": moments.time_to_agent,
    "datetime": moments.datetime_to_agent,
}
#: The agent's JSON value -> legacy value (validated), by the spec's type.
TO_LEGACY: dict[str, ConverterBuilder] = {
    "string": text.string_to_legacy,
    "boolean": text.boolean_to_legacy,
    "integer": numbers.integer_to_legacy,
    "number": numbers.number_to_legacy,
    "decimal": numbers.number_to_legacy,
    "date": moments.date_to_legacy,
    "time": moments.time_to_legacy,
    "datetime": moments.datetime_to_legacy,
}


def _builder(table: dict[str, ConverterBuilder], kind: str) -> ConverterBuilder:
    build = table.get(kind)
    if build is None:
        raise ValueError(f"{kind} values are mapped by their fields")
    return build


# ---------------------------------------------------------------- legacy -> agent


def legacy_to_agent(spec: ValueSpec) -> Converter:
    """Compile the conversion of one raw legacy value (a string, a number, or None) to JSON."""
    kind = spec.type
    if spec.const is not None:
        constant = spec.const
        return lambda raw: constant
    typed = _builder(TO_AGENT, kind)(spec)
    nulls = frozenset(spec.null_values or ())
    if kind in ("date", "datetime") and not nulls:
        nulls = NULL_DATES
    # A record's PIC 9 field arrives as a number: "00000000" must still match its 0.
    numeric_nulls = frozenset(_number_or_none(value) for value in nulls) - {None}
    if kind == "string":
        blank_null = spec.blank_is_null

        def string(raw: Any) -> Any:
            if raw is None:
                return None
            if not isinstance(raw, str):
                if not isinstance(raw, SCALARS):
                    raise Unmappable(f"expected a single value, found {type(raw).__name__}")
                raw = str(raw)
            if (nulls and raw.strip() in nulls) or (blank_null and not raw.strip()):
                return None
            return typed(raw)

        return string

    def non_string(raw: Any) -> Any:
        if raw is None:
            return None
        if isinstance(raw, str):
            raw = raw.strip()
            if not raw or raw in nulls:
                return None
        elif not isinstance(raw, SCALARS):
            raise Unmappable(f"expected a single value, found {type(raw).__name__}")
        elif nulls and (str(raw) in nulls or raw in numeric_nulls):
            return None
        return typed(raw)

    return non_string


def _number_or_none(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


# ---------------------------------------------------------------- agent -> legacy


def agent_to_legacy(spec: ValueSpec) -> Converter:
    """Compile validation and conversion of one agent value to its legacy value.

    Input-only checks (pattern, lengths, range) apply when ``spec`` declares them.
    """
    kind = spec.type
    convert = _builder(TO_LEGACY, kind)(spec)
    if spec.width is None or kind == "string":
        return convert
    width, fill = spec.width, spec.pad
    left = spec.align == "left"

    def fixed(value: Any) -> Any:
        text = _legacy_text(convert(value))
        if len(text) > width:
            raise Unmappable(f"'{text}' does not fit the legacy width of {width}")
        if left:
            return text.ljust(width, fill)
        if fill == "0" and text.startswith("-"):
            return "-" + text[1:].rjust(width - 1, "0")
        return text.rjust(width, fill)

    return fixed


def _legacy_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
