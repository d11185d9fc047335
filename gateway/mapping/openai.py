"""A tool's input schema in the subset OpenAI's strict mode takes (``strict: true``).

Strict structured outputs accept only part of JSON Schema: every property listed in
``required``, ``additionalProperties: false`` on every object, and a small set of keywords
(``pattern`` and some formats for strings, ranges for numbers, ``minItems``/``maxItems`` for
arrays, ``enum``, ``const``, ``anyOf``). So an optional argument becomes a union with null
(the gateway reads null as "not given", which applies its default), a decimal that may be a
number or a string becomes an ``anyOf``, and what the subset cannot say (lengths, defaults,
examples) moves into the description, where the model still reads it.
"""

from __future__ import annotations

from typing import Any

#: Keywords strict mode supports, beside the structural ones handled below.
SUPPORTED_KEYWORDS = frozenset(
    {
        "type", "description", "properties", "required", "additionalProperties", "items",
        "enum", "const", "anyOf", "pattern", "format", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
        "$ref", "$defs",
    }
)  # fmt: skip
SUPPORTED_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
_SAID_IN_WORDS = {
    "minLength": "At least {} characters.",
    "maxLength": "At most {} characters.",
    "default": "Default: {}.",
}
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def strict_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``parameters`` of a strict function from a tool's JSON Schema of arguments."""
    return _strict(schema, optional=False)


def _strict(node: dict[str, Any], optional: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    words: list[str] = []
    for key, value in node.items():
        if key in _SAID_IN_WORDS:
            words.append(_SAID_IN_WORDS[key].format(_shown(value)))
        elif key == "format" and value not in SUPPORTED_FORMATS:
            words.append(f"Format: {value}.")
        elif key in SUPPORTED_KEYWORDS:
            out[key] = value
    if node.get("type") == "object" and "properties" in node:
        required = set(node.get("required", ()))
        out["properties"] = {
            name: _strict(sub, optional=name not in required)
            for name, sub in node["properties"].items()
        }
        out["required"] = list(node["properties"])
        out["additionalProperties"] = False
    if "items" in node:
        out["items"] = _strict(node["items"], optional=False)
    kinds = out.get("type")
    if isinstance(kinds, list) and len([k for k in kinds if k != "null"]) > 1:
        out = _as_any_of(out)
    if words:
        out["description"] = " ".join([out.get("description", ""), *words]).strip()
    return _nullable(out) if optional else out


def _as_any_of(node: dict[str, Any]) -> dict[str, Any]:
    """``type: [number, string]`` with keywords for each: one branch a type."""
    branches = []
    for kind in node["type"]:
        branch: dict[str, Any] = {"type": kind}
        if kind == "null":
            branches.append(branch)
            continue
        if kind == "string" and "pattern" in node:
            branch["pattern"] = node["pattern"]
        if kind in ("number", "integer"):
            branch.update({k: node[k] for k in _NUMBER_KEYS if k in node})
        branches.append(branch)
    shared = {k: v for k, v in node.items() if k == "description"}
    return {"anyOf": branches, **shared}


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in node:
        if {"type": "null"} in node["anyOf"]:
            return node
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    kind = node.get("type")
    widened = dict(node)
    if isinstance(kind, str):
        widened["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        widened["type"] = [*kind, "null"]
    if "enum" in widened and None not in widened["enum"]:
        widened["enum"] = [*widened["enum"], None]
    return widened


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
