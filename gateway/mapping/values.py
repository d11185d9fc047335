"""Compiling one value spec into converters, in both directions.

``legacy_to_agent(spec)`` and ``agent_to_legacy(spec)`` are called once per field when the
config loads; they return small closures with every decision (type, scale, unit factor, code
table, date layout, width) already taken, so that a call or a row pays only for the
conversion. Both are built from the same declaration, which is what makes a mapping two-way.
Converters raise ``Unmappable`` with a reason; the record mappers add the field path.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import re
import zoneinfo
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from gateway.mapping.limits import (
    DATE_PATTERN,
    LOCAL_DATETIME_PATTERN,
    OFFSET_DATETIME_PATTERN,
    TIME_PATTERN,
    decimal_pattern,
    decimal_range,
    integer_range,
)
from gateway.mapping.patterns import control_character, ecma_pattern
from gateway.mapping.spec import RecordSpec, UnitSpec, ValueSpec
from gateway.mapping.temporal import (
    BadTemporal,
    compile_layout,
    date_codec,
    datetime_codec,
    iso_date_slicer,
    iso_datetime_slicer,
    time_codec,
)

Converter = Callable[[Any], Any]

TRUE_WORDS = frozenset({"Y", "YES", "T", "TRUE", "1", "J"})
FALSE_WORDS = frozenset({"N", "NO", "F", "FALSE", "0"})
# Legacy "no date" spellings beyond blanks: zeros.
NULL_DATES = frozenset({"0", "00000000", "000000", "0000000", "00000", "0000-00-00"})
# Floats carry 15 significant decimal digits exactly; beyond that a JSON number would lie.
MAX_EXACT_DIGITS = 15
EXACT_INT = 10**MAX_EXACT_DIGITS
ROUNDING = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_down": decimal.ROUND_HALF_DOWN,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
    "floor": decimal.ROUND_FLOOR,
    "ceiling": decimal.ROUND_CEILING,
}
_SCALARS = (str, int, float, Decimal, bool, dt.date, dt.time)
# The published patterns, as Python sees them: the same language for these ASCII classes.
_ISO_DATE = re.compile(DATE_PATTERN[1:-1], re.ASCII)
_ISO_TIME = re.compile(TIME_PATTERN[1:-1], re.ASCII)
_LOCAL_DATETIME = re.compile(LOCAL_DATETIME_PATTERN[1:-1], re.ASCII)
_OFFSET_DATETIME = re.compile(OFFSET_DATETIME_PATTERN[1:-1], re.ASCII)


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


def _unit_steps(spec: ValueSpec) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None, str]:
    """(factor, offset, agent quantum, legacy quantum, rounding) of a field's unit."""
    unit = spec.unit
    if unit is None:
        return Decimal(1), Decimal(0), None, None, decimal.ROUND_HALF_UP
    factor, offset = unit_transform(unit)
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


def legacy_to_agent(spec: ValueSpec) -> Converter:
    """Compile the conversion of one raw legacy value (a string, a number, or None) to JSON."""
    kind = spec.type
    if spec.const is not None:
        constant = spec.const
        return lambda raw: constant
    typed: Converter
    if kind == "string":
        typed = _string_out(spec)
    elif kind == "integer":
        typed = _integer_out
    elif kind in ("decimal", "number"):
        typed = _number_out(spec)
    elif kind == "boolean":
        typed = _boolean_out(spec)
    elif kind == "date":
        typed = _date_out(spec)
    elif kind == "time":
        typed = _time_out(spec)
    elif kind == "datetime":
        typed = _datetime_out(spec)
    else:
        raise ValueError(f"{kind} values are mapped by their fields")
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
                if not isinstance(raw, _SCALARS):
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
        elif not isinstance(raw, _SCALARS):
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


def _string_out(spec: ValueSpec) -> Converter:
    strip: Callable[[str], str] | None = None
    if spec.trim:
        strip = str.strip
    elif spec.width is not None:
        pad = spec.pad
        # Strip only the padding the width added, on the side it was added.
        strip = (lambda s: s.lstrip(pad)) if spec.align == "right" else (lambda s: s.rstrip(pad))
    codes = spec.code_table
    unknown = spec.unknown_code
    if codes is None:
        if strip is None:
            return lambda raw: raw
        return strip
    known = ", ".join(sorted(codes))

    def coded(raw: str) -> Any:
        key = raw.strip()
        value = codes.get(key)
        if value is not None:
            return value
        if unknown == "pass":
            return key
        if unknown == "null":
            return None
        raise Unmappable(f"unknown code (known: {known})")

    return coded


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


def _number_out(spec: ValueSpec) -> Converter:
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


def _boolean_out(spec: ValueSpec) -> Converter:
    if spec.flags is not None:
        true_words = frozenset({spec.flags[0].upper(), spec.flags[0]})
        false_words = frozenset({spec.flags[1].upper(), spec.flags[1]})
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
        expected = "/".join(spec.flags) if spec.flags else "Y/N, T/F, 1/0"
        raise Unmappable(f"not a known true/false flag ({expected})")

    return convert


