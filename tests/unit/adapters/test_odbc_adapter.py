"""The ODBC adapter against a fake driver: statements, pages, row counts and errors."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.base import BackendSetupError, Interaction, Page
from adapters.odbc import OdbcAdapter, OdbcBackendConfig, OdbcToolSettings
from gateway.errors import (
    BackendUnavailable,
    InvalidArguments,
    LegacyConflict,
    UnexpectedRowCount,
)
from tests.unit.adapters.fakes import FakeConnection, FakeDriverError, FakePyodbc, context, loaded

CONFIG = """
backends:
  ledger:
    adapter: odbc
    connection: "DSN=ledger;PWD=s3cret-pw"
    max_concurrency: 1
tools:
  list_accounts:
    description: Accounts of a customer.
    backend: ledger
    operation: "SELECT ACCNO, BAL FROM ACCOUNTS WHERE CUSTNO = :custno"
    max_rows: 2
    input:
      customer: {to: custno}
    output:
      list: true
      fields:
        account: {from: ACCNO}
  close_account:
    description: Close one account.
    backend: ledger
    operation: "UPDATE ACCOUNTS SET STATUS = 'C' WHERE ACCNO = :accno"
    effect: write
    expect_rows: 1
    input:
      account: {to: accno}
"""


def opened(tmp_path: Path, connection: FakeConnection) -> tuple[OdbcAdapter, Any]:
    config = loaded(tmp_path, CONFIG)
    backend = config.backends["ledger"]
    assert isinstance(backend, OdbcBackendConfig)
    adapter = OdbcAdapter("ledger", backend)
    adapter._pyodbc = FakePyodbc(connection)
    asyncio.run(adapter.open())
    return adapter, config


def run(adapter: OdbcAdapter, prepared: Any, params: dict[str, Any], **kw: Any) -> Any:
    async def go() -> Any:
        return await adapter.call(prepared, params, kw.pop("ctx"))

    return asyncio.run(go())


def test_expect_rows_is_an_odbc_tool_key(tmp_path: Path) -> None:
    config = loaded(tmp_path, CONFIG)
    assert OdbcToolSettings.of(config.tools["close_account"]).expect_rows == 1
    assert OdbcToolSettings.of(config.tools["list_accounts"]).expect_rows is None
    assert "expect_rows" not in type(config.tools["close_account"]).model_fields


def test_a_read_answers_a_page_and_records_the_statement(tmp_path: Path) -> None:
    connection = FakeConnection([(["ACCNO", "BAL"], [("A1", Decimal("1.50")), ("A2", 7)])])
    adapter, config = opened(tmp_path, connection)
    prepared = adapter.prepare(config.tools["list_accounts"])
    recorded: list[Interaction] = []

    page = run(adapter, prepared, {"custno": "C9"}, ctx=context(recorded))

    assert page == Page([{"ACCNO": "A1", "BAL": Decimal("1.50")}, {"ACCNO": "A2", "BAL": 7}], None)
    assert connection.executed[-1] == (
        "SELECT ACCNO, BAL FROM ACCOUNTS WHERE CUSTNO = ?",
        ["C9"],
    )
    assert connection.rollbacks >= 1 and connection.commits == 1  # the read changes nothing
    (interaction,) = recorded
    assert interaction.as_record() | {"duration_ms": 0} == {
        "adapter": "odbc",
        "backend": "ledger",
        "operation": "SELECT ACCNO, BAL FROM ACCOUNTS WHERE CUSTNO = :custno",
        "attempt": 1,
        "request": {
            "sql": "SELECT ACCNO, BAL FROM ACCOUNTS WHERE CUSTNO = ?",
            "bind_values": ["C9"],
            "offset": 0,
        },
        "response": {"columns": ["ACCNO", "BAL"], "rows_returned": 2, "more": False},
        "duration_ms": 0,
        "error": None,
    }


def test_more_rows_than_the_cap_give_a_cursor_to_the_next_page(tmp_path: Path) -> None:
    rows = [("A1", 1), ("A2", 2), ("A3", 3)]
    connection = FakeConnection([(["ACCNO", "BAL"], rows), (["ACCNO", "BAL"], rows)])
    adapter, config = opened(tmp_path, connection)
    prepared = adapter.prepare(config.tools["list_accounts"])
    recorded: list[Interaction] = []

    first = run(adapter, prepared, {"custno": "C9"}, ctx=context(recorded))
    assert [row["ACCNO"] for row in first.records] == ["A1", "A2"]
    assert first.next_cursor is not None
    assert "max_rows 2" in first.reason

    second = run(adapter, prepared, {"custno": "C9"}, ctx=context(recorded, first.next_cursor))
    assert [row["ACCNO"] for row in second.records] == ["A3"]
    assert second.next_cursor is None
    assert [i.request["offset"] for i in recorded] == [0, 2]


def test_a_cursor_of_other_arguments_is_refused_and_nothing_is_recorded(tmp_path: Path) -> None:
    rows = [("A1", 1), ("A2", 2), ("A3", 3)]
    adapter, config = opened(tmp_path, FakeConnection([(["ACCNO", "BAL"], rows)]))
    prepared = adapter.prepare(config.tools["list_accounts"])
    recorded: list[Interaction] = []
    cursor = run(adapter, prepared, {"custno": "C9"}, ctx=context(recorded)).next_cursor

    with pytest.raises(InvalidArguments, match="cursor"):
        run(adapter, prepared, {"custno": "OTHER"}, ctx=context(recorded, cursor))
    assert len(recorded) == 1


def test_a_write_touching_other_rows_than_expected_is_rolled_back(tmp_path: Path) -> None:
    connection = FakeConnection([3])
    adapter, config = opened(tmp_path, connection)
    prepared = adapter.prepare(config.tools["close_account"])
    recorded: list[Interaction] = []

    with pytest.raises(UnexpectedRowCount) as caught:
        run(adapter, prepared, {"accno": "A1"}, ctx=context(recorded))

    assert caught.value.details == {"rows_affected": 3, "expected": 1}
    assert connection.commits == 1  # the session setup only, never the write
    (interaction,) = recorded
    assert interaction.response is None
    assert interaction.error == {
        "code": "unexpected_row_count",
        "message": "the statement would touch 3 row(s), not 1; rolled back",
        "rows_affected": 3,
        "expected": 1,
    }


def test_a_write_with_the_expected_count_is_committed(tmp_path: Path) -> None:
    connection = FakeConnection([1])
    adapter, config = opened(tmp_path, connection)
    recorded: list[Interaction] = []

    answer = run(
        adapter, adapter.prepare(config.tools["close_account"]), {"accno": "A1"},
        ctx=context(recorded),
    )  # fmt: skip

    assert answer == {"rows_affected": 1}
    assert connection.commits == 2
    assert recorded[0].response == {"rows_affected": 1, "committed": True}


def test_driver_errors_become_the_gateways_by_sqlstate(tmp_path: Path) -> None:
    duplicate = FakeDriverError("23505", "[Driver][PostgreSQL] duplicate key value")
    lost = FakeDriverError("08S01", "[Driver] communication link failure")
    connection = FakeConnection([duplicate, lost])
    adapter, config = opened(tmp_path, connection)
    prepared = adapter.prepare(config.tools["close_account"])
    recorded: list[Interaction] = []

    with pytest.raises(LegacyConflict, match="duplicate key value"):
        run(adapter, prepared, {"accno": "A1"}, ctx=context(recorded))
    assert not connection.closed  # a refused write leaves the connection usable
    with pytest.raises(BackendUnavailable, match="08S01"):
        run(adapter, prepared, {"accno": "A1"}, ctx=context(recorded))
    assert connection.closed  # a lost connection is never handed out again

    assert [i.error["code"] for i in recorded if i.error] == [
        "legacy_conflict",
        "backend_unavailable",
    ]
    assert "PWD" not in repr([i.as_record() for i in recorded])


def test_expect_rows_on_a_read_is_a_located_setup_error(tmp_path: Path) -> None:
    config = loaded(tmp_path, CONFIG.replace("    max_rows: 2\n", "    expect_rows: 2\n"))
    backend = config.backends["ledger"]
    assert isinstance(backend, OdbcBackendConfig)
    with pytest.raises(BackendSetupError) as caught:
        OdbcAdapter("ledger", backend).prepare(config.tools["list_accounts"])
    assert caught.value.loc == ("expect_rows",)
