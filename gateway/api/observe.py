"""What the console and agents watch: ``/v1/calls``, ``/v1/sessions/{id}``, ``/v1/stats``
and ``/v1/events``. Scoped by the caller's key: an agent sees its own calls, the ``audit``
scope sees all.

``/v1/calls`` reads the log itself, newest first, so it pages through any age; the others
come from the console's live state (``gateway.console``), which tails the log (a session it
no longer keeps is read from the log too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.audit.records import StoredRecord, decode
from gateway.audit.store import AuditStore
from gateway.audit.views import call_view
from gateway.console.live import MAX_SESSION_CALLS, STARTS, Console
from gateway.console.stats import GROUPS, MINUTES
from gateway.errors import CallNotFound, GatewayError, InvalidArguments
from gateway.policy.auth import Principal

router = APIRouter(prefix="/v1")

CHUNK = 500
SCAN_BUDGET = 20_000  # records one page may read before it answers with what it found
SESSION_SCAN_PAGES = 25  # a session the console no longer keeps: its last 500,000 records


class ConsoleUnavailable(GatewayError):
    status = 503
    code = "console_unavailable"
    retryable = True


def console_of(request: Request) -> Console:
    console: Console | None = getattr(request.app.state, "console", None)
    if console is None:
        raise ConsoleUnavailable("this gateway keeps no live console state")
    return console


def _time(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArguments([{"field": field, "message": "not an ISO 8601 time"}]) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="microseconds")


def summary(view: dict[str, Any]) -> dict[str, Any]:
    context = view.get("context") if isinstance(view.get("context"), dict) else {}
    error = view.get("error") if isinstance(view.get("error"), dict) else None
    return {
        "call_id": view["call_id"],
        "tool": view.get("tool"),
        "backend": view.get("backend"),
        "effect": view.get("effect"),
        "principal": view.get("principal"),
        "session_id": (context or {}).get("session_id"),
        "trace_id": view.get("trace_id"),
        "status": view.get("status"),
        "error": error.get("code") if error else None,
        "started_at": view.get("started_at"),
        "finished_at": view.get("finished_at"),
        "duration_ms": view.get("duration_ms"),
    }


class CallFilter:
    def __init__(self, caller: Principal, session: str | None, agent: str | None,
                 tool: str | None, since: str | None,
                 trace: str | None = None) -> None:  # fmt: skip
        self.caller, self.session, self.agent, self.tool, self.since = (
            caller, session, agent, tool, since
        )  # fmt: skip
        self.trace = trace.lower() if trace else None

    def matches(self, record: StoredRecord) -> bool:
        if record.kind not in STARTS or record.call_id is None:
            return False
        body = record.body
        if record.kind == "call.intent" and "approval" in body:
            return False  # an approved call started at its approval request
        principal = record.context.principal or body.get("principal")
        if not (self.caller.has("audit") or self.caller.owns(principal)):
            return False
        if self.agent is not None and principal != self.agent:
            return False
        if self.tool is not None and body.get("tool") != self.tool:
            return False
        if (
            self.trace is not None
            and (record.context.trace_id or body.get("trace_id")) != self.trace
        ):
            return False
        if self.session is not None:
            context = body.get("context")
            if not isinstance(context, dict) or context.get("session_id") != self.session:
                return False
        return True


def scan_calls(store: AuditStore, wanted: CallFilter, status: str | None, until: str | None,
               before: int | None, limit: int) -> dict[str, Any]:  # fmt: skip
    """Calls newest first, from record ``before`` down; ``next_cursor`` continues the scan
    where this page stopped (at ``limit`` calls or after ``SCAN_BUDGET`` records)."""
    first = store.first_index()
    position = store.count() if before is None else min(before, store.count())
    calls: list[dict[str, Any]] = []
    scanned = 0
    while position > first and len(calls) < limit and scanned < SCAN_BUDGET:
        rows = store.read(max(first, position - CHUNK), position)
        for index, data in reversed(rows):
            position = index
            scanned += 1
            record = decode(data)
            if wanted.since is not None and record.at < wanted.since:
                return {"calls": calls, "next_cursor": None}
            if until is not None and record.at >= until:
                continue
            if not wanted.matches(record):
                continue
            view = summary(call_view(str(record.call_id), store.records_of(str(record.call_id))))
            if status is not None and view["status"] != status:
                continue
            calls.append(view)
            if len(calls) >= limit:
                break
        if not rows:
            position = first
    return {"calls": calls, "next_cursor": str(position) if position > first else None}


@router.get("/calls")
async def list_calls(
    request: Request,
    session: str | None = Query(None, max_length=200, description="context.session_id"),
    agent: str | None = Query(None, max_length=400, description="The principal, e.g. key:bot"),
    tool: str | None = Query(None, max_length=200),
    status: str | None = Query(
        None, max_length=40, description="ok, error, pending, awaiting_approval, rejected..."
    ),
    since: str | None = Query(None, max_length=40, description="ISO time, included"),
    until: str | None = Query(None, max_length=40, description="ISO time, excluded"),
    trace: str | None = Query(
        None, pattern="^[0-9a-fA-F]{32}$", description="The W3C trace id of the calls"
    ),
    cursor: str | None = Query(None, max_length=20, description="next_cursor of a page"),
    limit: int = Query(50, ge=1, le=200),
) -> JSON:
    """Calls, newest first, with cursor paging; an agent's own, or all with ``audit``."""
    caller = caller_of(request)
    before = None
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidArguments([{"field": "cursor", "message": "not a cursor of this API"}])
        before = int(cursor)
    wanted = CallFilter(caller, session, agent, tool, _time(since, "since"), trace)
    page = await asyncio.to_thread(
        scan_calls, gateway_of(request).store, wanted, status, _time(until, "until"), before,
        limit,
    )  # fmt: skip
    return JSON(page)


