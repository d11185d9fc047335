"""An XSD choice of an imported WSDL is enforced, not only published: two branches, or none
where one is required, are refused as invalid_arguments and no envelope leaves the gateway."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.importers.run import wsdl_to_config
from tests.integration.order_desk import OrderDesk, order_desk
from tests.integration.support import call_record, call_tool, error_of, gateway_client

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "wsdl" / "constructs"


@pytest.fixture
def desk() -> Iterator[OrderDesk]:
    with order_desk() as desk:
        yield desk


@pytest.fixture
def client(desk: OrderDesk, tmp_path: Path) -> Iterator[TestClient]:
    wsdl_dir = shutil.copytree(FIXTURE, tmp_path / "wsdl")
    wsdl = wsdl_dir / "constructs.wsdl"
    wsdl.write_text(
        wsdl.read_text(encoding="utf-8").replace("http://127.0.0.1:9/orders", desk.url),
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
    client: TestClient, desk: OrderDesk
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
    assert desk.received == []
    record = call_record(client, error["call_id"])
    assert record["interactions"] == []


def test_a_required_choice_left_out_is_refused(client: TestClient, desk: OrderDesk) -> None:
    neither = {k: v for k, v in _example(client).items() if k != "card_token"}
    response = call_tool(client, "place_order", {**neither, "invoice_to": None})
    assert response.status_code == 422, response.text
    assert error_of(response)["details"]["errors"] == [
        {"field": "$", "message": "choice card_token | invoice_to: send one branch (given: none)"}
    ]
    assert desk.received == []


def test_one_branch_goes_through_with_only_its_element(client: TestClient, desk: OrderDesk) -> None:
    # A null for the branch not taken is "not given", as for any optional argument.
    arguments = {**_example(client), "card_token": "tok-1", "invoice_to": None}
    response = call_tool(client, "place_order", arguments)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["order_number"] == 42
    (envelope,) = desk.received
    assert b"tok-1</ns0:CardToken>" in envelope and b"InvoiceTo" not in envelope
