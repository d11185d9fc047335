"""The ODBC contract: the same tools behave the same on PostgreSQL, MariaDB and SQLite.

Each database is real, reached through its real ODBC driver (psqlODBC, MariaDB
Connector/ODBC, SQLite ODBC) on this machine; a database that cannot be reached fails its
tests, it does not skip them. Every test gets a fresh legacy-shaped table (CHAR-padded
names, DECIMAL money, CHAR(8) dates, one-letter codes, blanks for none) and a gateway in
front of it.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyodbc
import pytest
from fastapi.testclient import TestClient

from tests.integration.support import call_record, call_tool, committed, error_of, gateway_client


@dataclass(frozen=True)
class Database:
    name: str
    connection: str
    sleep: str | None  # a statement that sleeps :seconds, where the database has one


def _databases(tmp: Path) -> dict[str, Database]:
    return {
        "postgresql": Database(
            "postgresql",
            os.environ.get(
                "TEST_PG_ODBC",
                "DRIVER={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;Uid=root;",
            ),
            "SELECT 1 AS DONE FROM (SELECT pg_sleep(:seconds)) AS s",
        ),
        "mariadb": Database(
            "mariadb",
            os.environ.get(
                "TEST_MARIADB_ODBC",
                "DRIVER={MariaDB Unicode};Server=127.0.0.1;Port=3306;Database=test;Uid=root;Pwd=;",
            ),
            "SELECT SLEEP(:seconds) AS DONE",
        ),
        "sqlite": Database("sqlite", f"DRIVER={{SQLite3}};Database={tmp / 'ledger.db'}", None),
    }


ROWS = [
    ("100001", "MULLER, ANNA", "", "1234.56", "19870315", "A"),
    ("100002", "O'BRIEN, SEAN", "O'BRIEN, AOIFE", "-42.50", "19990802", "A"),
    ("100003", "SMITH & SONS LTD", "", "18900.00", "19780104", "C"),
    ("100004", "FISCHER, URSULA", "", "0.05", "        ", "A"),
    ("100005", "DE JONG, JAN", "", "7.00", "20010101", "S"),
    ("100006", "MARTIN, CLAIRE", "", "99999999.99", "20150630", "A"),
    ("100007", "WALSH, NIAMH", "", "12.34", "20200229", "A"),
]

TOOLS = """\
backends:
  ledger:
    adapter: odbc
    connection: "${{LEDGER_ODBC}}"
    timeout_s: 2
    max_concurrency: 2
    column_case: upper
tools:
  get_account:
    description: One account by its number.
    backend: ledger
    operation: >-
      SELECT ACCT_NO, HOLDER, HOLDER2, BAL, OPENED, STATUS
      FROM {table} WHERE ACCT_NO = :ACCT_NO
    input:
      account: {{to: ACCT_NO, pattern: "^[0-9]{{6}}$"}}
    output:
      list: true
      fields: &account
        account: {{from: ACCT_NO, trim: true}}
        holder: {{from: HOLDER, trim: true}}
        co_holder: {{from: HOLDER2, trim: true, blank_is_null: true}}
        balance_eur: {{from: BAL, type: decimal}}
        opened_on: {{from: OPENED, type: date, format: "%Y%m%d"}}
        status: {{from: STATUS, codes: {{A: active, C: closed, S: suspended}}}}
  list_accounts:
    description: Accounts by status, in number order, a page at a time.
    backend: ledger
    max_rows: 3
    operation: >-
      SELECT ACCT_NO, HOLDER, HOLDER2, BAL, OPENED, STATUS
      FROM {table} WHERE STATUS = :STATUS ORDER BY ACCT_NO
    input:
      status: {{to: STATUS, codes: {{A: active, C: closed, S: suspended}}}}
    output:
      list: true
      fields: *account
  set_balance:
    description: Set one account's balance.
    backend: ledger
    effect: write
    expect_rows: 1
    operation: UPDATE {table} SET BAL = :BAL WHERE ACCT_NO = :ACCT_NO
    input:
      account: {{to: ACCT_NO, pattern: "^[0-9]{{6}}$"}}
      balance_eur: {{to: BAL, type: decimal}}
  close_accounts_of_status:
    description: Close accounts of a status (exactly one is expected).
    backend: ledger
    effect: write
    expect_rows: 1
    operation: UPDATE {table} SET STATUS = 'C' WHERE STATUS = :STATUS
    input:
      status: {{to: STATUS, codes: {{A: active, S: suspended}}}}
  open_account:
    description: Open an account.
    backend: ledger
    effect: write
    expect_rows: 1
    operation: >-
      INSERT INTO {table} (ACCT_NO, HOLDER, HOLDER2, BAL, OPENED, STATUS)
      VALUES (:ACCT_NO, :HOLDER, :HOLDER2, :BAL, :OPENED, 'A')
    input:
      account: {{to: ACCT_NO, pattern: "^[0-9]{{6}}$"}}
      holder: {{to: HOLDER, max_length: 20, sensitive: true}}
      co_holder: {{to: HOLDER2, required: false, max_length: 20, null_values: [""]}}
      balance_eur: {{to: BAL, type: decimal}}
      opened_on: {{to: OPENED, type: date, format: "%Y%m%d"}}