def _date_out(spec: ValueSpec) -> Converter:
    parse, _ = date_codec(spec.format, spec.century_window)
    expected = spec.format or "YYYY-MM-DD"
    quick = iso_date_slicer(spec.format) if spec.format else None
    width = _layout_width(spec.format)

    def convert(raw: Any) -> Any:
        if quick is not None and raw.__class__ is str:
            iso = quick(raw)
            if iso is not None:
                return iso
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return parse(_digits(raw, width)).isoformat()
        except BadTemporal as exc:
            raise Unmappable(f"not a date in format {expected}: {exc}") from None

    return convert


def _layout_width(fmt: str | None) -> int:
    layout = compile_layout(fmt, 1950) if fmt else None
    return layout.length if layout is not None else 0


def _digits(raw: Any, width: int) -> str:
    """Legacy text of a date or time; a number (a PIC 9 field, a numeric column) has lost
    its leading zeros, which the layout's width gives back: 95001 in CYYDDD is 095001."""
    if width and isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        return str(raw).zfill(width)
    return str(raw)


def _time_out(spec: ValueSpec) -> Converter:
    parse, _ = time_codec(spec.format)
    expected = spec.format or "HH:MM:SS"
    width = _layout_width(spec.format) or 6

    def convert(raw: Any) -> Any:
        if isinstance(raw, dt.time):
            return raw.isoformat()
        try:
            return parse(_digits(raw, width)).isoformat()
        except BadTemporal as exc:
            raise Unmappable(f"not a time in format {expected}: {exc}") from None

    return convert


def _datetime_out(spec: ValueSpec) -> Converter:
    parse, _ = datetime_codec(spec.format, spec.century_window)
    zone = zoneinfo.ZoneInfo(spec.timezone) if spec.timezone else None
    expected = spec.format or "ISO 8601"
    width = _layout_width(spec.format)
    quick = iso_datetime_slicer(spec.format, zone) if spec.format else None

    def convert(raw: Any) -> Any:
        if quick is not None and raw.__class__ is str:
            iso = quick(raw)
            if iso is not None:
                return iso
        if isinstance(raw, dt.datetime):
            value = raw
        else:
            try:
                value = parse(_digits(raw, width))
            except BadTemporal as exc:
                raise Unmappable(f"not a datetime in format {expected}: {exc}") from None
        if zone is not None and value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.isoformat()

    return convert


# ---------------------------------------------------------------- agent -> legacy


def agent_to_legacy(spec: ValueSpec) -> Converter:
    """Compile validation and conversion of one agent value to its legacy value.

    Input-only checks (pattern, lengths, range) apply when ``spec`` declares them.
    """
    kind = spec.type
    convert: Converter
    if kind == "string":
        convert = _string_in(spec)
    elif kind == "integer":
        convert = _integer_in(spec)
    elif kind in ("decimal", "number"):
        convert = _number_in(spec)
    elif kind == "boolean":
        convert = _boolean_in(spec)
    elif kind == "date":
        convert = _date_in(spec)
    elif kind == "time":
        convert = _time_in(spec)
    elif kind == "datetime":
        convert = _datetime_in(spec)
    else:
        raise ValueError(f"{kind} values are mapped by their fields")
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


def _string_in(spec: ValueSpec) -> Converter:
    pattern_text: str | None = getattr(spec, "pattern", None)
    pattern = ecma_pattern(pattern_text) if pattern_text else None
    min_len: int | None = getattr(spec, "min_length", None)
    max_len, truncate = spec.max_length, spec.overflow == "truncate"
    codes = spec.code_table
    reverse = {agent: legacy for legacy, agent in codes.items()} if codes else None
    case = spec.case
    width, fill, right = spec.width, spec.pad, spec.align == "right"

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            value = _digits_sent_as_number(value, pattern)
        control = control_character(value)
        if control is not None:
            raise Unmappable(f"contains the control character {control}")
        if reverse is not None:
            if value not in reverse:
                raise Unmappable(f"must be one of: {', '.join(reverse)}")
            value = reverse[value]
        else:
            if pattern is not None and not pattern.matches(value):
                raise Unmappable(f"does not match pattern {pattern.source}")
            if min_len is not None and len(value) < min_len:
                raise Unmappable(f"shorter than {min_len} characters")
            if max_len is not None and len(value) > max_len:
                if not truncate:
                    raise Unmappable(f"longer than {max_len} characters")
                value = value[:max_len]
            if case == "upper":
                value = value.upper()
            elif case == "lower":
                value = value.lower()
        if width is not None:
            if len(value) > width:
                if not truncate:
                    raise Unmappable(f"longer than the legacy width of {width} characters")
                value = value[:width]
            value = value.rjust(width, fill) if right else value.ljust(width, fill)
        return value

    return convert


