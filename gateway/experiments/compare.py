"""Two mapped results compared field by field: where a candidate mapping disagrees."""

from __future__ import annotations

import re
from typing import Any

# Enough to see what differs; a result that differs everywhere says so by its count.
MAX_DIFFERENCES = 50
_INDEX = re.compile(r"\[\d+\]")


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON value by its path: ``customers[0].name``; an empty object or
    list is a leaf of its own."""
    if isinstance(value, dict) and value:
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{path}.{key}" if path else str(key)))
        return leaves
    if isinstance(value, list) and value:
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(flatten(item, f"{path}[{index}]"))
        return leaves
    return {path or "$": value}


_MISSING: Any = {"missing": True}


def differences(live: Any, shadow: Any) -> list[dict[str, Any]]:
    """Each path whose value differs (or is only on one side), in path order; a value
    absent on one side is recorded as ``{"missing": true}``."""
    left, right = flatten(live), flatten(shadow)
    found = []
    for path in sorted(left.keys() | right.keys()):
        a, b = left.get(path, _MISSING), right.get(path, _MISSING)
        if a != b or type(a) is not type(b):
            found.append({"field": path, "live": a, "shadow": b})
    return found


def field_of(path: str) -> str:
    """A path with its list positions dropped (``customers[].name``), to count fields
    across calls whose lists differ in length."""
    return _INDEX.sub("[]", path)
