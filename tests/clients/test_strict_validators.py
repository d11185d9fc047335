"""Every demo tool's real answers and every published example pass a strict validator.

Python's ``jsonschema`` with every format asserted (the optional format libraries installed:
``rfc3339-validator`` for date-time and time, ``isoduration`` for durations...) stands for
the strict validators of agents' hosts; the TypeScript SDK's ajv runs in
``test_typescript_client.py``. A schema that means something else than the data (a legacy
local time published as ``format: time``, which RFC 3339 says carries an offset) fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from adapters.installed import INSTALLED
from gateway.api.mcp import APPROVAL_SCHEMA, PENDING_SCHEMA, mcp_tool
from gateway.config.loader import load_config
from tests.integration.support import DEMO_CONFIG, gateway_of

FORMATS = Draft202012Validator.FORMAT_CHECKER
DEMO_TOOLS = sorted(load_config(DEMO_CONFIG, INSTALLED).tools)


def strict_errors(schema: dict[str, Any], value: Any) -> list[str]:
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(value)]


def test_every_format_the_schemas_use_is_asserted() -> None:
    # Without the optional libraries jsonschema skips these formats silently.
    assert {"date", "date-time", "time", "duration", "regex"} <= set(FORMATS.checkers)


@pytest.mark.parametrize("name", DEMO_TOOLS)
def test_every_published_example_passes_a_strict_validator(demo: TestClient, name: str) -> None:
    tool = demo.get(f"/v1/tools/{name}").json()
    for side in ("input_schema", "output_schema"):
        schema = tool[side]
        for example in schema.get("examples", []):
            assert strict_errors(schema, example) == [], (name, side, example)


@pytest.mark.parametrize("name", DEMO_TOOLS)
def test_every_real_answer_passes_a_strict_validator(demo: TestClient, name: str) -> None:
    tool = gateway_of(demo).tools[name]
    published = mcp_tool(tool).output_schema
    examples = tool.input_schema["examples"]
    assert examples, f"{name} publishes no example arguments"
    for arguments in examples:
        response = demo.post(f"/v1/tools/{name}/call", json={"arguments": arguments})
        assert response.status_code in (200, 202), response.text
        body = response.json()
        if body["status"] == "pending":
            assert published == PENDING_SCHEMA
            assert strict_errors(PENDING_SCHEMA, body["result"]) == []
            continue
        if body["status"] == "awaiting_approval":  # a write that waits for a person
            assert published == APPROVAL_SCHEMA
            assert strict_errors(APPROVAL_SCHEMA, body["result"]) == []
            continue
        assert body["status"] == "ok"
        assert strict_errors(tool.output_schema, body["result"]) == [], body["result"]
        assert published is not None
        assert strict_errors(published, body["result"]) == []


def test_a_legacy_local_time_is_published_by_its_pattern_not_as_format_time(
    demo: TestClient,
) -> None:
    customer = demo.get("/v1/tools/get_customer").json()["output_schema"]["properties"]
    call_after = customer["call_after"]
    assert "format" not in call_after
    assert call_after["type"] == ["string", "null"]
    assert "without a UTC offset" in call_after["description"]
    # The datetime has a declared zone, so it carries its offset and is a real date-time.
    assert customer["updated_at"]["format"] == "date-time"
    answer = demo.post(
        "/v1/tools/get_customer/call", json={"arguments": {"customer_number": "10000001"}}
    ).json()["result"]
    assert answer["call_after"] == "09:30:00"
    assert answer["updated_at"].endswith("+02:00")
    # What the old schema said is what strict validators refuse.
    assert strict_errors({"type": "string", "format": "time"}, "09:30:00") != []
