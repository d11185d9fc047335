"""The ODBC adapter's cost, on PostgreSQL (psqlODBC) and SQLite (SQLite ODBC), in one run.

P-odbc: a single-row read tool called through the gateway in process (argument mapping,
intent record committed, statement on a pooled connection in a worker thread, output
mapping, interaction and outcome records committed), against the same statement through
bare pyodbc on an open connection.

P3: 10,000 legacy rows (CHAR-padded text, DECIMAL money, CHAR(8) dates, inches, one-letter
codes, blanks for none) fetched through the adapter and mapped (trim, decimal, date, unit,
code table, blank as null) against a bare ``fetchall`` of the same statement.

Variants alternate within each round; ratios are medians over rounds. Prints
``P-odbc gateway/direct = X`` and ``P3 mapped/fetch = X`` for each database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pyodbc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from adapters.base import CallContext
from adapters.installed import INSTALLED
from gateway.audit.sqlite_store import SQLiteStore
from gateway.config.loader import load_config
from gateway.mapping.redaction import Commitments
from gateway.runtime import Gateway
from gateway.tools import build_registry

CONFIG = """\
backends:
  books:
    adapter: odbc
    connection: "{connection}"
    column_case: upper
    max_concurrency: 2
    max_rows: 20000
    max_bytes: 100000000
tools:
  get_row:
    description: One account.
    backend: books
    operation: SELECT ACCT_NO, HOLDER, ADDR2, BAL, OPENED, HEIGHT_IN, STATUS
      FROM {table} WHERE ACCT_NO = :ACCT_NO
    input:
      account: {{to: ACCT_NO}}
    output:
      list: true
      fields: &row
        account: {{from: ACCT_NO, trim: true}}
        holder: {{from: HOLDER, trim: true}}
        address_line2: {{from: ADDR2, trim: true, blank_is_null: true}}
        balance: {{from: BAL, type: decimal}}
        opened_on: {{from: OPENED, type: date, format: "%Y%m%d"}}
        height_cm: {{from: HEIGHT_IN, unit: {{from: inch, to: cm, round: 1}}}}
        status: {{from: STATUS, codes: {{A: active, C: closed, S: suspended}}}}
  all_rows:
    description: Every account.
    backend: books
    operation: SELECT ACCT_NO, HOLDER, ADDR2, BAL, OPENED, HEIGHT_IN, STATUS FROM {table}
    output:
      list: true
      fields: *row
