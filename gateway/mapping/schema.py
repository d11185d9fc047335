"""JSON Schema 2020-12 of a tool's arguments and result, generated from its mappings."""

from __future__ import annotations

from typing import Any

from gateway.mapping.spec import InputField, OutputField, OutputSpec, ValueSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def _base(spec: ValueSpec) -> dict[str, Any]:
    kind = spec.type
    schema: dict[str, Any]
    if kind == "string":
        schema = {"type": "string"}
        if spec.codes:
            schema["enum"] = list(spec.codes.values())
    elif kind == "integer":
        schema = {"type": "integer"}
    elif kind in {"number", "decimal"}:
        schema = {"type": "number"}
    elif kind == "boolean":
        schema = {"type": "boolean"}
    else:
        schema = {"type": "string", "format": "date"}
    return schema


def _description(spec: ValueSpec, legacy_name: str, direction: str) -> str:
    words = [spec.description.rstrip(".") + "." if spec.description else ""]
    if spec.unit is not None:
        words.append(f"In {spec.unit.agent}.")
    if spec.codes:
        words.append("Codes: " + ", ".join(f"{k}={v}" for k, v in spec.codes.items()) + ".")
    words.append(f"Legacy {direction} {legacy_name}.")
    return " ".join(w for w in words if w)


def input_schema(fields: dict[str, InputField], examples: list[dict[str, Any]]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in fields.items():
        prop = _base(spec)
        if spec.type == "decimal":
            # Money may be sent as a string so that it never passes through a float.
            prop = {"type": ["number", "string"], "pattern": DECIMAL_PATTERN}
        prop["description"] = _description(spec, spec.to or name, "parameter")
        for key, value in (
            ("pattern", spec.pattern),
            ("minLength", spec.min_length),
            ("maxLength", spec.max_length),
            ("minimum", spec.minimum),
            ("maximum", spec.maximum),
            ("default", spec.default),
        ):
            if value is not None and not (key == "pattern" and spec.codes):
                prop[key] = value
        if spec.example is not None:
            prop["examples"] = [spec.example]
        properties[name] = prop
        if spec.required:
            required.append(name)
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if examples:
        schema["examples"] = examples
    return schema


def _output_field(name: str, spec: OutputField) -> dict[str, Any]:
    legacy = spec.source or name
    if spec.fields is not None:
        inner = _object(spec.fields)
        inner["description"] = f"{spec.description or ''} Legacy record {legacy}.".strip()
        if spec.list:
            return {"type": "array", "items": inner}
        return {**inner, "type": ["object", "null"]}
    prop = _base(spec)
    prop["type"] = [prop["type"], "null"]
    if "enum" in prop:
        prop["enum"] = [*prop["enum"], None]
    prop["description"] = _description(spec, legacy, "field")
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
