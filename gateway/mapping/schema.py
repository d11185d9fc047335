"""JSON Schema 2020-12 of a tool's arguments and result, generated from its mappings.

What the mapping knows goes into the schema, so that an agent (or its framework) sees it:
types and formats, patterns, enums from code tables, ranges and lengths, units and the legacy
names in descriptions, required fields, defaults and examples.
"""

from __future__ import annotations

from typing import Any

from gateway.mapping.limits import (
    LOCAL_DATETIME_OUT_PATTERN,
    LOCAL_DATETIME_PATTERN,
    TIME_OUT_PATTERN,
    TIME_PATTERN,
    bounds_of,
    decimal_pattern,
)
from gateway.mapping.patterns import NO_CONTROL_PATTERN
from gateway.mapping.spec import InputField, OutputField, OutputSpec, ValueSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _temporal(spec: ValueSpec, incoming: bool) -> dict[str, Any]:
    """Dates are RFC 3339 full-dates. A time or datetime is ``format: time``/``date-time`` only
    when it carries a UTC offset, as RFC 3339 demands; a legacy host's local time has none,
    so it is published by its pattern instead (strict validators would refuse it otherwise)."""
    if spec.type == "date":
        return {"type": "string", "format": "date"}
    if spec.type == "datetime" and spec.timezone:
        return {"type": "string", "format": "date-time"}
    if spec.type == "datetime":
        pattern = LOCAL_DATETIME_PATTERN if incoming else LOCAL_DATETIME_OUT_PATTERN
    else:
        pattern = TIME_PATTERN if incoming else TIME_OUT_PATTERN
    return {"type": "string", "pattern": pattern}


def _base(spec: ValueSpec, incoming: bool) -> dict[str, Any]:
    kind = spec.type
    schema: dict[str, Any]
    if kind == "string":
        schema = {"type": "string"}
        codes = spec.code_table
        if codes and (incoming or spec.unknown_code != "pass"):
            schema["enum"] = list(codes.values())
    elif kind == "integer":
        schema = {"type": "integer"}
    elif kind in {"number", "decimal"}:
        schema = {"type": "number"}
    elif kind == "boolean":
        schema = {"type": "boolean"}
    else:
        schema = _temporal(spec, incoming)
    return schema


def _description(spec: ValueSpec, legacy_name: str, direction: str) -> str:
    words = [spec.description.rstrip(".") + "." if spec.description else ""]
    if spec.unit is not None:
        words.append(f"In {spec.unit.agent} (legacy {spec.unit.legacy}).")
    if spec.type == "datetime" and spec.timezone:
        words.append(f"Legacy host time {spec.timezone}; with its UTC offset.")
    elif spec.type == "datetime":
        words.append("The legacy host's local time, without a UTC offset.")
    elif spec.type == "time":
        words.append("The legacy host's local time of day (HH:MM:SS), without a UTC offset.")
    codes = spec.code_table
    if codes:
        words.append("Codes: " + ", ".join(f"{k}={v}" for k, v in codes.items()) + ".")
    words.append(f"Legacy {direction} {legacy_name}.")
    return " ".join(w for w in words if w)


