"""P2 and P3: what the mapping language costs on large answers, measured in one run.

P2: a 1,000-record SOAP answer (the demo estate's ListCustomers page, fetched once over
HTTP) turned into the JSON the agent gets by the gateway's own path for ``list_customers``
(SOAP envelope parsed with the hardened parser, body read into values, every field mapped:
trim, cents, dates, units, codes, timestamps with a timezone, a copybook EBCDIC record per
customer; then serialised), against a bare ``lxml.etree.fromstring`` of the same bytes.

P3: 10,000 legacy-shaped rows (CHAR-padded text, integer cents, CHAR(8) dates, inches, one
letter codes, blanks for none) fetched from SQLite with ``fetchall`` into dicts by column
name, as a database adapter hands them to the mapper, and mapped (trim, decimal scale,
date, unit, code table, blank as null), against the same fetch unmapped.

The variants alternate within each round (so noise hits both alike); each ratio is the
median over rounds. Prints ``P2 bulk-soap/lxml = X`` and ``P3 mapped/fetch = X``.
"""

from __future__ import annotations

import argparse
import base64
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from estate.server import EstateServer
from gateway.config.loader import load_config
from gateway.mapping.records import OutputMapper
from gateway.mapping.spec import OutputSpec
from gateway.registry import build_registry

ROOT = Path(__file__).resolve().parents[1]
LIST_PAGE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<ListCustomers xmlns="urn:legacy:customer-master:v1"><PAGE_NO>1</PAGE_NO>'
    "<PAGE_SIZE>{size}</PAGE_SIZE></ListCustomers></soap:Body></soap:Envelope>"
)
MEASUREMENTS = {
    "fields": {
        "m": {
            "from": "MEASURE_REC",
            "record": {"copybook": str(ROOT / "mappings/demo/copybooks/measurements.cpy")},
            "fields": {"n": {"from": "MEAS-NOTE"}},
        }
    }
}
ROWS_SPEC = {
    "list": True,
    "fields": {
        "account": {"from": "ACCT_NO", "trim": True},
        "name": {"from": "NAME", "trim": True},
        "balance_eur": {"from": "BAL_CENTS", "scale": -2},
        "opened_on": {"from": "OPEN_DT", "type": "date", "format": "%Y%m%d"},
        "height_cm": {"from": "HEIGHT_IN", "unit": {"from": "inch", "to": "cm", "round": 1}},
        "status": {"from": "STAT_CD", "codes": {"A": "active", "C": "closed", "S": "suspended"}},
        "address_line2": {"from": "ADDR2", "trim": True, "blank_is_null": True},
    },
}


def alternate(
    first: Callable[[], Any], second: Callable[[], Any], rounds: int
) -> tuple[list[float], list[float]]:
    for _ in range(3):  # warm up: imports, memo tables, allocator
        first()
        second()
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        first()
        a.append(time.perf_counter() - started)
        started = time.perf_counter()
        second()
        b.append(time.perf_counter() - started)
    return a, b


def soap_page(records: int) -> bytes:
    with EstateServer() as estate:
        response = httpx.post(
            estate.customer_master_url,
            content=LIST_PAGE.format(size=records),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"ListCustomers"'},
        )
    response.raise_for_status()
    return response.content


def p2(records: int, rounds: int) -> float:
    payload = soap_page(records)
    tool = build_registry(load_config(ROOT / "mappings" / "demo")).tools["list_customers"]

    def mapped() -> bytes:
        answer = tool.adapter.parse_answer(tool.prepared, payload)
        return orjson.dumps(tool.output(answer))

    def bare() -> Any:
        return etree.fromstring(payload)

    result = orjson.loads(mapped())
    assert len(result["customers"]) == records, "the page did not map every record"
    gateway, lxml_only = alternate(mapped, bare, rounds)
    ratio = statistics.median(gateway) / statistics.median(lxml_only)
    print(f"P2 bulk-soap/lxml = {ratio:.2f}")
    print(
        f"   {len(payload) / 1024:.0f} KiB, {records} records: lxml parse "
        f"{statistics.median(lxml_only) * 1000:.2f} ms, mapped JSON "
        f"{statistics.median(gateway) * 1000:.2f} ms "
        f"({statistics.median(gateway) / records * 1e6:.1f} us a record); target <= 3.0"
    )
    where_the_time_goes(tool, payload, rounds)
    return ratio


def where_the_time_goes(tool: Any, payload: bytes, rounds: int) -> None:
    """The mapped path in stages, and the share of the copybook field within the mapping."""
    answer = tool.adapter.parse_answer(tool.prepared, payload)
    result = tool.output(answer)
    layout = OutputSpec.model_validate(MEASUREMENTS).fields["m"].record.compiled
    records = [base64.b64decode(c["MEASURE_REC"]) for c in answer["CUSTOMER"]]
    stages = {
        "envelope parse and XML to values": lambda: tool.adapter.parse_answer(
            tool.prepared, payload
        ),
        "mapping": lambda: tool.output(answer),
        "of which decoding the copybook records": lambda: [layout.decode(r) for r in records],
        "JSON": lambda: orjson.dumps(result),
    }
    for stage, run in stages.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        print(f"   {stage}: {statistics.median(times) * 1000:.2f} ms")


def legacy_rows(count: int) -> sqlite3.Connection:
    rng = random.Random(1987)
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE ACCOUNTS (ACCT_NO CHAR(10), NAME CHAR(30), BAL_CENTS INTEGER,"
        " OPEN_DT CHAR(8), HEIGHT_IN TEXT, STAT_CD CHAR(1), ADDR2 CHAR(30))"
    )
    rows = [
        (
            f"{n:08d}".ljust(10),
            f"CUSTOMER {rng.randint(1, 99999)}".ljust(30),
            rng.randint(-100_000, 5_000_000),
            f"{rng.randint(1975, 2024)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
            f"{rng.randint(580, 780) / 10:.1f}",
            rng.choice("AAAACS"),
            " " * 30 if rng.random() < 0.6 else "APARTMENT 4".ljust(30),
        )
        for n in range(count)
    ]
    db.executemany("INSERT INTO ACCOUNTS VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return db


def p3(rows: int, rounds: int) -> float:
    db = legacy_rows(rows)
    mapper = OutputMapper(OutputSpec.model_validate(ROWS_SPEC))

    def fetch() -> list[dict[str, Any]]:
        cursor = db.execute("SELECT * FROM ACCOUNTS")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def fetch_and_map() -> Any:
        return mapper(fetch())

    assert len(fetch_and_map()["items"]) == rows
    mapped, unmapped = alternate(fetch_and_map, fetch, rounds)
    ratio = statistics.median(mapped) / statistics.median(unmapped)
    print(f"P3 mapped/fetch = {ratio:.2f}")
    print(
        f"   {rows} rows: fetch {statistics.median(unmapped) * 1000:.2f} ms, fetch and map "
        f"{statistics.median(mapped) * 1000:.2f} ms "
        f"({(statistics.median(mapped) - statistics.median(unmapped)) / rows * 1e6:.2f} us "
        "of mapping a row); target <= 1.5"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1000, help="records of the SOAP page")
    parser.add_argument("--rows", type=int, default=10_000, help="database rows")
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    p2(args.records, args.rounds)
    p3(args.rows, args.rounds)


if __name__ == "__main__":
    main()
