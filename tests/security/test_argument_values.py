"""Argument values that must never reach a legacy system, through every adapter.

A NUL or another C0 control character in a string argument is a 422 naming the field for
SOAP, ODBC, HTTP and AMQP tools alike (before: SOAP answered 500, ODBC wrote the NUL into
the ledger); a newline after a pattern's last digit does not satisfy ``^[0-9]{8}$``;
integers past 64 bits are a 422 (before: 503 ``audit_unavailable`` or 500); digits of other
scripts are not amounts; a number for a digit string is taken and the record says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from estate.server import EstateServer
from tests.integration.support import (
    ANNA,
    DEMO_CONFIG,
    EstateWatch,
    call_record,
    error_of,
    gateway_client,
)


@dataclass
class Demo:
    """The demo gateway and the legacy systems behind it that a test looks into."""

    client: TestClient
    ledger: Path
    estate: EstateServer


@pytest.fixture(scope="module")
def demo_estate(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    request.getfixturevalue("estate_env")
    request.getfixturevalue("order_service")
    audit_db = tmp_path_factory.mktemp("values") / "audit.sqlite"
    with gateway_client(DEMO_CONFIG, audit_db) as client:
        yield Demo(client, request.getfixturevalue("ledger_db"), request.getfixturevalue("estate"))


@pytest.fixture
def demo(demo_estate: Demo) -> TestClient:
    return demo_estate.client


def refused(client: TestClient, tool: str, arguments: dict[str, Any], **body: Any) -> Any:
    response = client.post(f"/v1/tools/{tool}/call", json={"arguments": arguments, **body})
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_arguments"
    record = call_record(client, error["call_id"])
    assert record["status"] == "rejected"
    assert record["interactions"] == []  # nothing reached the legacy system
    return error


POSTING = {
    "account_number": "DE00000001", "booked_on": "2024-06-11", "amount": "89.90",
    "direction": "debit", "text": "TAILORING", "reference": "AGENT0001",
}  # fmt: skip
CONTROL_CASES = [
    ("search_customers", {"name_prefix": "MUL\x00"}, "name_prefix"),  # SOAP
    ("record_posting", {**POSTING, "text": "TAILORING\x00ORDER"}, "text"),  # ODBC
    ("add_contact_note", {"customer_number": ANNA, "note": "call\x1b[2J"}, "note"),  # HTTP
    ("cancel_order", {"order_number": 1000000001, "reason": "oops\x07"}, "reason"),  # AMQP
]


@pytest.mark.parametrize(
    ("tool", "arguments", "field"), CONTROL_CASES, ids=["soap", "odbc", "http", "amqp"]
)
def test_a_control_character_is_a_422_naming_the_field_for_every_adapter(
    demo_estate: Demo, tool: str, arguments: dict[str, Any], field: str
) -> None:
    demo, ledger = demo_estate.client, demo_estate.ledger
    before = _postings(ledger)
    error = refused(demo, tool, arguments)
    assert error["details"]["errors"][0]["field"] == field
    assert "control character U+00" in error["details"]["errors"][0]["message"]
    assert _postings(ledger) == before
    published = demo.get(f"/v1/tools/{tool}").json()["input_schema"]["properties"][field]
    assert published["pattern"].startswith("^[^\\u0000")  # the schema says so too


def _postings(ledger: Path) -> int:
    with sqlite3.connect(ledger) as db:
        count: int = db.execute("SELECT COUNT(*) FROM POSTINGS").fetchone()[0]
        return count


def test_a_newline_after_the_digits_does_not_satisfy_the_pattern(demo_estate: Demo) -> None:
    watch = EstateWatch(demo_estate.estate)
    error = refused(demo_estate.client, "get_customer", {"customer_number": f"{ANNA}\n"})
    assert "pattern" in error["details"]["errors"][0]["message"]
    assert watch.new() == []


@pytest.mark.parametrize(
    ("where", "body", "field"),
    [
        ("argument", {"arguments": {"page": 2**64}}, "page"),
        ("argument", {"arguments": {"page_size": -(2**63) - 1}}, "page_size"),
        ("context", {"arguments": {}, "context": {"step": 2**64}}, "context.step"),
        ("context", {"arguments": {}, "context": {"trace": {"n": [10**30]}}}, "context.trace.n[0]"),
    ],
)
def test_an_integer_past_64_bits_is_a_422_on_the_record(
    demo: TestClient, where: str, body: dict[str, Any], field: str
) -> None:
    response = demo.post("/v1/tools/list_customers/call", json=body)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["details"]["errors"][0]["field"] == field
    record = call_record(demo, error["call_id"])
    assert record["status"] == "rejected"
    # The record keeps what was sent, the integer as its digits.
    kept = record["arguments"] if where == "argument" else record["context"]
    assert str(2**64) in str(kept) or str(-(2**63) - 1) in str(kept) or str(10**30) in str(kept)


def test_a_page_number_is_no_1e20_but_what_its_legacy_type_holds(demo_estate: Demo) -> None:
    demo, watch = demo_estate.client, EstateWatch(demo_estate.estate)
    page = demo.get("/v1/tools/list_customers").json()["input_schema"]["properties"]["page"]
    # PAGE_NO is an xsd:int in the WSDL; the mapping declares only minimum: 1.
    assert (page["minimum"], page["maximum"]) == (1, 2**31 - 1)
    for too_big in (1e20, 2**31):
        error = refused(demo, "list_customers", {"page": too_big})
        assert "maximum" in error["details"]["errors"][0]["message"]
    assert watch.new() == []


@pytest.mark.parametrize("amount", ["\u0668\u0669.\u0669\u0660", "\uff18\uff19.90", "8\u0669.90"])
def test_digits_of_other_scripts_are_not_an_amount(demo_estate: Demo, amount: str) -> None:
    ledger = demo_estate.ledger
    before = _postings(ledger)
    error = refused(demo_estate.client, "record_posting", {**POSTING, "amount": amount})
    assert error["details"]["errors"][0]["field"] == "amount"
    assert _postings(ledger) == before


def test_a_number_for_a_digit_string_is_taken_and_the_record_says_so(demo: TestClient) -> None:
    response = demo.post(
        "/v1/tools/get_customer/call", json={"arguments": {"customer_number": 10000001}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["name"] == "MULLER, ANNA"
    record = call_record(demo, response.json()["call_id"])
    assert record["coerced"] == [
        {"field": "customer_number", "from": "number", "to": "string", "value": "10000001"}
    ]
    assert record["arguments"] == {"customer_number": 10000001}  # as the agent sent it


def test_a_number_that_would_lose_its_leading_zeros_is_a_422_asking_for_a_string(
    demo: TestClient,
) -> None:
    error = refused(demo, "get_customer", {"customer_number": 1234567})
    assert "send the value in quotes" in error["message"]