def _digits_sent_as_number(value: Any, pattern: Any) -> str:
    """Agents often send 10000001 for a digit string: its decimal form is taken when it
    satisfies the pattern. A float never is: 12.50 would arrive as 12.5, meaning changed."""
    if isinstance(value, int) and not isinstance(value, bool) and pattern is not None:
        text = str(value)
        if pattern.matches(text):
            return text
        raise Unmappable(
            f'expected a string: send the value in quotes, as "..." matching {pattern.source}'
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Unmappable('expected a string: send the value in quotes, as "..."')
    raise Unmappable("expected a string")


def _check_range(value: Any, low: Any, high: Any) -> None:
    if value < low:
        raise Unmappable(f"less than the minimum {low}")
    if value > high:
        raise Unmappable(f"greater than the maximum {high}")


def _integer_in(spec: ValueSpec) -> Converter:
    low, high = integer_range(spec)

    def convert(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Unmappable("expected an integer")
        _check_range(value, low, high)
        return value

    return convert


def _number_in(spec: ValueSpec) -> Converter:
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
        _check_range(number, low, high)
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


def _boolean_in(spec: ValueSpec) -> Converter:
    flags = spec.flags

    def convert(value: Any) -> Any:
        if not isinstance(value, bool):
            raise Unmappable("expected true or false")
        if flags is None:
            return value
        return flags[0] if value else flags[1]

    return convert


def _date_in(spec: ValueSpec) -> Converter:
    _, render = date_codec(spec.format, spec.century_window)
    custom = spec.format is not None

    def convert(value: Any) -> Any:
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise Unmappable("expected a date as YYYY-MM-DD")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise Unmappable("expected a date as YYYY-MM-DD") from None
        try:
            return render(day) if custom else day
        except BadTemporal as exc:
            raise Unmappable(str(exc)) from None

    return convert


def _time_in(spec: ValueSpec) -> Converter:
    _, render = time_codec(spec.format)

    def convert(value: Any) -> Any:
        if not isinstance(value, str) or not _ISO_TIME.fullmatch(value):
            raise Unmappable("expected a time as HH:MM:SS")
        try:
            moment = dt.time.fromisoformat(value)
        except ValueError:
            raise Unmappable("expected a time as HH:MM:SS") from None
        if moment.tzinfo is not None:
            raise Unmappable("send a local time of the legacy host, without a UTC offset")
        try:
            return render(moment)
        except BadTemporal as exc:
            raise Unmappable(str(exc)) from None

    return convert


def _datetime_in(spec: ValueSpec) -> Converter:
    _, render = datetime_codec(spec.format, spec.century_window)
    zone = zoneinfo.ZoneInfo(spec.timezone) if spec.timezone else None

    shape = _OFFSET_DATETIME if zone is not None else _LOCAL_DATETIME

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            raise Unmappable("expected a datetime as ISO 8601")
        if not shape.fullmatch(value):
            if zone is not None:
                raise Unmappable(
                    "expected a datetime with a UTC offset, e.g. 2024-06-11T14:30:05+02:00"
                )
            raise Unmappable("expected the legacy host's local time, e.g. 2024-06-11T14:30:05")
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Unmappable("expected a datetime as ISO 8601") from None
        if zone is not None:
            if moment.tzinfo is None:
                raise Unmappable("needs a UTC offset, e.g. 2024-06-11T14:30:05+02:00")
            moment = moment.astimezone(zone).replace(tzinfo=None)
        elif moment.tzinfo is not None:
            raise Unmappable(
                "send the legacy host's local time without a UTC offset "
                "(the legacy timezone is not declared)"
            )
        try:
            return render(moment)
        except BadTemporal as exc:
            raise Unmappable(str(exc)) from None

    return convert


# ---------------------------------------------------------------- records


def record_codec(spec: RecordSpec) -> tuple[Converter, Converter]:
    """(legacy value -> dict of the record's fields, dict -> legacy value) for a record."""
    from gateway.mapping.copybook import RecordError

    layout = spec.compiled
    transport, encoding = spec.transport, layout.encoding

    def unwrap(raw: Any) -> bytes:
        if isinstance(raw, bytes | bytearray | memoryview):
            return bytes(raw)
        if not isinstance(raw, str):
            raise Unmappable(f"expected an encoded record, found {type(raw).__name__}")
        try:
            if transport == "base64":
                return base64.b64decode(raw.strip(), validate=True)
            if transport == "hex":
                return bytes.fromhex(raw.strip())
            return raw.encode(encoding)
        except (binascii.Error, ValueError, UnicodeError) as exc:
            raise Unmappable(f"not a {transport} record: {exc}") from None

    def decode(raw: Any) -> Any:
        try:
            return layout.decode(unwrap(raw))
        except RecordError as exc:
            where = f" at {exc.field}" if exc.field else ""
            raise Unmappable(f"record{where}: {exc}") from None

    def encode(values: Any) -> Any:
        try:
            data: bytes = layout.encode(values)
        except RecordError as exc:
            where = f" at {exc.field}" if exc.field else ""
            raise Unmappable(f"record{where}: {exc}") from None
        if transport == "base64":
            return base64.b64encode(data).decode("ascii")
        if transport == "hex":
            return data.hex().upper()
        if transport == "text":
            return data.decode(encoding)
        return data

    return decode, encode
