"""``/v1/tools``: listing tools and calling them."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.errors import InvalidArguments, RequestTooLarge
from gateway.limits import limits
from gateway.listing import MAX_CURSOR, MAX_PAGE, ToolQuery, page_of
from gateway.mapping.limits import recordable
from gateway.policy.auth import Principal
from gateway.runtime import Gateway
from gateway.tools import Tool

router = APIRouter(prefix="/v1")

MAX_CONTEXT_BYTES = 16 * 1024


class CallContextIn(BaseModel):
    """What the agent wants on the record next to the call."""

    model_config = ConfigDict(extra="allow", strict=True)
    session_id: str | None = None
    reasoning: str | None = None
    step: int | str | None = None
    on_behalf_of: str | None = None


class CallRequest(BaseModel):
    # Strict: "dry_run": "yes" or 1 is a mistake to name, not a flag to guess.
    model_config = ConfigDict(extra="forbid", strict=True)
    arguments: dict[str, Any] = Field(default_factory=dict)
    context: CallContextIn = Field(default_factory=CallContextIn)
    dry_run: bool = False
    cursor: str | None = Field(
        None, max_length=512, description="next_cursor of a truncated answer: the next page."
    )


@router.get("/tools")
async def list_tools(
    request: Request,
    format: Literal["json", "openai"] = Query("json"),
    tag: str | None = Query(None, description="Only tools carrying this tag."),
    q: str | None = Query(
        None,
        max_length=200,
        description="Words every listed tool's name, description or tags contain.",
    ),
    limit: int | None = Query(
        None, ge=1, le=MAX_PAGE, description="At most this many tools (in name order)."
    ),
    cursor: str | None = Query(
        None,
        max_length=MAX_CURSOR,
        description="next_cursor of the previous page; the same tag and q as that page.",
    ),
    session_id: str | None = Query(
        None,
        max_length=200,
        description="The context.session_id the agent's calls send: a tool whose variants "
        "are sticky per session is listed as that session's variant.",
    ),
) -> JSON:
    gateway = gateway_of(request)
    visible = gateway.visible_tools(caller_of(request), _session(session_id))
    page = page_of(visible, ToolQuery(tag, q), limit, cursor)
    if format == "openai":
        # A bare list of functions has no room for the cursor: it travels in a header.
        headers = {"Next-Cursor": page.next_cursor} if page.next_cursor else None
        return JSON([tool.openai() for tool in page.tools], headers=headers)
    return JSON(
        {
            "config_version": gateway.config.version,
            "tools": [tool.listing for tool in page.tools],
            "next_cursor": page.next_cursor,
        }
    )


@router.get("/tools/{name}")
async def get_tool(
    name: str,
    request: Request,
    session_id: str | None = Query(
        None, max_length=200, description="As for the listing: that session's variant."
    ),
) -> JSON:
    tool = gateway_of(request).visible_tool(name, caller_of(request), _session(session_id))
    return JSON(tool.listing)


def _session(session_id: str | None) -> dict[str, Any] | None:
    return {"session_id": session_id} if session_id else None


@router.post(
    "/tools/{name}/call",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CallRequest.model_json_schema()}},
        }
    },
)
async def call_tool(
    name: str,
    request: Request,
    traceparent: str | None = Header(None),
    idempotency_key: str | None = Header(
        None,
        description="A repeat with the same key gets the first call's answer; nothing is "
        "sent to the legacy system again. Queue tools send it as the message id.",
    ),
) -> JSON:
    body = await request.body()
    gateway = gateway_of(request)
    caller = caller_of(request)
    answer = await handle_call(gateway, name, body, traceparent, idempotency_key, caller)
    return JSON(answer, status_code=status_of(answer))


def check_context(context: dict[str, Any]) -> None:
    """The context goes on the record: 16 KiB at most. An integer past 64 bits is refused
    (and recorded) by the call itself; it is measured here by its digits, since no 64-bit
    JSON encoder takes it."""
    if len(orjson.dumps(recordable(context))) > MAX_CONTEXT_BYTES:
        raise InvalidArguments(
            [{"field": "context", "message": f"larger than {MAX_CONTEXT_BYTES} bytes"}]
        )


def check_cursor(tool: Tool, cursor: str | None) -> None:
    """A cursor only means something to a read whose answers come in pages."""
    if cursor is not None and not (tool.adapter.pages and tool.config.effect == "read"):
        raise InvalidArguments(
            [{"field": "cursor", "message": f"tool '{tool.name}' does not page its answers"}]
        )


def status_of(answer: dict[str, Any]) -> int:
    """202 for a call still waiting (for a queue's reply, or a person's approval), else 200."""
    return 202 if answer.get("status") in ("pending", "awaiting_approval") else 200


async def handle_call(
    gateway: Gateway,
    name: str,
    body: bytes,
    traceparent: str | None,
    idempotency_key: str | None = None,
    caller: Principal | None = None,
    body_cap: int | None = None,
) -> dict[str, Any]:
    """One tool call from its raw request body; shared by the route and ``FastCallPath``
    (which read the body cap, ``body_cap``, already)."""
    tool = gateway.tool(name)  # an unknown tool is a 404 before the body is judged
    cap = limits().body if body_cap is None else body_cap
    if len(body) > cap:
        raise RequestTooLarge(f"the request body is larger than {cap} bytes")
    try:
        call = CallRequest.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise InvalidArguments(
            [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
        ) from None
    context = call.context.model_dump(exclude_none=True)
    check_context(context)
    check_cursor(tool, call.cursor)
    result = await gateway.call(
        name,
        call.arguments,
        context,
        traceparent=traceparent,
        dry_run=call.dry_run,
        cursor=call.cursor,
        idempotency_key=idempotency_key,
        caller=caller,
    )
    return result.as_dict()
