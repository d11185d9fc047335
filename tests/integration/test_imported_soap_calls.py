"""Imported configs called for real: a WSDL read from a running service's ?wsdl URL, and an
OpenAPI description of the estate's REST face."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from estate.server import EstateServer
from gateway.importers.run import openapi_to_config, wsdl_to_config
from tests.integration.support import ANNA, call_record, call_tool, gateway_client

pytestmark = pytest.mark.usefixtures("estate_env")


@pytest.fixture
def imported_client(estate: EstateServer, tmp_path: Path) -> TestClient:
    config = tmp_path / "config"
    _, report, _ = wsdl_to_config(f"{estate.customer_master_url}?wsdl", config)
    assert "get_customer" in report.added
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        yield client  # type: ignore[misc]


def test_an_imported_tool_calls_the_real_service_and_maps_its_answer(
    imported_client: TestClient,
) -> None:
    tool = imported_client.get("/v1/tools/get_customer").json()
    assert tool["effect"] == "read"
    assert tool["description"].startswith("Read one customer by CUSTNO.")  # from the URL
    assert tool["input_schema"]["required"] == ["custno"]
    response = call_tool(imported_client, "get_customer", {"custno": ANNA})
    assert response.status_code == 200, response.text
    body = response.json()
    result = body["result"]
    assert "MULLER, ANNA" in result["cust_name"]
    assert not list(Draft202012Validator(tool["output_schema"]).iter_errors(result))
    record = call_record(imported_client, body["call_id"])
    envelope = record["interactions"][0]["request"]["envelope"]
    assert f"<CUSTNO>{ANNA}</CUSTNO>" in envelope.replace("ns0:", "")


def test_every_imported_read_tool_answers_its_own_example(imported_client: TestClient) -> None:
    """Examples are made from the schema alone: the service may refuse their values (a SOAP
    fault), but each one reaches it as a request it can parse, and nothing fails locally."""
    tools = imported_client.get("/v1/tools").json()["tools"]
    reads = [tool for tool in tools if tool["effect"] == "read"]
    assert reads
    for tool in reads:
        example = tool["input_schema"]["examples"][0]
        response = call_tool(imported_client, tool["name"], example)
        assert response.status_code in (200, 502), (tool["name"], response.text)
        if response.status_code == 502:
            assert response.json()["error"]["code"] == "legacy_fault", response.text


def test_an_imported_openapi_tool_calls_the_real_rest_service(
    estate: EstateServer, tmp_path: Path
) -> None:
    source = Path(__file__).resolve().parents[1] / "fixtures" / "openapi" / "estate-crm.yaml"
    document = tmp_path / "crm.yaml"
    document.write_text(
        source.read_text(encoding="utf-8").replace("http://127.0.0.1:8801", estate.base_url),
        encoding="utf-8",
    )
    config = tmp_path / "config"
    _, report, _ = openapi_to_config(str(document), config)
    assert sorted(report.added) == ["add_contact_note", "get_customer"]
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        listed = client.get("/v1/tools", params={"tag": "notes"}).json()["tools"]
        assert [tool["name"] for tool in listed] == ["add_contact_note"]
        response = call_tool(client, "get_customer", {"custno": ANNA})
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["custno"] == ANNA and "MULLER, ANNA" in result["cust_name"]
        filed = call_tool(
            client, "add_contact_note", {"custno": ANNA, "note_txt": "called back", "author": "bot"}
        )
        assert filed.status_code == 200, filed.text
        assert filed.json()["result"]["status"] == "FILED"
        assert filed.json()["result"]["note_id"].startswith("N")
        refused = call_tool(client, "get_customer", {"custno": "12"})
        assert refused.status_code == 422  # the document's pattern, checked before any call
