"""MCP at /mcp, driven by the official MCP Python SDK client against `legacy-gateway serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client.session import ClientSession

from estate.server import EstateServer
from tests.integration.support import (
    ANNA,
    EstateWatch,
    create_key,
    served_demo_under_keys,
)
from tests.mcp_session import with_session


@pytest.fixture
def served(estate_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    audit_db = tmp_path / "audit.sqlite"
    with served_demo_under_keys(audit_db) as base:
        yield base, audit_db


def test_an_mcp_client_sees_its_tools_with_schemas_and_hints(served: tuple[str, Path]) -> None:
    base, audit_db = served
    key = create_key(audit_db, "mcp-agent", "get_customer,update_customer_address,list_*")

    async def listing(session: ClientSession) -> Any:
        return await session.list_tools()

    tools = {tool.name: tool for tool in with_session(base, key, listing).tools}
    assert set(tools) == {"get_customer", "update_customer_address", "list_customers",
                          "list_postings"}  # fmt: skip
    read = tools["get_customer"]
    assert read.annotations is not None
    assert read.annotations.read_only_hint is True
    assert read.annotations.destructive_hint is False
    assert read.input_schema["required"] == ["customer_number"]
    assert read.input_schema["properties"]["customer_number"]["pattern"] == "^[0-9]{8}$"
    assert read.output_schema is not None
    assert read.output_schema["properties"]["balance_eur"]["type"] in ("number", ["number", "null"])
    write = tools["update_customer_address"]
    assert write.annotations is not None
    assert (write.annotations.read_only_hint, write.annotations.destructive_hint) == (False, True)
    assert write.annotations.idempotent_hint is False


def test_an_mcp_call_takes_the_same_path_as_rest(
    served: tuple[str, Path], estate: EstateServer
) -> None:
    base, audit_db = served
    key = create_key(audit_db, "mcp-agent", "get_customer")
    watch = EstateWatch(estate)

    async def calls(session: ClientSession) -> tuple[Any, Any, Any]:
        good = await session.call_tool("get_customer", {"customer_number": ANNA})
        bad = await session.call_tool("get_customer", {"customer_number": "12"})
        outside = await session.call_tool("list_postings", {"account_number": "DE00000001"})
        return good, bad, outside

    good, bad, outside = with_session(base, key, calls)
    assert good.is_error is False
    assert good.structured_content["name"] == "MULLER, ANNA"
    assert good.structured_content["balance_eur"] == 1234.56
    meta = good.meta["legacy_gateway"]
    assert meta["status"] == "ok"
    watch.sole()  # one SOAP request reached the legacy system

    record = httpx.get(f"{base}/v1/calls/{meta['call_id']}",
                       headers={"authorization": f"Bearer {key}"}).json()  # fmt: skip
    assert record["principal"] == "key:mcp-agent"
    assert record["context"]["transport"] == "mcp"
    assert record["interactions"][0]["adapter"] == "soap"

    # An error is no result: it comes as text holding the error object, without structured
    # content, which clients would check against the tool's output schema.
    assert bad.is_error is True
    assert bad.structured_content is None
    error = json.loads(bad.content[0].text)["error"]
    assert error["code"] == "invalid_arguments"
    assert error["details"]["errors"][0]["field"] == "customer_number"
    assert outside.is_error is True
    assert outside.structured_content is None
    assert json.loads(outside.content[0].text)["error"]["code"] == "forbidden"


def test_mcp_without_a_key_is_refused_before_any_session(served: tuple[str, Path]) -> None:
    base, _ = served
    response = httpx.post(
        f"{base}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