"""

SLEEP_TOOL = """\
  wait:
    description: Sleep in the database.
    backend: ledger
    operation: {sleep}
    input:
      seconds: {{to: seconds, type: integer}}
"""


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return _databases(tmp_path)[request.param]


@pytest.fixture
def table(database: Database) -> Iterator[str]:
    name = f"ACCT_{secrets.token_hex(4).upper()}"
    connection = pyodbc.connect(database.connection, autocommit=True, timeout=5)
    cursor = connection.cursor()
    cursor.execute(
        f"CREATE TABLE {name} (ACCT_NO CHAR(6) PRIMARY KEY, HOLDER CHAR(20) NOT NULL,"
        " HOLDER2 CHAR(20), BAL DECIMAL(11,2) NOT NULL, OPENED CHAR(8), STATUS CHAR(1))"
    )
    cursor.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    connection.close()
    yield name
    # A fresh connection: tests may have cut every session of the database.
    connection = pyodbc.connect(database.connection, autocommit=True, timeout=5)
    connection.cursor().execute(f"DROP TABLE {name}")
    connection.close()


@pytest.fixture
def ledger(
    database: Database, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("LEDGER_ODBC", database.connection)
    config = tmp_path / "config"
    config.mkdir()
    text = TOOLS.format(table=table)
    if database.sleep:
        text += SLEEP_TOOL.format(sleep=database.sleep)
    (config / "ledger.yaml").write_text(text)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        yield client


def _rows(database: Database, table: str, where: str = "") -> list[tuple[Any, ...]]:
    connection = pyodbc.connect(database.connection, autocommit=True, timeout=5)
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT ACCT_NO, HOLDER, BAL, STATUS FROM {table} {where} ORDER BY ACCT_NO")
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        connection.close()


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_a_typed_read_maps_padding_money_dates_codes_and_blanks(ledger: TestClient) -> None:
    result = _ok(call_tool(ledger, "get_account", {"account": "100001"}))
    assert result == {
        "items": [
            {
                "account": "100001",
                "holder": "MULLER, ANNA",
                "co_holder": None,
                "balance_eur": 1234.56,
                "opened_on": "1987-03-15",
                "status": "active",
            }
        ],
        "truncated": False,
        "next_cursor": None,
    }
    # A blank CHAR(8) date is null; money keeps its cents even where the driver returns text.
    fischer = _ok(call_tool(ledger, "get_account", {"account": "100004"}))["items"][0]
    assert (fischer["opened_on"], fischer["balance_eur"]) == (None, 0.05)
    big = _ok(call_tool(ledger, "get_account", {"account": "100006"}))["items"][0]
    assert big["balance_eur"] == 99999999.99


def test_the_statement_and_bind_values_are_on_the_record(ledger: TestClient) -> None:
    body = call_tool(ledger, "get_account", {"account": "100002"}).json()
    record = call_record(ledger, body["call_id"])
    (interaction,) = record["interactions"]
    assert interaction["adapter"] == "odbc"
    assert "WHERE ACCT_NO = :ACCT_NO" in interaction["operation"]
    assert interaction["request"]["sql"].endswith("WHERE ACCT_NO = ?")
    assert interaction["request"]["bind_values"] == ["100002"]
    assert interaction["response"]["rows_returned"] == 1
    assert interaction["response"]["columns"] == [
        "ACCT_NO", "HOLDER", "HOLDER2", "BAL", "OPENED", "STATUS",
    ]  # fmt: skip


def test_a_capped_read_pages_with_a_cursor(ledger: TestClient) -> None:
    first = _ok(call_tool(ledger, "list_accounts", {"status": "active"}))
    assert [a["account"] for a in first["items"]] == ["100001", "100002", "100004"]
    assert first["truncated"] is True
    assert "cursor" in first["notice"]

    second = _ok(
        call_tool(ledger, "list_accounts", {"status": "active"}, cursor=first["next_cursor"])
    )
    assert [a["account"] for a in second["items"]] == ["100006", "100007"]
    assert (second["truncated"], second["next_cursor"]) == (False, None)

    # A cursor is bound to the arguments it pages.
    other = call_tool(ledger, "list_accounts", {"status": "closed"}, cursor=first["next_cursor"])
    assert other.status_code == 422
    assert error_of(other)["details"]["errors"][0]["field"] == "cursor"


def test_a_write_commits_and_reports_rows_affected(
    ledger: TestClient, database: Database, table: str
) -> None:
    result = _ok(call_tool(ledger, "set_balance", {"account": "100005", "balance_eur": "8.25"}))
    assert result == {"rows_affected": 1}
    assert _rows(database, table, "WHERE ACCT_NO = '100005'")[0][2] in (
        8.25, "8.25", __import__("decimal").Decimal("8.25"),
    )  # fmt: skip


def test_expect_rows_rolls_back_a_write_that_touches_too_many_or_none(
    ledger: TestClient, database: Database, table: str
) -> None:
    before = _rows(database, table)
    too_many = call_tool(ledger, "close_accounts_of_status", {"status": "active"})
    assert too_many.status_code == 409
    error = error_of(too_many)
    assert error["code"] == "unexpected_row_count"
    assert error["details"] == {"rows_affected": 5, "expected": 1}
    none = call_tool(ledger, "set_balance", {"account": "999999", "balance_eur": 1})
    assert error_of(none)["details"]["rows_affected"] == 0
    assert _rows(database, table) == before

    # One suspended account: exactly what the tool expects, so it commits.
    assert _ok(call_tool(ledger, "close_accounts_of_status", {"status": "suspended"})) == {
        "rows_affected": 1
    }
    assert _rows(database, table, "WHERE ACCT_NO = '100005'")[0][3] == "C"


def test_an_argument_carrying_sql_is_stored_literally(
    ledger: TestClient, database: Database, table: str
) -> None:
    hostile = "X'); DROP TABLE T;--"
    arguments = {
        "account": "100099",
        "holder": hostile,
        "balance_eur": "1.00",
        "opened_on": "2024-06-11",
    }
    assert _ok(call_tool(ledger, "open_account", arguments)) == {"rows_affected": 1}
    stored = _ok(call_tool(ledger, "get_account", {"account": "100099"}))["items"][0]
    assert stored["holder"] == hostile
    assert stored["co_holder"] is None
    assert len(_rows(database, table)) == len(ROWS) + 1


def test_a_duplicate_key_is_a_conflict_with_its_sqlstate(
    ledger: TestClient, database: Database
) -> None:
    arguments = {
        "account": "100001",
        "holder": "SOMEONE ELSE",
        "balance_eur": 0,
        "opened_on": "2024-06-11",
    }
    response = call_tool(ledger, "open_account", arguments)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "legacy_conflict"
    # SQLite's driver says HY000 for every database error; the others say class 23.
    expected = "HY000" if database.name == "sqlite" else "23"
    assert error["details"]["sqlstate"].startswith(expected)


SERVERS = pytest.mark.parametrize("database", ["postgresql", "mariadb"], indirect=True)


@SERVERS  # an embedded SQLite file has neither a server-side sleep nor a connection to lose
def test_a_statement_timeout_is_a_504_and_the_next_call_works(
    ledger: TestClient, database: Database
) -> None:
    started = time.perf_counter()
    response = call_tool(ledger, "wait", {"seconds": 10})
    assert time.perf_counter() - started < 8
    assert response.status_code == 504, response.text
    assert error_of(response)["code"] == "legacy_timeout"
    assert _ok(call_tool(ledger, "get_account", {"account": "100001"}))["items"]


@SERVERS
def test_a_lost_connection_is_reopened_on_the_next_call(
    ledger: TestClient, database: Database
) -> None:
    assert _ok(call_tool(ledger, "get_account", {"account": "100001"}))["items"]
    _kill_other_sessions(database)
    outcomes = [call_tool(ledger, "get_account", {"account": "100001"}) for _ in range(3)]
    # The call on the dead connection may fail (retryable 503); the next ones reconnect.
    first = outcomes[0]
    if first.status_code != 200:
        assert first.status_code == 503, first.text
        assert error_of(first)["retryable"] is True
    assert all(response.status_code == 200 for response in outcomes[1:])


def _kill_other_sessions(database: Database) -> None:
    connection = pyodbc.connect(database.connection, autocommit=True, timeout=5)
    cursor = connection.cursor()
    if database.name == "postgresql":
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    else:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()")
        for (session,) in cursor.fetchall():
            try:
                cursor.execute(f"KILL {int(session)}")
            except pyodbc.Error:
                continue  # a system thread, or gone already
    connection.close()
    threading.Event().wait(0.2)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_postgresql_restart_in_the_middle_of_a_run(ledger: TestClient) -> None:
    before = [call_tool(ledger, "get_account", {"account": "100001"}) for _ in range(3)]
    assert all(response.status_code == 200 for response in before)

    _restart_postgresql()

    after = [call_tool(ledger, "get_account", {"account": "100001"}) for _ in range(4)]
    # Pooled connections died with the server: at most those calls fail, retryable; the
    # adapter reconnects for the next ones.
    failed = [response for response in after if response.status_code != 200]
    assert all(error_of(r)["code"] == "backend_unavailable" for r in failed), failed
    assert len(failed) <= 2
    assert after[-1].status_code == 200
    assert _ok(after[-1])["items"][0]["holder"] == "MULLER, ANNA"


def _restart_postgresql() -> None:
    import subprocess

    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    deadline = time.monotonic() + 30
    while True:  # up again and taking connections
        try:
            pyodbc.connect(_databases(Path("/tmp"))["postgresql"].connection, timeout=2).close()
            return
        except pyodbc.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_import_writes_a_skeleton_that_loads_and_answers(
    database: Database, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    result = CliRunner().invoke(
        app, ["import", "odbc", database.connection, "--table", table, "--backend", "books"]
    )
    assert result.exit_code == 0, result.output
    assert "# CHAR(8)" in result.stdout or "char(8)" in result.stdout.lower()
    config = tmp_path / "imported"
    config.mkdir()
    (config / "books.yaml").write_text(result.stdout)
    monkeypatch.setenv("BOOKS_ODBC", database.connection)
    key = "100001"
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        tool = f"get_{table.lower()}"
        response = call_tool(client, tool, {"acct_no": key})
        listing = call_tool(client, f"list_{table.lower()}", {})
    rows = _ok(response)["items"]
    assert [(row["acct_no"], row["holder"]) for row in rows] == [(key, "MULLER, ANNA")]
    assert _ok(listing)["items"][0]["acct_no"] == key


def test_sensitive_values_reach_the_database_but_not_the_record(
    ledger: TestClient, database: Database, table: str
) -> None:
    arguments = {
        "account": "100077",
        "holder": "SECRET HOLDER",
        "balance_eur": "3.00",
        "opened_on": "2024-06-11",
    }
    body = call_tool(ledger, "open_account", arguments).json()
    record = call_record(ledger, body["call_id"])

    assert _rows(database, table, "WHERE ACCT_NO = '100077'")[0][1].rstrip() == "SECRET HOLDER"
    assert record["arguments"]["holder"] == committed(ledger, "SECRET HOLDER")
    assert record["arguments"]["account"] == "100077"
    (interaction,) = record["interactions"]
    assert interaction["request"]["bind_values"][1] == committed(ledger, "SECRET HOLDER")
    assert interaction["request"]["bind_values"][0] == "100077"
    assert "SECRET" not in str(record)


PROCEDURES = {
    "postgresql": (
        "CREATE PROCEDURE {name}(a CHAR(6), b NUMERIC) LANGUAGE SQL AS"
        " $$ UPDATE {table} SET BAL = b WHERE ACCT_NO = a $$"
    ),
    "mariadb": (
        "CREATE PROCEDURE {name}(IN a CHAR(6), IN b DECIMAL(11,2))"
        " BEGIN UPDATE {table} SET BAL = b WHERE ACCT_NO = a; SELECT ROW_COUNT() AS N; END"
    ),
}


@SERVERS  # SQLite has no stored procedures
def test_a_stored_procedure_is_called_in_a_transaction(
    database: Database, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    procedure = f"SET_BAL_{table[-8:]}"
    admin = pyodbc.connect(database.connection, autocommit=True, timeout=5)
    admin.cursor().execute(PROCEDURES[database.name].format(name=procedure, table=table))
    monkeypatch.setenv("LEDGER_ODBC", database.connection)
    config = tmp_path / "config"
    config.mkdir()
    (config / "ledger.yaml").write_text(
        TOOLS.format(table=table)
        + f"""\
  set_balance_by_procedure:
    description: The legacy way to set a balance.
    backend: ledger
    effect: write
    operation: CALL {procedure}(:ACCT_NO, :BAL)
    input:
      account: {{to: ACCT_NO, pattern: "^[0-9]{{6}}$"}}
      balance_eur: {{to: BAL, type: decimal}}