def _input_property(name: str, spec: InputField) -> dict[str, Any]:
    legacy = spec.to or name
    if spec.fields is not None:
        prop = _input_object(spec.fields)
        what = "record" if spec.record is not None else "parameter"
        prop["description"] = f"{spec.description or ''} Legacy {what} {legacy}.".strip()
    else:
        prop = _base(spec, incoming=True)
        if spec.type == "decimal":
            # Money may be sent as a string so that it never passes through a float.
            prop = {"type": ["number", "string"], "pattern": decimal_pattern(spec)}
        prop["description"] = _description(spec, legacy, "parameter")
        max_length = spec.max_length if spec.overflow == "error" else None
        if max_length is None and spec.type == "string" and spec.overflow == "error":
            max_length = spec.width
        pattern = spec.pattern
        if pattern is None and spec.type == "string":
            pattern = NO_CONTROL_PATTERN  # no NUL or other C0 control reaches a legacy field
        for key, value in (
            ("pattern", pattern),
            ("minLength", spec.min_length),
            ("maxLength", max_length),
            *bounds_of(spec).items(),
        ):
            # A code table's enum says it all; the other checks apply to free text.
            if value is not None and not spec.code_table:
                prop[key] = value
    if spec.default is not None:
        prop["default"] = spec.default
    if spec.example is not None:
        prop["examples"] = [spec.example]
    if spec.json_schema:
        prop.update(spec.json_schema)
    if spec.list:
        array: dict[str, Any] = {"type": "array", "items": prop}
        if spec.min_items is not None:
            array["minItems"] = spec.min_items
        if spec.max_items is not None:
            array["maxItems"] = spec.max_items
        return array
    return prop


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional argument may be null: the gateway reads null as "not given" (its default
    applies), which is what strict function calling sends for an argument it leaves out."""
    kind = prop.get("type")
    if isinstance(kind, str):
        prop["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        prop["type"] = [*kind, "null"]
    if "enum" in prop and None not in prop["enum"]:
        prop["enum"] = [*prop["enum"], None]
    return prop


def _input_object(fields: dict[str, InputField]) -> dict[str, Any]:
    shown = {name: spec for name, spec in fields.items() if spec.const is None}
    properties = {
        name: _input_property(name, spec)
        if spec.required
        else _nullable(_input_property(name, spec))
        for name, spec in shown.items()
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name, spec in shown.items() if spec.required],
        "additionalProperties": False,
    }


def input_schema(
    fields: dict[str, InputField],
    examples: list[dict[str, Any]],
    rules: dict[str, Any] | None = None,
) -> dict[str, Any]:
    schema: dict[str, Any] = {"$schema": DIALECT, **_input_object(fields), **(rules or {})}
    if examples:
        schema["examples"] = examples
    return schema


def _output_field(name: str, spec: OutputField) -> dict[str, Any]:
    legacy = spec.xpath or spec.source or name
    if spec.fields is not None:
        inner = _object(spec.fields)
        what = "record" if spec.record is None else "encoded record"
        inner["description"] = f"{spec.description or ''} Legacy {what} {legacy}.".strip()
        inner.update(spec.json_schema or {})
        if spec.list:
            return {"type": "array", "items": inner}
        if not spec.required:
            inner["type"] = ["object", "null"]
        return inner
    if spec.const is not None:
        prop: dict[str, Any] = {"const": spec.const}
        if spec.description:
            prop["description"] = spec.description
        return prop
    prop = _base(spec, incoming=False)
    nullable = (not spec.required and spec.default is None) or (
        spec.code_table is not None and spec.unknown_code == "null"
    )
    if nullable:
        prop["type"] = [prop["type"], "null"]
        if "enum" in prop:
            prop["enum"] = [*prop["enum"], None]
    prop["description"] = _description(spec, legacy, "field")
    if spec.example is not None:
        prop["examples"] = [spec.example]
    prop.update(spec.json_schema or {})
    if spec.list:
        return {"type": "array", "items": prop}
    return prop


def _object(fields: dict[str, OutputField]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: _output_field(name, spec) for name, spec in fields.items()},
        "required": list(fields),
        "additionalProperties": False,
    }


def output_schema(spec: OutputSpec, examples: list[dict[str, Any]]) -> dict[str, Any]:
    extra: dict[str, Any] = {"examples": examples} if examples else {}
    if not spec.fields:
        return {"$schema": DIALECT, "description": "The legacy answer, unmapped.", **extra}
    record = _object(spec.fields)
    if spec.list:
        body: dict[str, Any] = {
            "type": "object",
            "properties": {"items": {"type": "array", "items": record}},
            "required": ["items"],
            "additionalProperties": False,
        }
    else:
        body = record
    return {"$schema": DIALECT, **body, **extra}
