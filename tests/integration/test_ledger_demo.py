"""The demo ledger: a legacy SQLite database behind the gateway's ODBC adapter."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from adapters.installed import INSTALLED
from estate.orders import OrderService
from gateway.config.loader import load_config
from tests.integration.support import (
    DEMO_CONFIG,
    call_record,
    call_tool,
    demo_copy,
    error_of,
    postings_with,
)

LEDGER_TOOLS = sorted(
    name
    for name, tool in load_config(DEMO_CONFIG, INSTALLED).tools.items()
    if tool.backend == "ledger" and tool.approval == "none"  # the others answer 202
)


def test_the_ledger_holds_legacy_shaped_data_at_scale(ledger_db: Path) -> None:
    with sqlite3.connect(ledger_db) as db:
        accounts = db.execute("SELECT COUNT(*) FROM ACCOUNTS").fetchone()[0]
        postings = db.execute("SELECT COUNT(*) FROM POSTINGS").fetchone()[0]
        blank_close = db.execute("SELECT COUNT(*) FROM ACCOUNTS WHERE CLOSE_DT = '        '")
        padded = db.execute("SELECT BOOK_TXT FROM POSTINGS WHERE POST_ID = 1").fetchone()[0]
        assert blank_close.fetchone()[0] > 1000
    assert accounts + postings >= 10_000
    assert padded == "OPENING DEPOSIT".ljust(30)


@pytest.mark.parametrize("tool", LEDGER_TOOLS)
def test_every_ledger_tool_works_with_its_examples(demo_client: TestClient, tool: str) -> None:
    schema = demo_client.get(f"/v1/tools/{tool}").json()
    assert schema["output_schema"]["examples"], f"{tool} shows agents no result example"
    result_schema = Draft202012Validator(schema["output_schema"])
    for example in schema["input_schema"]["examples"]:
        response = call_tool(demo_client, tool, example)
        assert response.status_code == 200, f"{tool} {example}: {response.text}"
        result_schema.validate(response.json()["result"])


def test_an_account_reads_as_clean_json(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "get_account", {"account_number": "de00000001"})

    assert response.status_code == 200, response.text
    (account,) = response.json()["result"]["items"]
    # BAL is kept by SQLite as 1234.5 and comes back as text without its cents' zero; the
    # blank CHAR(8) CLOSE_DT is null; the codes read as words.
    assert account == {
        "account_number": "DE00000001",
        "customer_number": "10000001",
        "type": "current",
        "currency": "EUR",
        "balance": 1234.5,
        "overdraft_limit": 500,
        "opened_on": "1987-03-15",
        "closed_on": None,
        "status": "active",
    }


def test_a_posting_is_written_in_a_transaction_and_read_back(
    demo_client: TestClient, ledger_db: Path
) -> None:
    arguments = {
        "account_number": "DE00000001",
        "booked_on": "2024-11-24",
        "booked_at": "09:15:00",
        "amount": "42.10",
        "direction": "debit",
        "text": "Alterations, jacket",
        "reference": "TEST42",
    }
    written = call_tool(demo_client, "record_posting", arguments)
    assert written.status_code == 200, written.text
    assert written.json()["result"] == {"booked": 1}

    with sqlite3.connect(ledger_db) as db:
        row = db.execute(
            "SELECT POST_DT, POST_TM, AMT_CENTS, DC_FLG, BOOK_TXT, REF_NO FROM POSTINGS"
            " WHERE REF_NO = 'TEST42      '"
        ).fetchone()
    assert row == ("20241124", "091500", 4210, "D", "ALTERATIONS, JACKET".ljust(30), "TEST42      ")

    record = call_record(demo_client, written.json()["call_id"])
    (interaction,) = record["interactions"]
    assert interaction["request"]["bind_values"] == [
        "DE00000001", "20241124", "091500", 4210, "D", "ALTERATIONS, JACKET".ljust(30),
        "TEST42      ",
    ]  # fmt: skip
    assert interaction["response"] == {"rows_affected": 1, "committed": True}

    postings = call_tool(
        demo_client, "list_postings", {"account_number": "DE00000001", "from_date": "2024-11-24"}
    ).json()["result"]["items"]
    assert {
        "booked_on": "2024-11-24",
        "booked_at": "09:15:00",
        "amount": 42.1,
        "direction": "debit",
        "text": "ALTERATIONS, JACKET",
        "reference": "TEST42",
    }.items() <= postings[-1].items()


def test_a_dry_run_shows_the_statement_and_bind_values_without_writing(
    demo_client: TestClient, ledger_db: Path
) -> None:
    arguments = {
        "account_number": "DE00000001",
        "booked_on": "2024-11-25",
        "amount": 1,
        "direction": "credit",
        "text": "dry",
        "reference": "DRY1",
    }
    response = call_tool(demo_client, "record_posting", arguments, dry_run=True)

    assert response.status_code == 200, response.text
    request = response.json()["result"]["request"]
    assert request["sql"].startswith("INSERT INTO POSTINGS")
    assert "?, ?, ?, ?, ?, ?, ?" in request["sql"]
    assert request["bind_values"][3] == 100
    with sqlite3.connect(ledger_db) as db:
        assert db.execute("SELECT COUNT(*) FROM POSTINGS WHERE REF_NO LIKE 'DRY1%'").fetchone() == (
            0,
        )


def test_bad_arguments_never_reach_the_database(demo_client: TestClient) -> None:
    response = call_tool(
        demo_client, "list_postings", {"account_number": "DE1; DROP TABLE POSTINGS"}
    )
    assert response.status_code == 422
    assert error_of(response)["details"]["errors"][0]["field"] == "account_number"


def test_validate_connect_tries_every_statement_against_the_database(
    estate_env: dict[str, str], order_service: OrderService, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    config = demo_copy(tmp_path)
    assert CliRunner().invoke(app, ["validate", str(config), "--connect"]).exit_code == 0

    ledger = config / "ledger.yaml"
    ledger.write_text(ledger.read_text().replace("FROM POSTINGS WHERE", "FROM POSTINGZ WHERE"))
    result = CliRunner().invoke(app, ["validate", str(config), "--connect"])

    assert result.exit_code == 1
    assert "ledger.yaml:" in result.stderr
    assert "tools.list_postings.operation" in result.stderr
    assert "no such table: POSTINGZ" in result.stderr
    assert "record_posting" not in result.stderr  # its statement is fine


def test_the_demo_postings_come_in_pages_an_agent_can_follow(
    demo_client: TestClient, ledger_db: Path
) -> None:
    account = "DE00001436"  # the README's paging example: more bookings than one page holds
    with sqlite3.connect(ledger_db) as db:
        expected = [
            row[0]
            for row in db.execute(
                "SELECT POST_ID FROM POSTINGS WHERE ACCT_NO = ? ORDER BY POST_DT, POST_ID",
                (account,),
            )
        ]
    assert len(expected) > 10

    first = call_tool(demo_client, "list_postings", {"account_number": account}).json()["result"]
    assert first["truncated"] is True
    assert len(first["items"]) == 10
    second = call_tool(
        demo_client, "list_postings", {"account_number": account}, cursor=first["next_cursor"]
    ).json()["result"]

    assert second.get("next_cursor") is None
    assert [item["posting_id"] for item in first["items"] + second["items"]] == expected


def test_the_demo_operator_approves_an_adjustment_an_agent_asked_for(
    demo_client: TestClient, audit_db: Path, ledger_db: Path
) -> None:
    from gateway.demo import operator_key

    arguments = {"account_number": "DE00000007", "booked_on": "2024-06-12", "amount": "25.00",
                 "direction": "credit", "text": "Goodwill", "reference": "ADJTEST1"}  # fmt: skip
    asked = call_tool(demo_client, "book_adjustment", arguments)
    assert asked.status_code == 202, asked.text
    answer = asked.json()
    assert answer["status"] == "awaiting_approval"
    assert "INSERT INTO POSTINGS" in str(answer["result"]["preview"])
    assert postings_with(ledger_db, "ADJTEST1") == 0  # nothing booked while it waits

    approval = f"/v1/approvals/{answer['result']['approval_id']}"
    own = demo_client.post(approval, json={"decision": "approve"})  # anonymous asked for it
    assert own.status_code == 403, own.text
    operator = {"authorization": f"Bearer {operator_key(audit_db)}"}
    (waiting,) = demo_client.get("/v1/approvals", headers=operator).json()["approvals"]
    assert waiting["tool"] == "book_adjustment"
    decided = demo_client.post(approval, json={"decision": "approve", "comment": "goodwill ok"},
                               headers=operator)  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "ok"
    assert decided.json()["result"] == {"booked": 1}
    assert postings_with(ledger_db, "ADJTEST1") == 1
    record = call_record(demo_client, answer["call_id"])
    assert record["approval"]["decided_by"] == "key:demo-operator"
