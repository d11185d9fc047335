"""``/mcp`` loads the MCP SDK with the first request that needs it, once, and not at start-up
(nor does the app import the alert webhook's HTTP client before an alert is posted)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gateway.api import mcp_endpoint
from tests.unit.api.fake_gateway import FakeGateway, demo_tools, serve

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}}
MCP_HEADERS = {"accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-06-18"}  # fmt: skip


def test_building_the_app_imports_neither_the_sdk_nor_the_webhooks_http_client() -> None:
    script = (
        "import sys\n"
        "from gateway.api.app import create_app\n"
        "create_app(lambda: None)\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('mcp', 'mcp_types', 'httpx')))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    assert loaded == "[]"


def test_the_first_authenticated_requests_start_one_session_manager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[Any] = []
    real = mcp_endpoint._server_class

    def counted() -> Any:
        loads.append(1)
        return real()

    monkeypatch.setattr(mcp_endpoint, "_server_class", counted)
    gateway = FakeGateway(demo_tools(), mode="keys")
    key = gateway.keys.add("agent", "*")
    with serve(gateway) as client:
        endpoint = client.app.mcp  # type: ignore[attr-defined]
        refused = client.post("/mcp", json=PING, headers=MCP_HEADERS)
        assert refused.status_code == 401
        assert not endpoint.started and loads == []

        headers = {**MCP_HEADERS, "authorization": f"Bearer {key}"}
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.post("/mcp", json=PING, headers=headers),
                                    range(8)))  # fmt: skip
        assert [a.status_code for a in answers] == [200] * 8
        assert {a.json()["result"] == {} for a in answers} == {True}
        assert endpoint.started and loads == [1]
        running = endpoint._running
    assert running is not None and running.done() and running.exception() is None


def test_a_failed_load_is_an_error_for_its_request_and_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = mcp_endpoint._server_class
    attempts: list[int] = []

    def flaky() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ImportError("cannot import name 'Server' from 'mcp.server.lowlevel.server'")
        return real()

    monkeypatch.setattr(mcp_endpoint, "_server_class", flaky)
    gateway = FakeGateway(demo_tools(), mode="keys")
    headers = {**MCP_HEADERS, "authorization": f"Bearer {gateway.keys.add('agent', '*')}"}
    with serve(gateway, raise_server_exceptions=False) as client:
        first = client.post("/mcp", json=PING, headers=headers)
        second = client.post("/mcp", json=PING, headers=headers)
    assert first.status_code == 500
    assert first.json()["error"]["code"] == "dependency_missing"
    assert first.json()["error"]["message"] == (
        "the MCP SDK cannot be loaded: "
        "cannot import name 'Server' from 'mcp.server.lowlevel.server'"
    )
    assert second.status_code == 200 and second.json()["result"] == {}
    assert attempts == [1, 1]
