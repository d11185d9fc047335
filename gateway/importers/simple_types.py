"""XSD built-in types and facets as mapping types, JSON Schema keywords and example values."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.importers.regex_sample import NoSample, sample
from gateway.importers.xsd import Simple

_INTEGER_RANGES: dict[str, tuple[int | None, int | None]] = {
    "integer": (None, None),
    "long": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-128, 127),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
    "unsignedLong": (0, 2**64 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 255),
}
# xs:dateTime may or may not carry an offset; the mapping's datetime type insists on one
# convention (the legacy host's zone), so it stays text checked by the XSD's lexical form.
_TEMPORAL = {"date": "date", "time": "time"}
DATETIME_PATTERN = (
    r"^-?[0-9]{4,}-[0-9]{2}-[0-9]{2}"
    r"T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
_STRING_SAMPLES = {
    "anyURI": "https://example.com/",
    "base64Binary": "QUJD",
    "hexBinary": "0A1B",
    "duration": "P1D",
    "gYear": "2024",
    "gYearMonth": "2024-01",
    "gMonth": "--01",
    "gMonthDay": "--01-31",
    "gDay": "---31",
    "QName": "example",
    "language": "en",
    "dateTime": "2024-01-31T12:30:00Z",
}
_TEMPORAL_SAMPLES = {"date": "2024-01-31", "time": "12:30:00"}
_FORMATS = {"anyURI": "uri", "duration": "duration", "dateTime": "date-time"}


def mapping_type(simple: Simple) -> str:
    """The mapping language's type for a built-in: exact decimals, dates and times."""
    builtin = simple.builtin
    if builtin in _INTEGER_RANGES:
        return "integer"
    if builtin == "decimal":
        return "decimal"
    if builtin in ("float", "double"):
        return "number"
    if builtin == "boolean":
        return "boolean"
    return _TEMPORAL.get(builtin, "string")


def python_pattern(simple: Simple) -> str | None:
    """The XSD patterns (implicitly anchored, alternatives ORed) as one Python regex."""
    patterns = simple.facets.get("pattern") or []
    if simple.builtin == "hexBinary" and not patterns:
        patterns = ["([0-9a-fA-F]{2})*"]
    if not patterns:
        return None
    joined = "^(?:" + "|".join(f"(?:{p})" for p in patterns) + ")$"
    try:
        re.compile(joined)
    except re.error:
        return None  # XSD-only classes (\i, \c, \p{IsBasicLatin}): said in the description
    return joined


def _number(text: str, kind: str) -> int | float | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return int(value) if kind == "integer" else float(value)


def field_checks(simple: Simple) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(mapping keys, extra JSON Schema keywords, notes for the description)."""
    kind = mapping_type(simple)
    facets = simple.facets
    keys: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    # Plain strings say nothing worth a description; other built-ins name themselves.
    notes: list[str] = [] if simple.builtin == "string" else [f"XSD {simple.builtin}"]
    enumeration = facets.get("enumeration")
    if enumeration and kind == "string":
        keys["codes"] = {value: value for value in dict.fromkeys(enumeration)}
    elif enumeration:
        values = [_number(v, kind) if kind in ("integer", "number", "decimal") else v
                  for v in enumeration]  # fmt: skip
        extra["enum"] = [v for v in values if v is not None]
    pattern = python_pattern(simple)
    if simple.builtin == "dateTime" and pattern is None:
        pattern = DATETIME_PATTERN
    if kind == "string" and not enumeration:
        if pattern is not None:
            keys["pattern"] = pattern
        elif facets.get("pattern"):
            notes.append(f"XSD pattern {' | '.join(facets['pattern'])}")
        if "length" in facets:
            keys["min_length"] = keys["max_length"] = int(facets["length"])
        if "minLength" in facets:
            keys["min_length"] = int(facets["minLength"])
        if "maxLength" in facets and int(facets["maxLength"]) >= 1:
            keys["max_length"] = int(facets["maxLength"])
        if simple.builtin in _FORMATS:
            extra["format"] = _FORMATS[simple.builtin]
        if simple.builtin == "base64Binary":
            extra["contentEncoding"] = "base64"
    if kind in ("integer", "number", "decimal"):
        low, high = _INTEGER_RANGES.get(simple.builtin, (None, None))
        for facet, key in (("minInclusive", "minimum"), ("maxInclusive", "maximum")):
            if facet in facets:
                bound = _number(facets[facet], kind)
                if bound is not None:
                    keys[key] = bound
        # Bounds past 2**53 do not survive a JSON number; long's range says nothing useful.
        if "minimum" not in keys and low is not None and abs(low) < 2**53:
            keys["minimum"] = low
        if "maximum" not in keys and high is not None and high < 2**53:
            keys["maximum"] = high
        for facet, key in (("minExclusive", "exclusiveMinimum"),
                           ("maxExclusive", "exclusiveMaximum")):  # fmt: skip
            if facet in facets:
                bound = _number(facets[facet], kind)
                if bound is not None:
                    extra[key] = bound
        digits = [f"{facets[f]} {w}" for f, w in (("totalDigits", "digits in all"),
                  ("fractionDigits", "after the point")) if f in facets]  # fmt: skip
        if digits:
            notes.append("at most " + ", ".join(digits))
    elif kind != "string":
        for facet in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
            if facet in facets:
                notes.append(f"{facet} {facets[facet]}")
    return keys, extra, notes


def example_value(simple: Simple) -> Any:
    """A value of the type that its facets accept, as the agent would send it."""
    kind = mapping_type(simple)
    facets = simple.facets
    enumeration = facets.get("enumeration")
    if enumeration:
        first = enumeration[0]
        return _number(first, kind) if kind in ("integer", "number", "decimal") else first
    if kind in ("integer", "number", "decimal"):
        return _example_number(simple, kind)
    if kind == "boolean":
        return True
    if kind in _TEMPORAL_SAMPLES:
        return _TEMPORAL_SAMPLES[kind]
    pattern = python_pattern(simple)
    if pattern is not None and simple.builtin != "dateTime":
        try:
            return sample(pattern)
        except (NoSample, re.error):
            pass
    text = _STRING_SAMPLES.get(simple.builtin, "example")
    low = int(facets.get("length", facets.get("minLength", 0)))
    high = int(facets.get("length", facets.get("maxLength", 0))) or None
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None and len(text) > high:
        text = text[:high]
    return text


def _example_number(simple: Simple, kind: str) -> int | float:
    keys, extra, _ = field_checks(simple)
    value: Decimal = Decimal(1)
    low = keys.get("minimum")
    high = keys.get("maximum")
    if low is not None and value < Decimal(str(low)):
        value = Decimal(str(low))
    if "exclusiveMinimum" in extra and value <= Decimal(str(extra["exclusiveMinimum"])):
        value = Decimal(str(extra["exclusiveMinimum"])) + 1
    if high is not None and value > Decimal(str(high)):
        value = Decimal(str(high))
    if "exclusiveMaximum" in extra and value >= Decimal(str(extra["exclusiveMaximum"])):
        value = Decimal(str(extra["exclusiveMaximum"])) - 1
    return (
        int(value)
        if kind == "integer"
        else int(value)
        if value == value.to_integral()
        else float(value)
    )
