"""An XSD choice of an imported WSDL is enforced, not only published: two branches, or none
where one is required, are refused as invalid_arguments and no envelope leaves the gateway."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.importers.run import wsdl_to_config
from tests.integration.support import call_record, call_tool, error_of, gateway_client

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "wsdl" / "constructs"
ANSWER = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<PlaceOrderResponse xmlns="urn:example:orders"><OrderNumber>42</OrderNumber>'
    b"<Status>OPEN</Status></PlaceOrderResponse></soap:Body></soap:Envelope>"
)


class _OrderDesk(BaseHTTPRequestHandler):
    """The order service of the WSDL: records each envelope and answers one order."""

    received: list[bytes]

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def desk() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Desk", (_OrderDesk,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(desk: tuple[str, list[bytes]], tmp_path: Path) -> Iterator[TestClient]:
    wsdl_dir = shutil.copytree(FIXTURE, tmp_path / "wsdl")
    wsdl = wsdl_dir / "constructs.wsdl"
    wsdl.write_text(
        wsdl.read_text(encoding="utf-8").replace("http://127.0.0.1:9/orders", desk[0]),
        encoding="utf-8",
    )
    wsdl_to_config(str(wsdl), tmp_path / "config")
    with gateway_client(tmp_path / "config", tmp_path / "audit.sqlite") as gateway:
        yield gateway


def _example(client: TestClient) -> dict[str, Any]:
    schema = client.get("/v1/tools/place_order").json()["input_schema"]
    assert schema["oneOf"] == [{"required": ["card_token"]}, {"required": ["invoice_to"]}]
    example: dict[str, Any] = schema["examples"][0]
    assert "card_token" in example and "invoice_to" not in example
    return example


def test_two_branches_of_a_choice_are_refused_before_anything_is_sent(
    client: TestClient, desk: tuple[str, list[bytes]]
) -> None:
    both = {**_example(client), "invoice_to": {"street": "Main St 1", "country": "DE"}}
    response = call_tool(client, "place_order", both)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_arguments"
    assert error["details"]["errors"] == [
        {
            "field": "$",
            "message": "choice card_token | invoice_to: send one branch, not several "
            "(given: card_token, invoice_to)",
        }
    ]
    assert desk[1] == []
    record = call_record(client, error["call_id"])
    assert record["interactions"] == []


def test_a_required_choice_left_out_is_refused(
    client: TestClient, desk: tuple[str, list[bytes]]
) -> None:
    neither = {k: v for k, v in _example(client).items() if k != "card_token"}
    response = call_tool(client, "place_order", {**neither, "invoice_to": None})
    assert response.status_code == 422, response.text
    assert error_of(response)["details"]["errors"] == [
        {"field": "$", "message": "choice card_token | invoice_to: send one branch (given: none)"}
    ]
    assert desk[1] == []


def test_one_branch_goes_through_with_only_its_element(
    client: TestClient, desk: tuple[str, list[bytes]]
) -> None:
    # A null for the branch not taken is "not given", as for any optional argument.
    arguments = {**_example(client), "card_token": "tok-1", "invoice_to": None}
    response = call_tool(client, "place_order", arguments)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["order_number"] == 42
    (envelope,) = desk[1]
    assert b"tok-1</ns0:CardToken>" in envelope and b"InvoiceTo" not in envelope
