"""Output budgets: a list answer is cut to the tool's max_rows and max_bytes, and says so."""

from __future__ import annotations

from pathlib import Path

import orjson
from jsonschema import Draft202012Validator

from tests.integration.support import call_tool, demo_copy, gateway_client


def test_lists_are_cut_to_their_budget_with_a_notice(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = demo_copy(tmp_path)
    customers = config / "customers.yaml"
    text = customers.read_text()
    text = text.replace("    operation: SearchCustomers\n",
                        "    operation: SearchCustomers\n    max_rows: 3\n", 1)  # fmt: skip
    text = text.replace("    operation: ListCustomers\n",
                        "    operation: ListCustomers\n    max_bytes: 20000\n", 1)  # fmt: skip
    customers.write_text(text)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        search = call_tool(client, "search_customers", {"name_prefix": "m", "max_hits": 50})
        result = search.json()["result"]
        assert len(result["customers"]) == 3
        assert result["truncated"] is True
        assert result["notice"].startswith("3 of ")
        assert "max_rows 3" in result["notice"]
        schema = client.get("/v1/tools/search_customers").json()["output_schema"]
        Draft202012Validator(schema).validate(result)

        page = call_tool(client, "list_customers", {"page": 1, "page_size": 500})
        listed = page.json()["result"]
        assert listed["truncated"] is True
        assert 0 < len(listed["customers"]) < 500
        assert len(orjson.dumps(listed["customers"])) <= 20000
        assert listed["total_count"] == 1200  # the rest of the answer is intact

        small = call_tool(client, "search_customers", {"name_prefix": "m", "max_hits": 2})
        assert "truncated" not in small.json()["result"]
