"""Many tools, one agent: tag scopes, tag and word filters, and pages, over REST and MCP."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from estate.server import EstateServer
from tests.integration.support import (
    ANNA,
    EstateWatch,
    bearer,
    call_as,
    create_key,
    demo_copy,
    error_of,
    gateway_client,
    run,
    serve_process,
)

CUSTOMER_TOOLS = ["get_customer", "list_customers", "search_customers", "update_customer_address"]
LEDGER_TOOLS = ["get_account", "list_postings"]


def tagged_demo(tmp_path: Path) -> Path:
    """The demo config with customer tools tagged ``customers`` and two ledger tools ``ledger``."""
    config = demo_copy(tmp_path)
    for file, tag, tools in (
        ("customers.yaml", "customers", CUSTOMER_TOOLS),
        ("ledger.yaml", "ledger_desk", LEDGER_TOOLS),
    ):
        text = (config / file).read_text()
        for tool in tools:
            text, count = re.subn(
                rf"^  {tool}:\n", f"  {tool}:\n    tags: [{tag}]\n", text, flags=re.M
            )
            assert count == 1, tool
        (config / file).write_text(text)
    return config


@pytest.fixture
def keyed_tags(estate_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(tagged_demo(tmp_path), audit_db, auth="keys") as client:
        yield client, audit_db


def listed(client: TestClient, key: str, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/tools", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_tag_scope_lists_and_calls_the_tagged_tools_only(
    keyed_tags: tuple[TestClient, Path], estate: EstateServer
) -> None:
    client, audit_db = keyed_tags
    key = create_key(audit_db, "customer-desk", "tag:customers")
    assert [t["name"] for t in listed(client, key)["tools"]] == CUSTOMER_TOOLS
    assert client.get("/v1/tools/get_customer", headers=bearer(key)).status_code == 200
    watch = EstateWatch(estate)
    answer = call_as(client, "get_customer", {"customer_number": ANNA}, key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["name"] == "MULLER, ANNA"
    watch.sole()

    watch = EstateWatch(estate)
    rate = {"from_currency": "EUR", "to_currency": "USD"}
    refused = call_as(client, "get_exchange_rate", rate, key)
    assert refused.status_code == 403
    error = error_of(refused)
    assert error["code"] == "forbidden"
    assert error["message"] == (
        "agent 'key:customer-desk' has no scope for tool 'get_exchange_rate'"
    )
    assert error["details"]["scopes"] == ["tag:customers"]
    assert watch.new() == []  # nothing reached the legacy system
    assert client.get("/v1/tools/get_account", headers=bearer(key)).status_code == 403

    globbed = create_key(audit_db, "ledger-desk", "tag:ledger_*,get_exchange_rate")
    names = [t["name"] for t in listed(client, globbed)["tools"]]
    assert names == sorted([*LEDGER_TOOLS, "get_exchange_rate"])


def test_keys_create_refuses_a_malformed_tag_scope(tmp_path: Path) -> None:
    result = run("keys", "create", "--agent", "a", "--scopes", "tag:bad/tag",
                 "--audit-db", str(tmp_path / "audit.sqlite"))  # fmt: skip
    assert result.returncode != 0
    assert "'tag:bad/tag' is not a tool name, glob, tag:NAME or scope" in result.stderr


def test_rest_listing_pages_with_limit_and_cursor(keyed_tags: tuple[TestClient, Path]) -> None:
    client, audit_db = keyed_tags
    key = create_key(audit_db, "everything", "*")
    everything = listed(client, key)
    assert everything["next_cursor"] is None
    all_names = [t["name"] for t in everything["tools"]]
    assert all_names == sorted(all_names) and len(all_names) > 10

    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = listed(client, key, **params)
        assert len(page["tools"]) <= 4
        walked += [t["name"] for t in page["tools"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == all_names

    first = listed(client, key, tag="customers", limit=3)
    assert [t["name"] for t in first["tools"]] == CUSTOMER_TOOLS[:3]
    rest = listed(client, key, tag="customers", limit=3, cursor=first["next_cursor"])
    assert [t["name"] for t in rest["tools"]] == CUSTOMER_TOOLS[3:]
    assert rest["next_cursor"] is None
    searched = listed(client, key, tag="customers", q="customer ADDRESS", limit=1)
    assert [t["name"] for t in searched["tools"]] == ["update_customer_address"]

    # A cursor belongs to its tag and words; garbage and other filters are named errors.
    for params in (
        {"cursor": first["next_cursor"]},
        {"cursor": first["next_cursor"], "tag": "ledger_desk"},
        {"cursor": "not-a-cursor"},
    ):
        response = client.get("/v1/tools", params=params, headers=bearer(key))
        assert response.status_code == 422, response.text
        error = error_of(response)
        assert error["code"] == "invalid_arguments"
        assert error["details"]["errors"][0]["field"] == "cursor"
    for limit in (0, 501):
        response = client.get("/v1/tools", params={"limit": limit}, headers=bearer(key))
        assert response.status_code == 422, response.text

    openai = client.get(
        "/v1/tools", params={"format": "openai", "tag": "customers", "limit": 2},
        headers=bearer(key),
    )  # fmt: skip
    assert [f["function"]["name"] for f in openai.json()] == CUSTOMER_TOOLS[:2]
    rest_openai = client.get(
        "/v1/tools",
        params={"format": "openai", "tag": "customers", "cursor": openai.headers["next-cursor"]},
        headers=bearer(key),
    )
    assert [f["function"]["name"] for f in rest_openai.json()] == CUSTOMER_TOOLS[2:]
    assert "next-cursor" not in rest_openai.headers


@pytest.fixture
def served_tags(estate_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    audit_db = tmp_path / "audit.sqlite"
    env = {
        "LEGACY_GATEWAY_AUTH": "keys",
        "LEGACY_GATEWAY_AUDIT_DB": str(audit_db),
        "LEGACY_GATEWAY_MCP_PAGE_SIZE": "3",
    }
    with serve_process(tagged_demo(tmp_path), env) as (base, _):
        yield base, audit_db


def mcp_run(url: str, key: str, work: Any) -> Any:
    async def run_session() -> Any:
        async with (
            httpx2.AsyncClient(headers=bearer(key), timeout=30) as http,
            streamable_http_client(url, http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(run_session())


async def walk(session: ClientSession) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        result = await session.list_tools(params=params)
        pages.append([tool.name for tool in result.tools])
        cursor = result.next_cursor
        if cursor is None:
            return pages


def test_mcp_lists_pages_filters_by_tag_and_words_and_honours_tag_scopes(
    served_tags: tuple[str, Path], estate: EstateServer
) -> None:
    base, audit_db = served_tags
    everything = create_key(audit_db, "everything", "*")
    pages = mcp_run(f"{base}/mcp", everything, walk)
    assert all(len(page) <= 3 for page in pages) and len(pages) > 3
    flat = [name for page in pages for name in page]
    assert flat == sorted(flat) and len(set(flat)) == len(flat)
    assert {*CUSTOMER_TOOLS, *LEDGER_TOOLS} <= set(flat)

    assert mcp_run(f"{base}/mcp?tag=customers", everything, walk) == [
        CUSTOMER_TOOLS[:3],
        CUSTOMER_TOOLS[3:],
    ]
    assert mcp_run(f"{base}/mcp?tag=customers&q=list", everything, walk) == [["list_customers"]]

    desk = create_key(audit_db, "customer-desk", "tag:customers")
    assert [name for page in mcp_run(f"{base}/mcp", desk, walk) for name in page] == CUSTOMER_TOOLS

    async def calls(session: ClientSession) -> tuple[Any, Any]:
        good = await session.call_tool("get_customer", {"customer_number": ANNA})
        outside = await session.call_tool("list_postings", {"account_number": "DE00000001"})
        return good, outside

    watch = EstateWatch(estate)
    good, outside = mcp_run(f"{base}/mcp", desk, calls)
    assert good.is_error is False and good.structured_content["name"] == "MULLER, ANNA"
    watch.sole()
    assert outside.is_error is True
    assert json.loads(outside.content[0].text)["error"]["code"] == "forbidden"


def test_mcp_refuses_a_cursor_from_another_listing(served_tags: tuple[str, Path]) -> None:
    base, audit_db = served_tags
    key = create_key(audit_db, "everything", "*")

    async def first_cursor(session: ClientSession) -> str | None:
        return (await session.list_tools()).next_cursor

    cursor = mcp_run(f"{base}/mcp?tag=customers", key, first_cursor)
    assert cursor is not None

    async def reuse(session: ClientSession) -> MCPError:
        with pytest.raises(MCPError) as caught:
            await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
        return caught.value

    refused = mcp_run(f"{base}/mcp?tag=ledger_desk", key, reuse)
    assert refused.code == -32602  # invalid params, as the protocol asks for a bad cursor
    assert "another tag or other words" in refused.message
