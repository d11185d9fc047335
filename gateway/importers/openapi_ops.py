"""OpenAPI operations as HTTP tools: parameters, bodies, answers and security schemes."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from gateway.importers.examples import example_arguments
from gateway.importers.fields import snake, source_path
from gateway.importers.openapi import (
    _PLACEHOLDER,
    _SAFE_PLACEHOLDER,
    METHODS,
    QUERY_METHODS,
    ImportedApi,
    OpenApiImportError,
    Resolver,
    Shapes,
    _schema_type,
    _unique,
    read_document,
)

_OUTPUT_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean"}
_OUTPUT_FORMATS = {"date": "date"}
_JSON = re.compile(r"(^|/|\+)json($|;)|^\*/\*$")


def base_url(document: dict[str, Any], env_name: str) -> tuple[str, list[str]]:
    """The service's base URL, or a ``${VAR}`` for the integrator when it has none usable."""
    if "swagger" in document:
        host = document.get("host")
        if host:
            scheme = (document.get("schemes") or ["https"])[0]
            return f"{scheme}://{host}{document.get('basePath', '')}".rstrip("/"), []
        return f"${{{env_name}}}", ["the document names no host: set " + env_name]
    servers = document.get("servers") or []
    url = servers[0].get("url", "") if servers and isinstance(servers[0], dict) else ""
    for name, variable in (servers[0].get("variables") or {}).items() if url else []:
        url = url.replace(f"{{{name}}}", str(variable.get("default", "")))
    if url.startswith(("http://", "https://")):
        return url.rstrip("/"), []
    return f"${{{env_name}}}", [f"the document's server is '{url or '/'}': set {env_name}"]


def security_headers(document: dict[str, Any], prefix: str) -> tuple[dict[str, str], list[str]]:
    """Backend headers for the document's security schemes; secrets from ``${VAR}``s."""
    schemes = (document.get("components") or {}).get("securitySchemes") or document.get(
        "securityDefinitions"
    ) or {}  # fmt: skip
    headers: dict[str, str] = {}
    notes: list[str] = []
    for name, scheme in schemes.items():
        if not isinstance(scheme, dict):
            continue
        var = f"{prefix}_{snake(str(name)).upper()}"
        kind = scheme.get("type")
        if kind == "apiKey" and scheme.get("in") == "header":
            headers[str(scheme.get("name", "X-Api-Key"))] = f"${{{var}}}"
        elif kind == "apiKey" and scheme.get("in") == "cookie":
            cookie = f"{scheme.get('name', 'api_key')}=${{{var}}}"
            headers["Cookie"] = "; ".join(filter(None, [headers.get("Cookie"), cookie]))
        elif (kind == "http" and scheme.get("scheme", "").lower() == "bearer") or kind in (
            "oauth2", "openIdConnect"
        ):  # fmt: skip
            headers["Authorization"] = f"Bearer ${{{var}}}"
            if kind != "http":
                notes.append(f"security {name} ({kind}): obtain a token and set {var}")
        elif kind == "basic" or (kind == "http" and scheme.get("scheme", "").lower() == "basic"):
            headers["Authorization"] = f"Basic ${{{var}}}"
            notes.append(f"security {name}: set {var} to base64 of user:password")
        else:
            notes.append(f"security {name} ({kind} in {scheme.get('in')}): not configured")
    return headers, notes


