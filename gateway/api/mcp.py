"""The same tools over MCP (streamable HTTP at ``/mcp``), with the official MCP Python SDK.

``tools/list`` shows the tools the caller's API key may call, each with its input and output
schema and the hints its declaration implies (``readOnlyHint`` for reads, ``destructiveHint``
for writes, ``idempotentHint`` from ``idempotent``). ``tools/call`` goes through the very
same ``Gateway.call`` as REST: validation, scopes, mapping, audit record. A result comes
back as structured content (and as JSON text for clients that read only text); an error is
an MCP tool error (``isError``) whose text content is the gateway's error object, code
included, and which has no structured content: clients validate structured content against
the tool's output schema, and an error is not a result, so a strict client would report a
schema mismatch instead of the error. The call id, trace id and receipt travel in ``_meta``.

``tools/list`` pages with the protocol's cursor, in name order: 100 tools a page, or
``LEGACY_GATEWAY_MCP_PAGE_SIZE`` (1 to 500).
An agent meant for part of a large catalogue connects to ``/mcp?tag=billing`` (or
``/mcp?q=invoice``, or both): its ``tools/list`` then shows only the tools carrying that tag
and containing those words. The query narrows the listing only; what a key may call is
what its scopes say.

A request's ``_meta`` is the agent's context: on ``tools/call`` it is recorded with the call,
and its ``session_id`` (on ``tools/list`` too) picks the variant of a tool sticky per
session, so that a session is listed as the variant its calls run.

The endpoint is stateless (a fresh transport per request, JSON responses): any replica can
answer any request, and the API key is checked on every one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from mcp import types
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from starlette.types import Receive, Scope, Send

from gateway.api.mcp_endpoint import page_size
from gateway.api.tools import check_context
from gateway.errors import GatewayError
from gateway.listing import ToolQuery, page_of
from gateway.policy.auth import Principal
from gateway.runtime import Gateway
from gateway.tools import Tool

MAX_QUERY = 200
_SCHEMA_KEYS = ("$schema", "examples")


#: What a submitted call answers at once; its outcome is read from ``poll`` later.
PENDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The request is handed over to the legacy host; the call is pending. "
    "GET poll (the call's record) shows the outcome when the host has answered.",
    "properties": {
        "poll": {"type": "string", "description": "Path of the call's record."},
        "message_id": {"type": "string"},
        "correlation_id": {"type": "string"},
    },
    "required": ["poll"],
}


#: What a write that needs a person's approval answers at once: nothing has run yet.
APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The write waits for a person holding the approve scope; nothing has run. "
    "Its outcome is on the call's record once it is approved (or rejected, or expired).",
    "properties": {
        "approval_id": {"type": "string"},
        "preview": {"type": "object", "description": "Exactly what will be sent on approval."},
        "expires_at": {"type": "string", "description": "When the request lapses (ISO 8601)."},
        "decide": {"type": "string", "description": "Where a person approves or rejects it."},
    },
    "required": ["approval_id", "preview", "expires_at", "decide"],
}


def mcp_tool(tool: Tool) -> types.Tool:
    write = tool.config.effect == "write"
    # Over MCP a submitting tool always answers "pending"; its schema says exactly that.
    submits = tool.adapter.submits(tool.prepared)
    # Likewise a write that needs approval always answers "awaiting_approval" (MCP has no
    # dry run), so that answer is its schema.
    output_schema = _object_schema(tool.output_schema)
    if tool.config.approval == "required":
        output_schema = APPROVAL_SCHEMA
    return types.Tool(
        name=tool.name,
        description=tool.config.description,
        input_schema={k: v for k, v in tool.input_schema.items() if k not in _SCHEMA_KEYS},
        output_schema=PENDING_SCHEMA if submits else output_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=not write,
            destructive_hint=write,
            idempotent_hint=tool.config.is_idempotent,
            open_world_hint=False,
        ),
    )


def _object_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """MCP clients validate structured results against it; only object schemas qualify."""
    if schema.get("type") != "object":
        return None
    return {k: v for k, v in schema.items() if k not in _SCHEMA_KEYS}


def _query_of(ctx: Any) -> ToolQuery:
    """``?tag=`` and ``?q=`` of the endpoint's URL, as the client was configured with it."""
    request = ctx.request
    params = request.query_params if request is not None else {}
    tag, q = params.get("tag") or None, params.get("q") or None
    if q is not None and len(q) > MAX_QUERY:
        raise MCPError(INVALID_PARAMS, f"the q parameter is longer than {MAX_QUERY} characters")
    return ToolQuery(tag, q)


