"""Example arguments from the input fields an importer wrote: the smallest set that passes.

Built from the fields themselves (not the source schema), so an example can only use what
the tool's published schema allows: required fields, the first code of a code table, a
string its pattern accepts, a number within its range, a list of its minimum length.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.importers.regex_sample import NoSample, sample

_TEMPORAL = {"date": "2024-01-31", "time": "12:30:00", "datetime": "2024-01-31T12:30:00Z"}
_FORMATS = {
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "byte": "QUJD",
    "ipv4": "192.0.2.1",
}


def example_arguments(fields: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, spec in fields.items():
        if spec.get("required", True) is False or "const" in spec:
            continue
        value = example_nested(spec["fields"]) if "fields" in spec else example_scalar(spec)
        if spec.get("list"):
            value = [value] * max(int(spec.get("min_items", 1)), 1)
        result[name] = value
    return result


def example_nested(fields: dict[str, Any]) -> dict[str, Any]:
    return example_arguments(fields)


def example_scalar(spec: dict[str, Any]) -> Any:
    extra = spec.get("json_schema") or {}
    if spec.get("codes"):
        return next(iter(spec["codes"].values()))
    if extra.get("enum"):
        return extra["enum"][0]
    kind = spec.get("type", "string")
    if kind in _TEMPORAL:
        return _TEMPORAL[kind]
    if kind == "boolean":
        return True
    if kind in ("integer", "number", "decimal"):
        return _number(spec, extra, kind)
    if spec.get("pattern"):
        try:
            return sample(spec["pattern"])
        except (NoSample, re.error):
            pass
    text = _FORMATS.get(str(extra.get("format")), "example")
    low = int(spec.get("min_length") or 0)
    text += "x" * max(0, low - len(text))
    high = spec.get("max_length")
    return text[:high] if high else text


def _number(spec: dict[str, Any], extra: dict[str, Any], kind: str) -> int | float:
    value: float = 1
    low, high = spec.get("minimum"), spec.get("maximum")
    if low is not None and value < low:
        value = low
    if "exclusiveMinimum" in extra and value <= extra["exclusiveMinimum"]:
        value = extra["exclusiveMinimum"] + 1
    if high is not None and value > high:
        value = high
    if "exclusiveMaximum" in extra and value >= extra["exclusiveMaximum"]:
        value = extra["exclusiveMaximum"] - 1
    step = extra.get("multipleOf")
    if step:
        value = step * max(1, round(value / step))
    return int(value) if kind == "integer" and float(value).is_integer() else value
