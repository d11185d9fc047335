"""``legacy-gateway import openapi``: one tool per operation of an OpenAPI or Swagger document.

OpenAPI 3.0 and 3.1 and Swagger 2.0, in YAML or JSON, for the HTTP adapter: the operation is
``METHOD /path/{param}``; path parameters fill the path, query parameters (GET, DELETE,
HEAD) go to the query string and a JSON body's properties to the body. Local ``$ref``s are
resolved (recursive schemas cut at a stated depth); ``allOf`` merges, ``oneOf``/``anyOf``
offers every alternative's properties and says which combinations are allowed. Security
schemes become the backend's headers, with secrets from environment variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.importers.fields import snake

METHODS = ("get", "put", "post", "delete", "patch", "head")
QUERY_METHODS = ("GET", "DELETE", "HEAD")
MAX_DEPTH = 8
#: A schema met again below itself is cut at this many occurrences on one path.
RECURSION_DEPTH = 2
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
_SAFE_PLACEHOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class OpenApiImportError(ValueError):
    """The document cannot be read, or is not OpenAPI or Swagger."""


@dataclass
class ImportedApi:
    source: str
    backend_name: str
    backend: dict[str, Any]
    tools: dict[str, dict[str, Any]]
    notes: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def read_document(source: str) -> dict[str, Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if "://" in source:
        import httpx

        try:
            text = httpx.get(source, timeout=30, follow_redirects=True).text
        except httpx.HTTPError as exc:
            raise OpenApiImportError(f"cannot fetch {source}: {exc}") from exc
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise OpenApiImportError(f"cannot read {source}: {exc.strerror}") from exc
    try:
        document = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise OpenApiImportError(f"{source} is neither JSON nor YAML: {exc}") from exc
    if not isinstance(document, dict) or not ("openapi" in document or "swagger" in document):
        raise OpenApiImportError(f"{source} is not an OpenAPI or Swagger document")
    return document


class Resolver:
    """Local ``$ref``s (``#/components/...``, ``#/definitions/...``), with recursion cut."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def get(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise OpenApiImportError(f"only local $refs are supported, not {ref}")
        node: Any = self.document
        for escaped in ref[2:].split("/"):
            part = escaped.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise OpenApiImportError(f"$ref {ref} points nowhere")
            node = node[part]
        return node

    def deref(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            node = self.get(node["$ref"])
            seen += 1
        return node


def _schema_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):  # 3.1: ["string", "null"]
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if kinds else None
    return kind if isinstance(kind, str) else None


def _nullable(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return bool(schema.get("nullable")) or (isinstance(kind, list) and "null" in kind)


class Shapes:
    """JSON Schemas (with $refs, allOf, oneOf) as mapping-language fields and examples."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def flatten(self, schema: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
        """The schema with $refs followed and allOf merged; oneOf/anyOf noted."""
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if ref is not None:
            if path.count(ref) >= RECURSION_DEPTH:
                name = ref.rsplit("/", 1)[-1]
                return {"x-cut": f"recursive schema {name}: cut at depth {RECURSION_DEPTH}"}
            return self.flatten(self.resolver.get(ref), (*path, ref))
        if not isinstance(schema, dict):
            return {"x-path": path}
        result = {k: v for k, v in schema.items() if k not in ("allOf", "oneOf", "anyOf")}
        # The $refs followed to get here: nested schemas continue from them.
        result["x-path"] = path
        for part in schema.get("allOf", []):
            merged = self.flatten(part, path)
            result.setdefault("properties", {})
            result["properties"] = {**merged.get("properties", {}), **result["properties"]}
            result["required"] = [*merged.get("required", []), *result.get("required", [])]
            for key, value in merged.items():
                if key not in ("properties", "required"):
                    result.setdefault(key, value)
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives:
            flat = [self.flatten(alt, path) for alt in alternatives]
            objects = [alt for alt in flat if alt.get("properties")]
            if objects:
                result.setdefault("type", "object")
                props: dict[str, Any] = dict(result.get("properties", {}))
                for alt in objects:
                    for name, prop in alt["properties"].items():
                        props.setdefault(name, prop)
                result["properties"] = props
                result["x-alternatives"] = [sorted(alt.get("required", [])) for alt in objects]
                result["x-exclusive"] = "oneOf" in schema
            elif flat:
                first = flat[0]
                for key, value in first.items():
                    result.setdefault(key, value)
        if "properties" in result or _schema_type(result) == "object":
            result.setdefault("type", "object")
        return result

    # ---------------------------------------------------------------- input

    def input_field(
        self, to: str, schema: Any, required: bool, path: tuple[str, ...], depth: int = 0
    ) -> dict[str, Any] | None:
        flat = self.flatten(schema, path)
        if "x-cut" in flat or depth > MAX_DEPTH:
            return None
        spec: dict[str, Any] = {"to": to}
        kind = _schema_type(flat)
        path = flat.get("x-path", path)
        if kind == "array":
            item = self.input_field(to, flat.get("items", {}), True, path, depth + 1)
            if item is None:
                return None
            spec = {**item, "list": True}
            if flat.get("minItems"):
                spec["min_items"] = int(flat["minItems"])
            if flat.get("maxItems"):
                spec["max_items"] = int(flat["maxItems"])
        elif kind == "object" and flat.get("properties"):
            fields, rules = self.object_fields(flat, path, depth + 1)
            if not fields:
                return None
            spec["fields"] = fields
            if rules:
                spec["json_schema"] = rules
        elif kind == "object":
            return None  # a free-form object: nothing the mapping can name
        else:
            spec.update(_scalar_input(flat))
        if not required:
            spec["required"] = False
        description = " ".join(str(flat.get("description", "")).split())
        if description:
            spec["description"] = description[:300]
        return spec

    def object_fields(
        self, flat: dict[str, Any], path: tuple[str, ...], depth: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        required = set(flat.get("required", []))
        path = flat.get("x-path", path)
        fields: dict[str, Any] = {}
        by_property: dict[str, str] = {}
        for name, prop in flat.get("properties", {}).items():
            if isinstance(prop, dict) and prop.get("readOnly"):
                continue
            spec = self.input_field(str(name), prop, name in required, path, depth)
            if spec is None:
                continue
            key = _unique(snake(str(name)), fields)
            fields[key] = spec
            by_property[str(name)] = key
        return fields, _alternative_rules(flat, by_property)


def _unique(name: str, taken: dict[str, Any]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        candidate, counter = f"{name}_{counter}", counter + 1
    return candidate


def _alternative_rules(flat: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    alternatives = flat.get("x-alternatives")
    if not alternatives or len(alternatives) < 2:
        return {}
    branches = [{"required": [names[n] for n in alt if n in names]} for alt in alternatives]
    if any(not branch["required"] for branch in branches):
        return {}
    # anyOf alternatives may combine, so their union of optional fields says it all; a
    # published anyOf of required-sets would also reach OpenAI's strict subset, which
    # keeps anyOf only for typed branches.
    return {"oneOf": branches} if flat.get("x-exclusive") else {}


# date-time stays text with its format: the mapping's datetime type would insist on the
# legacy host's zone convention, which an API's RFC 3339 values do not follow.
_FORMAT_TYPES = {"date": "date"}


def _scalar_input(flat: dict[str, Any]) -> dict[str, Any]:
    kind = _schema_type(flat) or "string"
    spec: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if kind == "integer":
        spec["type"] = "integer"
    elif kind == "number":
        spec["type"] = "number"
    elif kind == "boolean":
        spec["type"] = "boolean"
    elif flat.get("format") in _FORMAT_TYPES:
        spec["type"] = _FORMAT_TYPES[flat["format"]]
    enum = [v for v in flat.get("enum", []) if v is not None]
    if enum and kind == "string" and "type" not in spec:
        spec["codes"] = {str(v): str(v) for v in dict.fromkeys(enum)}
    elif enum:
        extra["enum"] = enum
    if kind == "string" and "type" not in spec and not enum:
        pattern = flat.get("pattern")
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
                spec["pattern"] = pattern
            except re.error:
                pass
        if isinstance(flat.get("minLength"), int):
            spec["min_length"] = flat["minLength"]
        if isinstance(flat.get("maxLength"), int) and flat["maxLength"] >= 1:
            spec["max_length"] = flat["maxLength"]
        if isinstance(flat.get("format"), str):
            extra["format"] = flat["format"]
    if kind in ("integer", "number"):
        for key, target in (("minimum", "minimum"), ("maximum", "maximum")):
            value = flat.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                spec[target] = value
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            value = flat.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                extra[key] = value  # 3.1: a number; 3.0's boolean form is left out
        if isinstance(flat.get("multipleOf"), int | float):
            extra["multipleOf"] = flat["multipleOf"]
    if extra:
        spec["json_schema"] = extra
    return spec
