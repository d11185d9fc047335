"""The API under the console: calls listed and paged, sessions, live stats and events,
each scoped by the caller's key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.integration.support import ANNA, DEMO_CONFIG, error_of, gateway_client, serve_process
from tests.integration.test_auth import bearer, create_key


class Desk:
    def __init__(self, client: TestClient, audit_db: Path) -> None:
        self.client = client
        self.bot = create_key(audit_db, "teller-bot", "get_customer,get_exchange_rate")
        self.other = create_key(audit_db, "other-bot", "get_customer")
        self.auditor = create_key(audit_db, "auditor", "audit")

    def call(self, key: str, session: str | None = None, customer: str = ANNA) -> str:
        context = {"session_id": session, "reasoning": f"look up {customer}"} if session else {}
        response = self.client.post(
            "/v1/tools/get_customer/call",
            json={"arguments": {"customer_number": customer}, "context": context},
            headers=bearer(key),
        )
        assert response.status_code in (200, 404, 502), response.text
        call_id: str = response.json().get("call_id") or response.json()["error"]["call_id"]
        return call_id

    def get(self, path: str, key: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=bearer(key))
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def desk(estate_env: dict[str, str], tmp_path: Path) -> Iterator[Desk]:
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(DEMO_CONFIG, audit_db, auth="keys") as client:
        yield Desk(client, audit_db)


def eventually(check: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "the console never caught up"
        time.sleep(0.05)


def test_calls_are_listed_newest_first_and_an_agent_sees_only_its_own(desk: Desk) -> None:
    mine = [desk.call(desk.bot, session="s-1") for _ in range(3)]
    theirs = desk.call(desk.other)

    listed = desk.get("/v1/calls", desk.bot)["calls"]
    assert [c["call_id"] for c in listed] == mine[::-1]
    first = listed[-1]
    assert first["tool"] == "get_customer"
    assert first["backend"] == "customer_master"
    assert first["principal"] == "key:teller-bot"
    assert first["session_id"] == "s-1"
    assert first["status"] == "ok"
    assert first["duration_ms"] > 0

    everything = desk.get("/v1/calls", desk.auditor)["calls"]
    assert [c["call_id"] for c in everything] == [theirs, *mine[::-1]]
    by_agent = desk.get("/v1/calls", desk.auditor, agent="key:other-bot")["calls"]
    assert [c["call_id"] for c in by_agent] == [theirs]
    # Naming another agent does not widen an agent's view.
    assert desk.get("/v1/calls", desk.bot, agent="key:other-bot")["calls"] == []


def test_calls_filter_by_session_status_tool_and_time_and_page_by_cursor(desk: Desk) -> None:
    calls = [desk.call(desk.bot, session="paged") for _ in range(5)]
    failed = desk.call(desk.bot, session="paged", customer="12345678")
    desk.call(desk.bot, session="elsewhere")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"session": "paged", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = desk.get("/v1/calls", desk.bot, **params)
        seen += [c["call_id"] for c in page["calls"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [failed, *calls[::-1]]
    assert pages >= 3

    errors = desk.get("/v1/calls", desk.bot, status="error")["calls"]
    assert [c["call_id"] for c in errors] == [failed]
    assert errors[0]["error"] == "legacy_fault"
    assert desk.get("/v1/calls", desk.bot, tool="get_exchange_rate")["calls"] == []
    later = desk.get("/v1/calls", desk.bot, since="2999-01-01T00:00:00Z")
    assert later == {"calls": [], "next_cursor": None}
    earlier = desk.get("/v1/calls", desk.bot, until="2000-01-01T00:00:00+00:00")
    assert earlier["calls"] == []

    bad = desk.client.get("/v1/calls", params={"since": "yesterday"}, headers=bearer(desk.bot))
    assert bad.status_code == 422
    assert error_of(bad)["details"]["errors"] == [
        {"field": "since", "message": "not an ISO 8601 time"}
    ]


def test_calls_are_found_by_their_trace_id(desk: Desk) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    traced = desk.client.post(
        "/v1/tools/get_customer/call",
        json={"arguments": {"customer_number": ANNA}},
        headers={**bearer(desk.bot), "traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    ).json()["call_id"]
    desk.call(desk.bot, session="untraced")

    found = desk.get("/v1/calls", desk.bot, trace=trace.upper())["calls"]
    assert [c["call_id"] for c in found] == [traced]
    assert found[0]["trace_id"] == trace
    # Another agent's call is not found by its trace either.
    assert desk.get("/v1/calls", desk.other, trace=trace)["calls"] == []
    bad = desk.client.get("/v1/calls", params={"trace": "not-a-trace"}, headers=bearer(desk.bot))
    assert bad.status_code == 422


def test_a_session_is_its_steps_with_reasoning_interactions_and_feedback(desk: Desk) -> None:
    first = desk.call(desk.bot, session="sess-9")
    second = desk.call(desk.bot, session="sess-9", customer="12345678")
    posted = desk.client.post(f"/v1/calls/{first}/feedback", json={"score": 1, "label": "ok"},
                              headers=bearer(desk.bot))  # fmt: skip
    assert posted.status_code == 201

    def steps() -> Any:
        response = desk.client.get("/v1/sessions/sess-9", headers=bearer(desk.bot))
        return response.json()["steps"] if response.status_code == 200 else None

    found = eventually(lambda: (s := steps()) and len(s) == 2 and s)
    one, two = found
    assert [one["call_id"], two["call_id"]] == [first, second]
    assert one["reasoning"] == f"look up {ANNA}"
    assert one["arguments"] == {"customer_number": ANNA}
    assert one["status"] == "ok" and two["status"] == "error"
    assert "<ns0:CUSTNO>10000001</ns0:CUSTNO>" in one["interactions"][0]["request"]["envelope"]
    assert one["result"]["customer_number"] == ANNA
    assert one["feedback"][0]["label"] == "ok"
    assert two["error"]["code"] == "legacy_fault"

    # Another agent's session is as absent as one that never was.
    hidden = desk.client.get("/v1/sessions/sess-9", headers=bearer(desk.other))
    assert hidden.status_code == 404
    assert error_of(hidden)["code"] == "call_not_found"
    assert desk.get("/v1/sessions/sess-9", desk.auditor)["steps"][0]["call_id"] == first


def test_a_session_the_console_no_longer_keeps_is_read_from_the_log(desk: Desk) -> None:
    console = desk.client.app.state.console  # type: ignore[attr-defined]
    console.sessions_bytes = 1  # only the newest session is kept
    early = [desk.call(desk.bot, session="early"), desk.call(desk.bot, session="early")]
    desk.call(desk.other, session="early")  # another agent's, with the same session id
    late = desk.call(desk.bot, session="late")
    eventually(lambda: console.session_calls("late") == [late])
    assert console.session_calls("early") == []

    steps = desk.get("/v1/sessions/early", desk.bot)["steps"]
    assert [step["call_id"] for step in steps] == early
    assert steps[0]["reasoning"] == f"look up {ANNA}"
    assert len(desk.get("/v1/sessions/early", desk.auditor)["steps"]) == 3
    missing = desk.client.get("/v1/sessions/never", headers=bearer(desk.bot))
    assert missing.status_code == 404


def test_stats_are_windowed_aggregates_and_scoped(desk: Desk) -> None:
    for _ in range(4):
        desk.call(desk.bot)
    desk.call(desk.other, customer="12345678")

    def stats() -> Any:
        body = desk.get("/v1/stats", desk.auditor, minutes=15)
        tool = body["tool"].get("get_customer")
        return body if tool and tool["calls"] == 5 else None

    body = eventually(stats)
    tool = body["tool"]["get_customer"]
    assert tool["errors"] == 1
    assert tool["errors_by_code"] == {"legacy_fault": 1}
    assert tool["error_rate"] == 0.2
    assert 0 < tool["p50_ms"] <= tool["p95_ms"] <= tool["p99_ms"]
    assert len(tool["per_minute"]) == 15
    assert sum(point[1] for point in tool["per_minute"]) == 5
    assert body["backend"]["customer_master"]["calls"] == 5
    assert body["legacy"]["customer_master"]["calls"] >= 5
    assert set(body["agent"]) == {"key:teller-bot", "key:other-bot"}
    assert body["window_minutes"] == 15
    assert body["alerts"] == [] or all("message" in a for a in body["alerts"])

    assert (tool["rate_limited"], tool["circuit_open"], tool["truncated"]) == (0, 0, 0)
    assert body["backend"]["customer_master"]["breaker"] == {"state": "closed"}
    flows = {(f["agent"], f["tool"], f["backend"]): f for f in body["flows"]}
    assert flows[("key:teller-bot", "get_customer", "customer_master")]["calls"] == 4
    assert flows[("key:other-bot", "get_customer", "customer_master")]["error_share"] == 1.0

    own = desk.get("/v1/stats", desk.bot, minutes=15)
    assert set(own) == {"agent", "flows", "window_minutes"}
    assert [f["agent"] for f in own["flows"]] == ["key:teller-bot"]
    assert set(own["agent"]) == {"key:teller-bot"}
    assert own["agent"]["key:teller-bot"]["calls"] == 4


def test_the_new_routes_refuse_strangers(desk: Desk) -> None:
    for path in ("/v1/calls", "/v1/sessions/x", "/v1/stats", "/v1/events"):
        response = desk.client.get(path)
        assert response.status_code == 401, path
        assert error_of(response)["code"] == "unauthorized"


def test_the_openapi_document_describes_the_new_routes(desk: Desk) -> None:
    paths = desk.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/calls", "/v1/sessions/{session_id}", "/v1/stats", "/v1/events"):
        assert "get" in paths[path], path
    params = {p["name"] for p in paths["/v1/calls"]["get"]["parameters"]}
    assert {"session", "agent", "tool", "status", "since", "until", "cursor", "limit"} <= params
    events = paths["/v1/events"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in events
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
    mcp = paths["/mcp"]["post"]
    assert "tools/call" in mcp["description"]
    assert "text/event-stream" in mcp["responses"]["200"]["content"]
    overview = paths["/v1/audit/overview"]["get"]
    assert "audit" in overview["description"]
    assert {p["name"] for p in overview["parameters"]} == {"versions"}


def read_events(response: httpx.Response, wanted: int) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    kind = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((kind, line.removeprefix("data: ")))
            if len(events) >= wanted:
                break
    return events


def test_events_stream_call_outcomes_live_over_http(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**estate_env, "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "audit.sqlite")}
    with (
        serve_process(DEMO_CONFIG, env) as (base, _),
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/events") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = {"arguments": {"customer_number": ANNA}, "context": {"session_id": "live"}}
        answer = client.post("/v1/tools/get_customer/call", json=body)
        assert answer.status_code == 200
        (hello, (kind, data)) = read_events(stream, 2)
    assert hello[0] == "hello"
    assert kind == "call"
    event = httpx.Response(200, content=data).json()
    assert event["call_id"] == answer.json()["call_id"]
    assert event["status"] == "ok"
    assert event["tool"] == "get_customer"
    assert event["session_id"] == "live"
    assert event["duration_ms"] > 0
