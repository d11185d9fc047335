"""The official MCP Python SDK calls every demo tool over ``/mcp`` with its examples.

The SDK validates each structured result against the tool's output schema itself; each is
checked again here with every format asserted. An error comes as an MCP tool error whose
text is the gateway's error object, with no structured content.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from mcp.client.session import ClientSession

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from tests.integration.support import DEMO_CONFIG
from tests.mcp_session import with_session

FORMATS = Draft202012Validator.FORMAT_CHECKER


def every_call(base: str, key: str) -> dict[str, Any]:
    examples = {
        tool["name"]: tool["input_schema"].get("examples", [])
        for tool in httpx.get(
            f"{base}/v1/tools", headers={"authorization": f"Bearer {key}"}
        ).json()["tools"]
    }

    async def run(session: ClientSession) -> dict[str, Any]:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        results: dict[str, Any] = {}
        for name, tool in tools.items():
            results[name] = [
                (tool.output_schema, await session.call_tool(name, arguments))
                for arguments in examples[name]
            ]
        refused = await session.call_tool("get_customer", {"customer_number": "1"})
        return {"results": results, "refused": refused}

    return with_session(base, key, run)


def test_the_python_sdk_calls_every_demo_tool_with_its_examples(
    served: tuple[str, str],
) -> None:
    seen = every_call(*served)
    assert set(seen["results"]) == set(load_config(DEMO_CONFIG, INSTALLED).tools)
    for name, calls in seen["results"].items():
        assert calls, f"{name} has no example to call"
        for schema, result in calls:
            assert result.is_error is False, (name, result.content)
            status = result.meta["legacy_gateway"]["status"]
            waits = {"place_order": "pending", "book_adjustment": "awaiting_approval"}
            assert status == waits.get(name, "ok"), name
            assert schema is not None, name
            validator = Draft202012Validator(schema, format_checker=FORMATS)
            errors = [e.message for e in validator.iter_errors(result.structured_content)]
            assert errors == [], (name, result.structured_content)
            # Clients that read only text get the same result.
            assert json.loads(result.content[0].text) == result.structured_content
    customer = seen["results"]["get_customer"][0][1].structured_content
    assert customer["name"] == "MULLER, ANNA"
    assert customer["call_after"] == "09:30:00"

    refused = seen["refused"]
    assert refused.is_error is True
    assert refused.structured_content is None
    error = json.loads(refused.content[0].text)["error"]
    assert error["code"] == "invalid_arguments"
    assert error["details"]["errors"][0]["field"] == "customer_number"
