"""Successful SOAP calls through the gateway, against the real estate over HTTP.

What the agent gets back (clean JSON from mainframe-era records), and what went on the
wire and on the record: the envelope recorded is the envelope the estate received.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import orjson
from fastapi.testclient import TestClient
from lxml import etree

from estate.server import EstateServer
from tests.integration.support import (
    ANNA,
    CM_NS,
    SECURE_PASSWORD,
    SECURE_USER,
    SOAP11_NS,
    SOAP12_NS,
    WSSE_NS,
    EstateWatch,
    call_record,
    call_tool,
    committed,
    sole_interaction,
)


def test_get_customer_turns_the_legacy_record_into_clean_json(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "get_customer", {"customer_number": ANNA})

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{32}", answer["trace_id"])
    result = answer["result"]
    assert result["customer_number"] == ANNA
    assert result["name"] == "MULLER, ANNA"  # CUST_NAME is space-padded to 30 on the wire
    assert result["city"] == "BERLIN"
    assert result["country"] == "DE"
    assert result["balance_eur"] == 1234.56  # BAL_CENTS 123456
    assert result["opened_on"] == "1987-03-15"  # OPEN_DT 19870315
    assert result["status"] == "active"  # STAT_CD A
    assert result["vip"] is True  # VIP_FLG Y
    assert result["height_cm"] == 168.9  # HEIGHT_IN 66.5
    assert result["address_line2"] is None  # all blanks on the wire


def test_the_receipt_is_the_outcome_record_of_the_call(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "get_customer", {"customer_number": ANNA})
    assert response.status_code == 200, response.text
    answer = response.json()

    outcome = call_record(demo_client, answer["call_id"])["records"][-1]
    assert outcome["kind"] == "call.outcome"
    assert answer["receipt"] == {
        "record": outcome["index"],
        "at": outcome["at"],
        "proof": f"/v1/audit/proof/{answer['call_id']}",
    }


def test_the_recorded_envelope_is_exactly_what_the_estate_received(
    demo_client: TestClient, estate: EstateServer
) -> None:
    watch = EstateWatch(estate)

    response = call_tool(demo_client, "get_customer", {"customer_number": ANNA})

    assert response.status_code == 200, response.text
    received = watch.sole()
    request = sole_interaction(call_record(demo_client, response.json()["call_id"]))["request"]
    assert received.path == "/customer-master"
    assert request["url"] == estate.customer_master_url
    assert request["soap_version"] == "1.1"
    assert request["envelope"] == received.body.decode("utf-8")
    assert "<ns0:CUSTNO>10000001</ns0:CUSTNO>" in request["envelope"]

    root = etree.fromstring(received.body)
    assert root.tag == f"{{{SOAP11_NS}}}Envelope"
    body = root.find(f"{{{SOAP11_NS}}}Body")
    assert body is not None
    (operation,) = list(body)
    assert operation.tag == f"{{{CM_NS}}}GetCustomer"
    (custno,) = list(operation)
    assert custno.tag == f"{{{CM_NS}}}CUSTNO"
    assert custno.text == ANNA

    soap_action = '"urn:legacy:customer-master:v1#GetCustomer"'
    assert received.headers["soapaction"] == soap_action
    assert request["http_headers"]["SOAPAction"] == soap_action
    assert received.headers["content-type"].startswith("text/xml")


def test_the_recorded_response_is_the_body_the_estate_sent(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "get_customer", {"customer_number": ANNA})
    assert response.status_code == 200, response.text

    interaction = sole_interaction(call_record(demo_client, response.json()["call_id"]))
    assert interaction["adapter"] == "soap"
    assert interaction["backend"] == "customer_master"
    assert interaction["operation"] == "GetCustomer"
    assert interaction["attempt"] == 1
    assert interaction["error"] is None
    assert interaction["duration_ms"] >= 0
    assert interaction["response"]["http_status"] == 200
    assert (
        "<CUST_NAME>MULLER, ANNA                  </CUST_NAME>" in (interaction["response"]["body"])
    )


def test_search_customers_finds_customers_by_name_prefix(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "search_customers", {"name_prefix": "smith", "max_hits": 5})

    assert response.status_code == 200, response.text
    result = response.json()["result"]
    customers = result["customers"]
    assert isinstance(customers, list)
    assert 1 <= len(customers) <= 5
    assert all(customer["name"].startswith("SMITH") for customer in customers), customers
    assert result["hit_count"] >= len(customers)


def test_list_customers_returns_a_whole_page(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "list_customers", {"page": 1, "page_size": 500})

    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["total_count"] == 1200
    assert result["page"] == 1
    assert result["page_size"] == 500
    assert len(result["customers"]) == 500
    numbers = [customer["customer_number"] for customer in result["customers"]]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 500


def test_an_address_update_is_seen_by_the_next_lookup(demo_client: TestClient) -> None:
    customer = "10000077"
    update = call_tool(
        demo_client,
        "update_customer_address",
        {
            "customer_number": customer,
            "address_line1": "1 Infinite Loop",
            "address_line2": "Building 4",
            "city": "Cupertino",
            "postal_code": "CA 95014",
            "country": "us",
        },
    )
    assert update.status_code == 200, update.text
    assert update.json()["result"]["customer"]["city"] == "CUPERTINO"

    lookup = call_tool(demo_client, "get_customer", {"customer_number": customer})

    assert lookup.status_code == 200, lookup.text
    result = lookup.json()["result"]
    assert result["address_line1"] == "1 INFINITE LOOP"
    assert result["address_line2"] == "BUILDING 4"
    assert result["city"] == "CUPERTINO"
    assert result["postal_code"] == "CA 95014"
    assert result["country"] == "US"


def test_an_rpc_literal_operation_returns_a_rate_and_its_date(
    demo_client: TestClient, estate: EstateServer
) -> None:
    watch = EstateWatch(estate)

    response = call_tool(
        demo_client, "get_exchange_rate", {"from_currency": "EUR", "to_currency": "USD"}
    )

    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert isinstance(result["rate"], int | float)
    assert not isinstance(result["rate"], bool)
    assert result["rate"] > 0
    assert dt.date.fromisoformat(result["as_of"]).isoformat() == result["as_of"]
    received = watch.sole()
    assert received.path == "/fx-rates"
    operation = etree.fromstring(received.body).find(f"{{{SOAP11_NS}}}Body/*")
    assert operation is not None
    assert etree.QName(operation).localname == "GetRate"
    assert operation.findtext("FROM_CCY") == "EUR"
    assert operation.findtext("TO_CCY") == "USD"


def test_a_soap_12_backend_speaks_soap_12(soap_client: TestClient, estate: EstateServer) -> None:
    watch = EstateWatch(estate)

    response = call_tool(soap_client, "get_customer_soap12", {"customer_number": ANNA})

    assert response.status_code == 200, response.text
    assert response.json()["result"]["name"] == "MULLER, ANNA"
    received = watch.sole()
    assert received.path == "/customer-master/soap12"
    assert received.headers["content-type"].startswith("application/soap+xml")
    assert etree.fromstring(received.body).tag == f"{{{SOAP12_NS}}}Envelope"

    request = sole_interaction(call_record(soap_client, response.json()["call_id"]))["request"]
    assert request["soap_version"] == "1.2"
    assert request["http_headers"]["Content-Type"].startswith("application/soap+xml")
    assert request["envelope"] == received.body.decode("utf-8")


def test_ws_security_sends_the_password_and_never_records_it(
    soap_client: TestClient, secure_estate: EstateServer, audit_db: Path
) -> None:
    watch = EstateWatch(secure_estate)

    response = call_tool(soap_client, "get_customer_secured", {"customer_number": ANNA})

    assert response.status_code == 200, response.text
    assert response.json()["result"]["name"] == "MULLER, ANNA"

    # On the wire: a UsernameToken with the clear-text password (PasswordText).
    sent = etree.fromstring(watch.sole().body)
    token = sent.find(f"{{{SOAP11_NS}}}Header/{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    assert token is not None
    assert token.findtext(f"{{{WSSE_NS}}}Username") == SECURE_USER
    assert token.findtext(f"{{{WSSE_NS}}}Password") == SECURE_PASSWORD

    # On the record: the token is there, its password is not.
    record = call_record(soap_client, response.json()["call_id"])
    recorded = etree.fromstring(sole_interaction(record)["request"]["envelope"].encode())
    recorded_token = recorded.find(
        f"{{{SOAP11_NS}}}Header/{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken"
    )
    assert recorded_token is not None
    assert recorded_token.findtext(f"{{{WSSE_NS}}}Username") == SECURE_USER
    assert recorded_token.findtext(f"{{{WSSE_NS}}}Password") == committed(
        soap_client, SECURE_PASSWORD
    )
    assert SECURE_PASSWORD not in orjson.dumps(record).decode()

    # Nor anywhere in the SQLite files (the database and its write-ahead log).
    files = sorted(audit_db.parent.glob(audit_db.name + "*"))
    assert audit_db in files
    for path in files:
        assert SECURE_PASSWORD.encode() not in path.read_bytes(), path


def test_the_secured_estate_refuses_an_envelope_without_a_token(
    demo_client: TestClient, secure_estate: EstateServer
) -> None:
    """The WS-Security test above proves something: the secured estate checks the token."""
    dry = call_tool(demo_client, "get_customer", {"customer_number": ANNA}, dry_run=True)
    assert dry.status_code == 200, dry.text
    envelope = dry.json()["result"]["request"]["envelope"]
    assert "UsernameToken" not in envelope

    answer = httpx.post(
        secure_estate.customer_master_url,
        content=envelope.encode(),
        headers={"content-type": "text/xml; charset=utf-8"},
    )

    assert answer.status_code == 500
    assert b"AUTHENTICATION FAILED" in answer.content


def test_a_ws_security_dry_run_shows_the_token_without_the_password(
    soap_client: TestClient, secure_estate: EstateServer
) -> None:
    watch = EstateWatch(secure_estate)

    response = call_tool(
        soap_client, "get_customer_secured", {"customer_number": ANNA}, dry_run=True
    )

    assert response.status_code == 200, response.text
    assert SECURE_PASSWORD not in response.text
    envelope = etree.fromstring(response.json()["result"]["request"]["envelope"].encode())
    password = envelope.find(
        f"{{{SOAP11_NS}}}Header/{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken/"
        f"{{{WSSE_NS}}}Password"
    )
    assert password is not None
    assert password.text == committed(soap_client, SECURE_PASSWORD)
    assert watch.new() == []