"""
COLUMNS = "ACCT_NO, HOLDER, ADDR2, BAL, OPENED, HEIGHT_IN, STATUS"


def fill(connection_string: str, rows: int, table: str) -> None:
    rng = random.Random(7)
    connection = pyodbc.connect(connection_string, autocommit=True)
    cursor = connection.cursor()
    with contextlib.suppress(pyodbc.Error):  # not there yet
        cursor.execute(f"DROP TABLE {table}")
    cursor.execute(
        f"CREATE TABLE {table} (ACCT_NO CHAR(10) PRIMARY KEY, HOLDER CHAR(30), ADDR2 CHAR(30),"
        " BAL DECIMAL(13,2), OPENED CHAR(8), HEIGHT_IN DECIMAL(4,1), STATUS CHAR(1))"
    )
    data = [
        (
            f"{n:010d}",
            f"CUSTOMER {rng.randint(1, 99999)}".ljust(30),
            " " * 30 if rng.random() < 0.6 else "APARTMENT 4".ljust(30),
            f"{rng.randint(-100_000, 5_000_000) / 100:.2f}",
            f"{rng.randint(1975, 2024)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
            f"{rng.randint(580, 780) / 10:.1f}",
            rng.choice("AAAACS"),
        )
        for n in range(rows)
    ]
    cursor.fast_executemany = "SQLite" not in connection_string
    connection.autocommit = False
    cursor.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)", data)
    connection.commit()
    connection.close()


async def alternate(
    first: Callable[[], Awaitable[Any]], second: Callable[[], Awaitable[Any]], rounds: int
) -> tuple[list[float], list[float]]:
    for _ in range(3):
        await first()
        await second()
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        await first()
        a.append(time.perf_counter() - started)
        started = time.perf_counter()
        await second()
        b.append(time.perf_counter() - started)
    return a, b


async def measure(
    name: str, connection_string: str, rows: int, calls: int, rounds: int, table: str
) -> None:
    fill(connection_string, rows, table)
    select_all = f"SELECT {COLUMNS} FROM {table}"
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / "books.yaml").write_text(
            CONFIG.format(connection=connection_string, table=table)
        )
        gateway = Gateway(
            build_registry(load_config(directory, INSTALLED), Commitments.throwaway()),
            SQLiteStore(directory / "a.db"),
        )
        await gateway.start()
        try:
            bare = pyodbc.connect(connection_string, autocommit=False)
            cursor = bare.cursor()
            key = f"{rows // 2:010d}"

            async def through_gateway() -> Any:
                for _ in range(calls):
                    await gateway.call("get_row", {"account": key})

            async def direct() -> Any:
                for _ in range(calls):
                    cursor.execute(f"{select_all} WHERE ACCT_NO = ?", key)
                    cursor.fetchall()
                    bare.rollback()

            gateway_times, direct_times = await alternate(through_gateway, direct, rounds)
            ratio = statistics.median(gateway_times) / statistics.median(direct_times)
            per_gateway = statistics.median(gateway_times) / calls * 1000
            per_direct = statistics.median(direct_times) / calls * 1000
            print(f"{name}: P-odbc gateway/direct = {ratio:.2f}")
            print(f"   one-row read: gateway {per_gateway:.3f} ms, pyodbc {per_direct:.3f} ms")

            tool = gateway.tools["all_rows"]
            context = CallContext("bench", "0" * 32, "all_rows", 60, lambda _: None)

            async def mapped() -> Any:
                page = await tool.adapter.call(tool.prepared, {}, context)
                return tool.output(page.records)

            async def fetch() -> Any:
                cursor.execute(select_all)
                fetched = cursor.fetchall()
                bare.rollback()
                return fetched

            assert len((await mapped())["items"]) == rows
            mapped_times, fetch_times = await alternate(mapped, fetch, max(5, rounds // 2))
            ratio = statistics.median(mapped_times) / statistics.median(fetch_times)
            print(f"{name}: P3 mapped/fetch = {ratio:.2f}")
            print(
                f"   {rows} rows: fetchall {statistics.median(fetch_times) * 1000:.1f} ms, "
                f"fetched and mapped {statistics.median(mapped_times) * 1000:.1f} ms; "
                "target <= 1.5"
            )
            await where_the_time_goes(tool, context, max(5, rounds // 2))
            bare.close()
        finally:
            await gateway.stop()
            gateway.store.close()
            drop = pyodbc.connect(connection_string, autocommit=True)
            drop.cursor().execute(f"DROP TABLE {table}")
            drop.close()


async def where_the_time_goes(tool: Any, context: CallContext, rounds: int) -> None:
    """The mapped path in two stages: the adapter's read (statement, fetch in batches, row
    dicts, caps, on a worker thread) and the output mapping of its rows."""
    page = await tool.adapter.call(tool.prepared, {}, context)
    reads: list[float] = []
    maps: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        await tool.adapter.call(tool.prepared, {}, context)
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        tool.output(page.records)
        maps.append(time.perf_counter() - started)
    read, mapping = statistics.median(reads), statistics.median(maps)
    rows = len(page.records)
    print(
        f"   adapter read {read * 1000:.1f} ms, output mapping {mapping * 1000:.1f} ms "
        f"({mapping / rows * 1e6:.2f} us a row)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=100, help="one-row reads per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--postgresql",
        default="DRIVER={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;Uid=root;",
    )
    parser.add_argument(
        "--table", default="BENCH_ACCOUNTS", help="runs sharing a database each need their own"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        databases = {
            "postgresql": args.postgresql,
            "sqlite": f"DRIVER={{SQLite3}};Database={Path(scratch) / 'bench.db'}",
        }
        for name, connection in databases.items():
            asyncio.run(measure(name, connection, args.rows, args.calls, args.rounds, args.table))


if __name__ == "__main__":
    main()