def secured_parameters(document: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """(in, lower-case name) of the headers and cookies the security schemes send: those
    are backend settings, never agent arguments."""
    schemes = (document.get("components") or {}).get("securitySchemes") or document.get(
        "securityDefinitions"
    ) or {}  # fmt: skip
    return frozenset(
        (str(scheme.get("in")), str(scheme.get("name", "")).lower())
        for scheme in schemes.values()
        if isinstance(scheme, dict) and scheme.get("type") == "apiKey"
    )


def import_openapi(source: str, operations: str | None = None) -> ImportedApi:
    document = read_document(source)
    resolver = Resolver(document)
    shapes = Shapes(resolver)
    title = str((document.get("info") or {}).get("title") or "api")
    backend_name = snake(title)[:40]
    prefix = backend_name.upper()
    url, url_notes = base_url(document, f"{prefix}_BASE_URL")
    headers, security_notes = security_headers(document, prefix)
    backend: dict[str, Any] = {"adapter": "http", "description": title, "base_url": url}
    if headers:
        backend["headers"] = headers
    api = ImportedApi(source, backend_name, backend, {}, skipped=[*url_notes, *security_notes])
    paths = document.get("paths") or {}
    if not isinstance(paths, dict):
        raise OpenApiImportError(f"{source} has no paths")
    for path, raw_item in paths.items():
        item = resolver.deref(raw_item)
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            op_id = str(operation.get("operationId") or f"{method} {path}")
            if operations and not (fnmatch.fnmatchcase(op_id, operations)
                                   or fnmatch.fnmatchcase(snake(op_id), operations)):  # fmt: skip
                continue
            name = _unique(snake(op_id)[:60].rstrip("_"), api.tools)
            notes: list[str] = []
            api.tools[name] = _tool(
                document, shapes, backend_name, method.upper(), str(path), item, operation, notes
            )
            if notes:
                api.notes[name] = notes
    return api


def _parameters(resolver: Resolver, item: dict[str, Any], operation: dict[str, Any]) -> list[Any]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = resolver.deref(raw)
        if isinstance(parameter, dict) and "name" in parameter:
            merged[(str(parameter["name"]), str(parameter.get("in")))] = parameter
    return list(merged.values())


def _parameter_fields(
    shapes: Shapes,
    method: str,
    path: str,
    item: dict[str, Any],
    operation: dict[str, Any],
    notes: list[str],
    secured: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[dict[str, Any], str]:
    """Input fields of the path, query, header and cookie parameters, and the path
    template they fill. Headers and cookies go as ``to: header:NAME`` / ``cookie:NAME``."""
    fields: dict[str, Any] = {}
    template = path
    for parameter in _parameters(shapes.resolver, item, operation):
        where, pname = parameter.get("in"), str(parameter["name"])
        schema = parameter.get("schema") or {k: v for k, v in parameter.items()
                                             if k not in ("name", "in", "required")}  # fmt: skip
        required = bool(parameter.get("required")) or where == "path"
        target = pname
        if where == "path" and not _SAFE_PLACEHOLDER.fullmatch(pname):
            target = snake(pname)
            template = template.replace(f"{{{pname}}}", f"{{{target}}}")
        if where == "query" and method not in QUERY_METHODS:
            notes.append(f"query parameter {pname}: not sent (a {method} sends its fields "
                         "in the body)")  # fmt: skip
            continue
        if where in ("header", "cookie"):
            skipped = _not_an_argument(str(where), pname, secured)
            if skipped:
                notes.append(f"{where} parameter {pname}: {skipped}")
                continue
            target = f"{where}:{pname}"
        elif where not in ("path", "query"):
            notes.append(f"{where} parameter {pname}: not sent by this tool")
            continue
        spec = shapes.input_field(target, schema, required, ())
        if spec is None:
            notes.append(f"{where} parameter {pname}: a free-form value, not mapped")
            continue
        if where == "path" and "list" in spec:
            spec.pop("list")
        if where in ("header", "cookie") and _SENSITIVE.search(pname):
            spec["sensitive"] = True
        fields[_unique(snake(pname), fields)] = spec
    for placeholder in _PLACEHOLDER.findall(template):
        if not any(spec.get("to") == placeholder for spec in fields.values()):
            fields[_unique(snake(placeholder), fields)] = {"to": placeholder}
    return fields, template


# Header and cookie parameters whose values are secrets: recorded only as commitments.
_SENSITIVE = re.compile(
    r"auth|api[-_]?key|token|secret|passw|session|signature|credential|cookie", re.IGNORECASE
)
# OpenAPI: "If in is header and name is Accept, Content-Type or Authorization, the
# parameter definition SHALL be ignored" (the gateway and the security schemes set them).
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}


def _not_an_argument(where: str, name: str, secured: frozenset[tuple[str, str]]) -> str:
    """Why a header or cookie parameter is no argument of the tool, or ''."""
    if (where, name.lower()) in secured:
        return "sent from the backend's settings (a security scheme)"
    if where == "header" and name.lower() in _IGNORED_HEADERS:
        return "set by the gateway (OpenAPI ignores it as a parameter)"
    return ""


def _tool(
    document: dict[str, Any],
    shapes: Shapes,
    backend: str,
    method: str,
    path: str,
    item: dict[str, Any],
    operation: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    summary = " ".join(str(operation.get("summary") or "").split())
    detail = " ".join(str(operation.get("description") or "").split())
    description = (summary or detail or f"{method} {path}")[:500]
    fields, template = _parameter_fields(
        shapes, method, path, item, operation, notes, secured_parameters(document)
    )
    rules: dict[str, Any] = {}
    body = _body_schema(document, shapes.resolver, operation, item)
    if body is not None and method not in QUERY_METHODS:
        flat = shapes.flatten(body)
        if _schema_type(flat) == "object" and flat.get("properties"):
            body_fields, rules = shapes.object_fields(flat, flat["x-path"], 1)
            for key, spec in body_fields.items():
                fields[_unique(key, fields)] = spec
        else:
            notes.append("the request body is not a JSON object with properties: not mapped")
    effect = "read" if method in ("GET", "HEAD") else "write"
    tool: dict[str, Any] = {
        "description": description,
        "backend": backend,
        "operation": f"{method} {template}",
        "effect": effect,
    }
    if effect == "write":
        tool["approval"] = "none"
    if fields:
        tool["input"] = fields
    if rules:
        tool["input_json_schema"] = rules
    output = _output(shapes, _response_schema(document, shapes.resolver, operation))
    if output:
        tool["output"] = output
    tags = [snake(str(tag)) for tag in operation.get("tags") or [] if str(tag).strip()]
    if tags:
        tool["tags"] = list(dict.fromkeys(tags))
    tool["examples"] = [example_arguments(fields)]
    return tool


def _json_content(content: Any) -> Any:
    if not isinstance(content, dict):
        return None
    for media, entry in content.items():
        if _JSON.search(str(media)) and isinstance(entry, dict):
            return entry.get("schema")
    return None


def _body_schema(
    document: dict[str, Any], resolver: Resolver, operation: dict[str, Any], item: dict[str, Any]
) -> Any:
    if "requestBody" in operation:
        body = resolver.deref(operation["requestBody"])
        return _json_content(body.get("content")) if isinstance(body, dict) else None
    for parameter in _parameters(resolver, item, operation):
        if parameter.get("in") == "body":
            return parameter.get("schema")
    return None


def _response_schema(
    document: dict[str, Any], resolver: Resolver, operation: dict[str, Any]
) -> Any:
    responses = operation.get("responses") or {}
    for status in ("200", "201", "202", "2XX", "default"):
        response = resolver.deref(responses.get(status) or responses.get(int(status))
                                  if status.isdigit() else responses.get(status))  # fmt: skip
        if not isinstance(response, dict):
            continue
        if "content" in response:
            return _json_content(response["content"])
        if "schema" in response:
            return response["schema"]
    return None


def _output(shapes: Shapes, schema: Any) -> dict[str, Any]:
    if schema is None:
        return {}
    flat = shapes.flatten(schema)
    if _schema_type(flat) == "array":
        items = shapes.flatten(flat.get("items", {}), flat["x-path"])
        fields = _output_fields(shapes, items, 0)
        return {"list": True, "fields": fields} if fields else {}
    fields = _output_fields(shapes, flat, 0)
    return {"fields": fields} if fields else {}


def _output_fields(shapes: Shapes, flat: dict[str, Any], depth: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if depth > 6 or _schema_type(flat) != "object":
        return fields
    for name, prop in (flat.get("properties") or {}).items():
        spec = _output_field(shapes, str(name), prop, depth, flat.get("x-path", ()))
        if spec is not None:
            fields[_unique(snake(str(name)), fields)] = spec
    return fields


def _output_field(
    shapes: Shapes, name: str, prop: Any, depth: int, path: tuple[str, ...]
) -> dict[str, Any] | None:
    flat = shapes.flatten(prop, path)
    if "x-cut" in flat:
        return None
    spec: dict[str, Any] = {"from": source_path(name)}
    kind = _schema_type(flat)
    if kind == "array":
        items = shapes.flatten(flat.get("items", {}), flat["x-path"])
        if "x-cut" in items:
            return None
        spec["list"] = True
        flat, kind = items, _schema_type(items)
    if kind == "object":
        nested = _output_fields(shapes, flat, depth + 1)
        if not nested:
            return None
        spec["fields"] = nested
    elif kind in _OUTPUT_TYPES:
        spec["type"] = _OUTPUT_TYPES[kind]
    elif flat.get("format") in _OUTPUT_FORMATS:
        spec["type"] = _OUTPUT_FORMATS[flat["format"]]
    elif kind is None and set(flat) <= {"x-path"}:
        return None
    return spec
