"""Attributes in SOAP answers: imported from the WSDL into the output mapping, read from a
real answer over HTTP, and handed to the agent as its published output schema says."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from gateway.importers.run import wsdl_to_config
from tests.http_hosts import QuietHandler, serving
from tests.integration.support import call_tool, gateway_client

WSDL = Path(__file__).parent.parent / "fixtures" / "wsdl" / "attributes" / "prices.wsdl"
ANSWER = b"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>
  <p:GetPricesResponse xmlns:p="urn:example:prices" asOf="2024-06-11T14:30:05" count="2">
    <p:Item sku="ABC-1" discontinued="false" valid.until="2024-12-31">
      <p:Name>Shirt</p:Name>
      <p:Price currency="EUR" net="true">49.90</p:Price>
      <p:Stock warehouse="B2" count="12"/>
    </p:Item>
    <p:Item sku="ABC-2" xsi:type="p:Item">
      <p:Name>Tie</p:Name>
      <p:Price currency="GBP">12.5</p:Price>
    </p:Item>
  </p:GetPricesResponse>
</soap:Body></soap:Envelope>"""


class _Prices(QuietHandler):
    requests: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.requests.append(self.rfile.read(length))
        self.answer(ANSWER, "text/xml; charset=utf-8")


@pytest.fixture
def prices_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prices)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/prices"


@pytest.fixture
def client(prices_url: str, tmp_path: Path) -> Iterator[TestClient]:
    wsdl = tmp_path / "prices.wsdl"
    wsdl.write_text(WSDL.read_text().replace("http://127.0.0.1:9/prices", prices_url))
    config = tmp_path / "config"
    _, report, _ = wsdl_to_config(str(wsdl), config)
    assert report.added == ["get_prices"]
    with gateway_client(config, tmp_path / "audit.sqlite") as gateway:
        yield gateway


def test_the_importer_maps_attributes_as_the_request_side_names_them(
    client: TestClient, tmp_path: Path
) -> None:
    (config,) = (tmp_path / "config").glob("*.yaml")
    output = yaml.safe_load(config.read_text())["tools"]["get_prices"]["output"]["fields"]
    assert output["as_of"] == {"from": "@asOf", "required": True, "description": "XSD dateTime."}
    item = output["item"]["fields"]
    assert item["sku"] == {"from": "@sku", "required": True}
    assert item["valid_until"]["from"] == '"@valid.until"'  # not a plain path: JMESPath
    assert item["price"]["fields"]["value"]["from"] == "#text"
    assert item["price"]["fields"]["currency"] == {"from": "@currency", "required": True}


def test_attributes_of_a_real_answer_reach_the_agent_as_the_output_schema_says(
    client: TestClient,
) -> None:
    schema = client.get("/v1/tools/get_prices").json()["output_schema"]
    response = call_tool(client, "get_prices", {"category": "SHIRTS"})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert b"<ns0:Category>SHIRTS</ns0:Category>" in _Prices.requests[-1]
    assert result == {
        "item": [
            {
                "name": "Shirt",
                "price": {"currency": "EUR", "net": True, "value": 49.9},
                "stock": {"warehouse": "B2", "count": 12},
                "sku": "ABC-1",
                "discontinued": False,
                "valid_until": "2024-12-31",
            },
            {
                # Optional attributes and elements that are absent: null, as for elements.
                "name": "Tie",
                "price": {"currency": "GBP", "net": None, "value": 12.5},
                "stock": None,
                "sku": "ABC-2",  # xsi:type beside it is markup, not data
                "discontinued": None,
                "valid_until": None,
            },
        ],
        "as_of": "2024-06-11T14:30:05",
        "count": 2,
    }
    assert not list(Draft202012Validator(schema).iter_errors(result))