"""
    )
    try:
        with gateway_client(config, tmp_path / "audit.sqlite") as client:
            arguments = {"account": "100003", "balance_eur": "77.70"}
            response = call_tool(client, "set_balance_by_procedure", arguments)
            assert response.status_code == 200, response.text
            assert "rows_affected" in response.json()["result"]
            balance = _ok(call_tool(client, "get_account", {"account": "100003"}))
        assert balance["items"][0]["balance_eur"] == 77.7
    finally:
        admin.cursor().execute(f"DROP PROCEDURE {procedure}")
        admin.close()


def test_validate_connect_names_output_columns_the_statement_does_not_answer(
    database: Database, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    monkeypatch.setenv("LEDGER_ODBC", database.connection)
    config = tmp_path / "config"
    config.mkdir()
    good = TOOLS.format(table=table)
    (config / "ledger.yaml").write_text(good)
    result = CliRunner().invoke(app, ["validate", str(config), "--connect"])
    assert result.exit_code == 0, result.output

    typo = """\
  find_holders:
    description: Holders by status.
    backend: ledger
    operation: >-
      SELECT ACCT_NO, HOLDER AS NAME, BAL FROM {table} WHERE STATUS = :STATUS
    input:
      status: {{to: STATUS}}
    output:
      list: true
      fields:
        account: {{from: ACCT_NO, trim: true}}
        name: {{from: NAMES, trim: true}}
        balance_eur:
          type: decimal
          from: bal
        source: {{const: ledger}}
        holder: {{from: "HOLDER || ACCT_NO"}}
"""
    (config / "ledger.yaml").write_text(good + typo.format(table=table))
    result = CliRunner().invoke(app, ["validate", str(config), "--connect"])
    assert result.exit_code != 0
    lines = [line.strip() for line in result.output.splitlines()]
    path = str(config / "ledger.yaml")
    names = f"{path}:{len(good.splitlines()) + 12}: tools.find_holders.output.fields.name.from"
    assert any(line.startswith(names) for line in lines), "\n".join(lines)
    assert (
        "the statement answers no column NAMES (it answers ACCT_NO, NAME, BAL); nearest: NAME"
        in (result.output)
    )
    bal = f"{path}:{len(good.splitlines()) + 15}: tools.find_holders.output.fields.balance_eur.from"
    assert any(line.startswith(bal) and line.endswith("nearest: BAL") for line in lines), lines
    # The const field and the JMESPath expression are not columns to check; the rows are as
    # they were.
    assert "fields.source" not in result.output and "fields.holder" not in result.output
    assert len(_rows(database, table)) == len(ROWS)
