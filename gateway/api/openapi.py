"""The OpenAPI document: answers as they really are, and the one error shape everywhere.

Routes answer with the gateway's own JSON response class, which FastAPI cannot describe, and
every error is ``{"error": {...}}`` rather than FastAPI's validation format; this fills both
in, so clients (and the fuzzing in CI) can hold the gateway to its document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "retryable", "call_id", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "retryable": {"type": "boolean"},
                "call_id": {"type": ["string", "null"]},
                "details": {"type": "object"},
            },
        }
    },
}
CALL_ANSWER = {
    "type": "object",
    "required": ["call_id", "trace_id", "status", "result", "receipt"],
    "properties": {
        "call_id": {"type": "string"},
        "trace_id": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "pending", "awaiting_approval"]},
        "result": {},
        "receipt": {"type": "object"},
        "replayed": {"type": "boolean"},
    },
}
ERROR_STATUSES = {
    "401": "No API key, an unknown or revoked one, or a malformed Authorization header",
    "403": "The key's scopes do not cover it",
    "404": "No such tool, call, approval or endpoint",
    "409": "A conflict: a key in use, a decision already made, a write the database refused",
    "410": "An approval that expired",
    "413": "The request body (or feedback) is too large",
    "414": "The path and query are too long",
    "422": "Invalid arguments or body; details.errors names each field",
    "429": "Calling this backend too fast",
    "431": "The request headers are too large",
    "500": "A configuration or internal error",
    "502": "The legacy system failed, or answered what cannot be mapped",
    "503": "The legacy system or the audit log is unavailable; retryable",
    "504": "No answer from the legacy system in time; retryable",
}


ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# Served outside FastAPI's routing (the MCP SDK's app; the Prometheus exposition), so
# described here by hand: what a person reading /docs needs to find them.
OUTSIDE_ROUTES: dict[str, Any] = {
    "/mcp": {
        "post": {
            "tags": ["mcp"],
            "summary": "The tools over MCP (streamable HTTP, stateless)",
            "description": (
                "JSON-RPC 2.0 messages of the Model Context Protocol: `initialize`, "
                "`tools/list` (paged by `cursor`; `?tag=` and `?q=` narrow the catalogue) and "
                "`tools/call`, which runs through the same path as REST. Send `Accept: "
                "application/json, text/event-stream` and the same `Authorization` header "
                "as REST; an error is a tool error (`isError`) carrying the gateway's error."
            ),
            "parameters": [
                {"name": "tag", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": {
                    "description": "A JSON-RPC response (or a stream of them)",
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "202": {"description": "A notification, accepted"},
            },
        }
    },
    "/metrics": {
        "get": {
            "tags": ["metrics"],
            "summary": "Prometheus metrics",
            "description": (
                "The Prometheus text exposition: calls by tool and outcome, legacy "
                "interactions by backend, their durations, the log's checkpointed size and "
                "the console's anomalies (`legacy_gateway_anomaly`). With keys checked it "
                "needs a key with the `metrics` scope; in open mode, none."
            ),
            "responses": {
                "200": {
                    "description": "Metrics in the Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": {"description": "No API key (keys checked)", "content": ERROR_JSON},
                "403": {"description": "The key lacks the metrics scope", "content": ERROR_JSON},
            },
        }
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status, response in list(responses.items()):
                    if status.startswith("2") and "content" in response:
                        response["content"] = _json({"type": ["object", "array"]})
                if path == "/v1/audit/export":
                    responses["200"] = {
                        "description": "The bundle, as a gzipped tar archive",
                        "content": {"application/gzip": {"schema": {"type": "string",
                                                                    "format": "binary"}}},
                    }  # fmt: skip
                if path == "/v1/events":
                    responses["200"] = {
                        "description": "Server-sent events (call, approval, feedback, alert)",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                if path == "/v1/tools/{name}/call" and method == "post":
                    responses["200"] = {"description": "Answered", "content": _json(CALL_ANSWER)}
                    responses["202"] = {
                        "description": "Waiting: for a queue's reply, or a person's approval",
                        "content": _json(CALL_ANSWER),
                    }
                for status, description in ERROR_STATUSES.items():
                    responses[status] = {
                        "description": description,
                        "content": _json({"$ref": "#/components/schemas/Error"}),
                    }
        document["paths"].update(OUTSIDE_ROUTES)
        schemas = document["components"]["schemas"]
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