def _step(view: dict[str, Any]) -> dict[str, Any]:
    context = view.get("context") if isinstance(view.get("context"), dict) else {}
    keys = ("call_id", "tool", "backend", "arguments", "interactions", "result", "error",
            "status", "started_at", "finished_at", "duration_ms", "feedback", "approval",
            "trace_id", "principal")  # fmt: skip
    step = {key: view.get(key) for key in keys}
    step["reasoning"] = (context or {}).get("reasoning")
    step["context"] = context
    return step


def session_from_store(store: AuditStore, caller: Principal, session_id: str) -> list[str]:
    """The calls of a session the console no longer keeps, oldest first: the log read
    backwards like ``/v1/calls?session=``, up to ``SESSION_SCAN_PAGES`` pages."""
    wanted = CallFilter(caller, session_id, None, None, None)
    found: list[str] = []
    before: int | None = None
    for _ in range(SESSION_SCAN_PAGES):
        page = scan_calls(store, wanted, None, None, before, MAX_SESSION_CALLS - len(found))
        found += [call["call_id"] for call in page["calls"]]
        if page["next_cursor"] is None or len(found) >= MAX_SESSION_CALLS:
            break
        before = int(page["next_cursor"])
    return list(reversed(found))


@router.get("/sessions/{session_id}")
async def session(session_id: str, request: Request) -> JSON:
    """An agent session (``context.session_id``) as its steps in order: reasoning, tool and
    arguments, each legacy interaction, the result, timing and feedback."""
    caller, store = caller_of(request), gateway_of(request).store
    call_ids = console_of(request).session_calls(session_id)

    def steps() -> list[dict[str, Any]]:
        found = []
        for call_id in call_ids or session_from_store(store, caller, session_id):
            records = store.records_of(call_id)
            if records and (caller.has("audit") or caller.owns(records[0].context.principal)):
                found.append(_step(call_view(call_id, records)))
        return found

    found = await asyncio.to_thread(steps)
    if not found:
        raise CallNotFound(f"no session with id '{session_id}'")
    return JSON({"session_id": session_id, "steps": found})


Group = Literal["tool", "backend", "agent", "legacy"]


@router.get("/stats")
async def stats(
    request: Request,
    minutes: int = Query(60, ge=1, le=MINUTES, description="The window, up to a day"),
    group: Annotated[list[Group] | None, Query(description="tool, backend, agent, legacy")] = None,
    sparkline: bool = Query(True, description="Per-minute points of the window"),
) -> JSON:
    """Aggregates per tool, backend, agent and legacy backend: calls, calls/s, p50/p95/p99,
    error rate and errors by code (tools and backends also: ``rate_limited``,
    ``circuit_open``, ``truncated``, ``in_flight``; backends their ``breaker`` state);
    ``flows``: calls and error share per agent, tool and backend; ``feedback``: each tool's
    mean score over the window and per minute. With ``audit``, of everyone, else of the
    caller's own calls (its agent series and flows)."""
    caller = caller_of(request)
    console = console_of(request)
    if caller.has("audit"):
        chosen = tuple(group or GROUPS)
        body = console.snapshot(minutes, chosen, None, sparkline)
        body["alerts"] = console.alerts()
        body["flows"] = console.flows(minutes)
        body["feedback"] = console.feedback(minutes)
    else:
        body = console.snapshot(minutes, ("agent",), caller.name, sparkline)
        body["flows"] = console.flows(minutes, caller.name)
    body["window_minutes"] = minutes
    return JSON(body)


@router.get("/events", response_class=StreamingResponse)
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: ``call`` (each outcome), ``approval``, ``feedback`` and, for the
    ``audit`` scope, ``alert``; a caller sees events of its own calls."""
    caller = caller_of(request)
    console = console_of(request)
    stream = console.hub.stream(caller, hello={"alerts": console.alerts()
                                               if caller.has("audit") else []})  # fmt: skip
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