def _meta_of(ctx: Any) -> dict[str, Any]:
    """The request's ``_meta`` (where an agent sends its session id and other context)."""
    meta = ctx.meta
    if isinstance(meta, Mapping):  # the SDK's RequestParamsMeta is a TypedDict
        return {key: value for key, value in meta.items() if value is not None}
    if meta is not None and hasattr(meta, "model_dump"):
        dumped: dict[str, Any] = meta.model_dump(exclude_none=True)
        return dumped
    return {}


def _text(value: Any) -> list[types.TextContent]:
    return [types.TextContent(type="text", text=orjson.dumps(value, default=str).decode())]


class McpServer:
    """The SDK's server and its stateless session manager, answering with the gateway's tools
    (``McpEndpoint`` checks the API key before a request reaches it)."""

    def __init__(self, gateway_of: Callable[[], Gateway]) -> None:
        self._gateway_of = gateway_of
        self.server: Server[Any] = Server(
            "legacy-gateway",
            version="1",
            instructions="Legacy systems (SOAP, ODBC, queues) as typed, recorded tools.",
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self.manager = StreamableHTTPSessionManager(
            self.server,
            json_response=True,
            stateless=True,
            # API keys guard the endpoint; browsers' DNS rebinding cannot bring one along.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    async def handle_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)

    def _caller(self, ctx: Any) -> tuple[Gateway, Principal, Any]:
        gateway = self._gateway_of()
        request = ctx.request
        headers = request.headers if request is not None else {}
        return gateway, gateway.auth.principal(headers.get("authorization")), headers

    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        gateway, caller, _ = self._caller(ctx)
        cursor = getattr(params, "cursor", None)
        # The request's _meta.session_id, as a call sends it: the listing shows the variant
        # that session's calls run.
        session = _meta_of(ctx).get("session_id")
        context = {"session_id": session} if isinstance(session, str | int) else None
        try:
            visible = gateway.visible_tools(caller, context)
            page = page_of(visible, _query_of(ctx), page_size(), cursor)
        except GatewayError as exc:
            raise MCPError(INVALID_PARAMS, str(exc), exc.to_dict()) from None
        return types.ListToolsResult(
            tools=[mcp_tool(t) for t in page.tools], next_cursor=page.next_cursor
        )

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        gateway, caller, headers = self._caller(ctx)
        context: dict[str, Any] = {"transport": "mcp"}
        context.update({k: v for k, v in _meta_of(ctx).items() if isinstance(v, str | int | float)})
        try:
            check_context(context)
            result = await gateway.call(
                params.name,
                dict(params.arguments or {}),
                context,
                traceparent=headers.get("traceparent"),
                idempotency_key=headers.get("idempotency-key"),
                caller=caller,
            )
        except GatewayError as exc:
            failed: dict[str, Any] = {"legacy_gateway": {"call_id": exc.call_id, "code": exc.code}}
            return types.CallToolResult(
                content=_text({"error": exc.to_dict()}), is_error=True, _meta=failed
            )
        meta: dict[str, Any] = {
            "legacy_gateway": {
                "call_id": result.call_id,
                "trace_id": result.trace_id,
                "status": result.status,
                "receipt": result.receipt,
                "replayed": result.replayed,
            }
        }
        structured = result.result if isinstance(result.result, dict) else {"result": result.result}
        return types.CallToolResult(
            content=_text(result.result), structured_content=structured, _meta=meta
        )
