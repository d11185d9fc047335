"""Imported configs served: the agent API lists the tools, filters them by tag and words,
and a dry run renders the request an imported tool would send."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.importers.run import openapi_to_config, wsdl_to_config
from tests.integration.support import gateway_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_serve_lists_filters_and_dry_runs_imported_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wsdl_dir = tmp_path / "wsdl"
    shutil.copytree(FIXTURES / "wsdl" / "constructs", wsdl_dir)
    config = tmp_path / "config"
    wsdl_to_config(str(wsdl_dir / "constructs.wsdl"), config)
    openapi_to_config(str(FIXTURES / "openapi" / "constructs-3.1.yaml"), config)
    monkeypatch.setenv("PARCEL_DESK_KEY", "k-123")
    monkeypatch.setenv("PARCEL_DESK_TOKEN", "t-456")

    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        listed = client.get("/v1/tools").json()["tools"]
        assert sorted(tool["name"] for tool in listed) == [
            "create_parcel", "get_parcel", "get_rate", "list_parcels", "place_order",
        ]  # fmt: skip
        rates = client.get("/v1/tools", params={"tag": "rates"}).json()["tools"]
        assert [tool["name"] for tool in rates] == ["get_rate"]
        assert rates[0]["tags"] == ["order_service", "rates"]
        service = client.get("/v1/tools", params={"tag": "order_service"}).json()["tools"]
        assert sorted(tool["name"] for tool in service) == ["get_rate", "place_order"]
        found = client.get("/v1/tools", params={"q": "REGISTER parcel"}).json()["tools"]
        assert [tool["name"] for tool in found] == ["create_parcel"]
        assert client.get("/v1/tools", params={"tag": "nope"}).json()["tools"] == []
        openai = client.get("/v1/tools", params={"format": "openai", "tag": "rates"}).json()
        assert [tool["function"]["name"] for tool in openai] == ["get_rate"]
        # The XSD choice is a oneOf agents see in /v1/tools; strict mode cannot say it.
        orders = client.get("/v1/tools", params={"format": "openai", "tag": "orders"}).json()
        assert "oneOf" not in orders[0]["function"]["parameters"]
        native = client.get("/v1/tools/place_order").json()["input_schema"]
        assert native["oneOf"] == [{"required": ["card_token"]}, {"required": ["invoice_to"]}]

        tool = client.get("/v1/tools/get_rate").json()
        example = tool["input_schema"]["examples"][0]
        answer = client.post(
            "/v1/tools/get_rate/call", json={"arguments": example, "dry_run": True}
        )
        assert answer.status_code == 200, answer.text
        envelope = answer.json()["result"]["request"]["envelope"]
        assert "<ns0:GetRate" in envelope and "<day>2024-01-31</day>" in envelope
