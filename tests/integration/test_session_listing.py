"""A tool whose variants are sticky per session is listed, over REST and MCP, as the variant
the session's calls run, whatever the agent's own variant is."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gateway.experiments.split import choose
from tests.integration.support import DEMO_CONFIG, gateway_client, gateway_of

TOOL = "get_exchange_rate"


def description_of(listing: list[dict[str, Any]]) -> str:
    text: str = {entry["name"]: entry for entry in listing}[TOOL]["description"]
    return text


def mcp(client: TestClient, method: str, params: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        headers={"accept": "application/json, text/event-stream",
                 "mcp-protocol-version": "2025-06-18"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def mcp_listing(client: TestClient, meta: dict[str, Any] | None) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = mcp(client, "tools/list", {"_meta": meta} if meta else {})[
        "tools"
    ]
    return tools


def test_a_sessions_listing_shows_the_variant_its_calls_run(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = shutil.copytree(DEMO_CONFIG, tmp_path / "config")
    rates = config / "rates.yaml"
    rates.write_text(rates.read_text().replace("sticky: agent", "sticky: session"))
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        tool = gateway_of(client).tools[TOOL]
        agent = choose(TOOL, tool.config, "agent:anonymous")
        other = "baseline" if agent != "baseline" else "explicit_codes"
        session = next(f"s-{n}" for n in range(1000)
                       if choose(TOOL, tool.config, f"session:s-{n}") == other)  # fmt: skip
        expected = (tool if other == "baseline" else tool.variants[other]).config.description

        listed = client.get("/v1/tools", params={"session_id": session}).json()["tools"]
        assert description_of(listed) == expected
        one = client.get(f"/v1/tools/{TOOL}", params={"session_id": session}).json()
        assert one["description"] == expected
        assert description_of(mcp_listing(client, {"session_id": session})) == expected
        # Without a session, the agent's own variant, as for its calls without one.
        assert description_of(client.get("/v1/tools").json()["tools"]) != expected
        assert description_of(mcp_listing(client, None)) != expected

        called = client.post(
            f"/v1/tools/{TOOL}/call",
            json={"arguments": {"from_currency": "EUR", "to_currency": "USD"},
                  "context": {"session_id": session}},
        )  # fmt: skip
        assert called.status_code == 200, called.text
        # Over MCP the call sends its session in _meta, as the listing did.
        arguments = {"from_currency": "GBP", "to_currency": "CHF"}
        answer = mcp(client, "tools/call", {"name": TOOL, "arguments": arguments,
                                            "_meta": {"session_id": session}})  # fmt: skip
        assert answer.get("isError") is not True, answer
        rest, over_mcp = gateway_of(client).store.records_of_kind("call.intent")
        assert rest.body["variant"] == over_mcp.body["variant"] == other
        assert over_mcp.body["context"]["session_id"] == session
