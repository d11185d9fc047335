"""What an agent's value may be, stated once for the converters and the published schema.

The converters refuse exactly what the schema says is out of bounds, so that a validator on
the agent's side and the gateway agree: integers fit the legacy type (64 bits at most, fewer
when a width or a declared range says so), decimals carry at most 15 significant digits (what
a JSON number holds exactly) and no more places than the legacy scale, dates and times are
the ASCII ISO 8601 forms JSON Schema knows.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from gateway.mapping.spec import ValueSpec

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Significant digits a JSON number (an IEEE double) carries exactly.
MAX_DIGITS = 15

DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
#: A local time of the legacy host as the agent may send it: HH:MM, HH:MM:SS, fractions.
TIME_PATTERN = f"^{_TIME}$"
#: A local time as the gateway answers it (Python's isoformat of a time without zone).
TIME_OUT_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{6})?$"
#: A local date and time of the legacy host, without a UTC offset.
LOCAL_DATETIME_PATTERN = f"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T{_TIME}$"
LOCAL_DATETIME_OUT_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{6})?$"
)
#: RFC 3339 date-time, the only datetime ``format: date-time`` admits: an offset is required.
OFFSET_DATETIME_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def integer_range(spec: ValueSpec) -> tuple[int, int]:
    """(minimum, maximum) of an integer argument: declared range, legacy width, 64 bits."""
    low, high = INT64_MIN, INT64_MAX
    if spec.width is not None:
        # Beyond 18 digits the width says less than 64 bits do.
        high = min(high, 10**spec.width - 1)
        low = max(low, -(10 ** (spec.width - 1) - 1))  # the sign takes a place
    minimum: float | None = getattr(spec, "minimum", None)
    maximum: float | None = getattr(spec, "maximum", None)
    if minimum is not None:
        low = max(low, math.ceil(minimum))
    if maximum is not None:
        high = min(high, math.floor(maximum))
    return low, high


def decimal_places(spec: ValueSpec) -> int | None:
    """Places a decimal argument may have: the legacy scale's (cents: 2), or None (free)."""
    if spec.type == "decimal" and spec.scale is not None and spec.scale < 0 and not spec.unit:
        return -spec.scale
    return None


def decimal_range(spec: ValueSpec) -> tuple[Decimal, Decimal]:
    """(minimum, maximum) of a number or decimal argument: at most 15 significant digits."""
    places = decimal_places(spec) or 0
    limit = Decimal(10**MAX_DIGITS - 1).scaleb(-places)
    low, high = -limit, limit
    minimum: float | None = getattr(spec, "minimum", None)
    maximum: float | None = getattr(spec, "maximum", None)
    if minimum is not None:
        low = max(low, Decimal(repr(minimum)))
    if maximum is not None:
        high = min(high, Decimal(repr(maximum)))
    return low, high


def decimal_pattern(spec: ValueSpec) -> str:
    """The pattern of a decimal sent as a string: ASCII digits, no exponent, bounded."""
    places = decimal_places(spec)
    whole = MAX_DIGITS - (places or 0)
    fraction = MAX_DIGITS if places is None else places
    return f"^-?[0-9]{{1,{whole}}}(\\.[0-9]{{1,{fraction}}})?$"


def json_number(value: Decimal) -> int | float:
    """A bound as it is published: an integer when it is one."""
    return int(value) if value == value.to_integral_value() else float(value)


def bounds_of(spec: Any) -> dict[str, int | float]:
    """``minimum`` and ``maximum`` of a numeric argument, as published in its schema."""
    if spec.type == "integer":
        low, high = integer_range(spec)
        return {"minimum": low, "maximum": high}
    if spec.type in ("number", "decimal"):
        low_d, high_d = decimal_range(spec)
        return {"minimum": json_number(low_d), "maximum": json_number(high_d)}
    return {}


def wide_integers(value: Any, where: str) -> list[dict[str, str]]:
    """Errors for every integer outside 64 bits in ``value`` (arguments or context).

    No legacy type holds one and the record's canonical JSON cannot either, so such a value
    is the agent's error, found before anything is written or sent.
    """
    errors: list[dict[str, str]] = []
    if isinstance(value, bool):
        return errors
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            errors.append({"field": where or "$", "message": "integer outside 64 bits"})
    elif isinstance(value, dict):
        for key, item in value.items():
            errors.extend(wide_integers(item, f"{where}.{key}" if where else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors.extend(wide_integers(item, f"{where}[{index}]"))
    return errors


def recordable(value: Any) -> Any:
    """``value`` with integers outside 64 bits as their decimal text, for the record."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, dict):
        return {key: recordable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [recordable(item) for item in value]
    return value


def within_legacy_types(
    fields: dict[str, Any], ranges: dict[str, tuple[int | None, int | None]]
) -> dict[str, Any]:
    """``fields`` with each integer argument narrowed to its legacy parameter's type
    (``ranges``, from the backend's metadata); the same dict when nothing narrows."""
    narrowed: dict[str, Any] = {}
    changed = False
    for name, spec in fields.items():
        legacy = ranges.get(spec.to or name)
        if legacy is not None and spec.type == "integer" and spec.fields is None:
            low, high = legacy
            update: dict[str, float] = {}
            if low is not None and (spec.minimum is None or spec.minimum < low):
                update["minimum"] = low
            if high is not None and (spec.maximum is None or spec.maximum > high):
                update["maximum"] = high
            if update:
                narrowed[name] = spec.model_copy(update=update)
                changed = True
                continue
        narrowed[name] = spec
    return narrowed if changed else fields


def record_integer_ranges(layout: Any) -> dict[str, tuple[int | None, int | None]]:
    """(minimum, maximum) of each integer item of a copybook record: its PIC's digits
    (``PIC 9(3)`` holds 0-999, ``PIC S9(4)`` -9999-9999)."""
    ranges: dict[str, tuple[int | None, int | None]] = {}
    for info in getattr(layout, "fields", ()):
        if info.kind == "integer" and info.scale == 0 and info.digits:
            top = 10**info.digits - 1
            signed = (info.picture or "").upper().startswith("S")
            ranges[info.path] = (-top if signed else 0, top)
    return ranges
