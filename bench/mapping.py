"""P2 and P3: what the mapping language costs on large answers, measured in one run.

P2: a 1,000-record SOAP answer (the demo estate's ListCustomers page, fetched once over
HTTP) turned into the JSON the agent gets by the gateway's own path for ``list_customers``
(SOAP envelope parsed with the hardened parser, body read into values, every field mapped:
trim, cents, dates, units, codes, timestamps with a timezone, a copybook EBCDIC record per
customer; then serialised), against a bare ``lxml.etree.fromstring`` of the same bytes.

P3: 10,000 legacy-shaped rows (CHAR-padded text, integer cents, CHAR(8) dates, inches, one
letter codes, blanks for none) fetched from SQLite with ``fetchall`` and handed to the mapper
with their column names, as a database adapter hands them, and mapped (trim, decimal scale,
date, unit, code table, blank as null), against the same fetch unmapped. ``--dict-rows``
hands them over as one dict per row instead, as the adapter once did (the fetch then builds
the dicts too).

Beside P2 it prints what zeep alone costs on the same answer (its deserialisation, no
mapping) against the same bare parse; ``--profile`` shows where the mapped path's time goes.

The variants alternate within each round (so noise hits both alike); each ratio is the
median over rounds. Prints ``P2 bulk-soap/lxml = X`` and ``P3 mapped/fetch = X``.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import pstats
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
import zeep
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from adapters.installed import INSTALLED
from estate.server import EstateServer
from gateway.config.loader import load_config
from gateway.mapping.records import OutputMapper
from gateway.mapping.redaction import Commitments
from gateway.mapping.rows import FetchedRows
from gateway.mapping.spec import OutputSpec
from gateway.tools import build_registry

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


def soap_page(records: int) -> tuple[bytes, Any]:
    """The answer's bytes, and zeep's deserialiser of the operation (from the same WSDL)."""
    with EstateServer() as estate:
        response = httpx.post(
            estate.customer_master_url,
            content=LIST_PAGE.format(size=records),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"ListCustomers"'},
        )
        client = zeep.Client(estate.customer_master_wsdl)
    response.raise_for_status()
    return response.content, client.service._binding.get("ListCustomers")


def p2(records: int, rounds: int, profile: bool) -> float:
    payload, operation = soap_page(records)
    tool = build_registry(
        load_config(ROOT / "mappings" / "demo", INSTALLED), Commitments.throwaway()
    ).tools["list_customers"]

    def mapped() -> bytes:
        answer = tool.adapter.parse_answer(tool.prepared, payload)
        return orjson.dumps(tool.output(answer))

    def bare() -> Any:
        return etree.fromstring(payload)

    def zeep_alone() -> Any:
        # What an agent's SOAP client pays before any mapping: zeep's object model.
        return operation.process_reply(etree.fromstring(payload))

    result = orjson.loads(mapped())
    assert len(result["customers"]) == records, "the page did not map every record"
    gateway, lxml_only = alternate(mapped, bare, rounds)
    zeep_times, lxml_again = alternate(zeep_alone, bare, max(3, rounds // 3))
    ratio = statistics.median(gateway) / statistics.median(lxml_only)
    zeep_ratio = statistics.median(zeep_times) / statistics.median(lxml_again)
    print(f"P2 bulk-soap/lxml = {ratio:.2f}  (zeep alone, no mapping: {zeep_ratio:.1f})")
    print(
        f"   {len(payload) / 1024:.0f} KiB, {records} records: lxml parse "
        f"{statistics.median(lxml_only) * 1000:.2f} ms, mapped JSON "
        f"{statistics.median(gateway) * 1000:.2f} ms "
        f"({statistics.median(gateway) / records * 1e6:.1f} us a record); target <= 3.0"
    )
    where_the_time_goes(tool, payload, rounds)
    if profile:
        profiled(mapped)
    return ratio


def profiled(run: Callable[[], Any]) -> None:
    """The functions the mapped path spends its time in (cProfile, own time)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        run()
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(15)
    print(stream.getvalue())


def where_the_time_goes(tool: Any, payload: bytes, rounds: int) -> None:
    """The mapped path in stages, and the share of the copybook field within the mapping."""
    answer = tool.adapter.parse_answer(tool.prepared, payload)
    result = tool.output(answer)
    layout = OutputSpec.model_validate(MEASUREMENTS).fields["m"].record.compiled
    records = [base64.b64decode(c["MEASURE_REC"]) for c in answer["CUSTOMER"]]
    # The customer's copybook field alone, mapped as the list maps it (base64, decode, map).
    customer = tool.config.output.fields["customers"].fields
    assert customer is not None
    copybook_field = OutputMapper(
        OutputSpec.model_validate({"list": True, "fields": {"m": customer["measurements"]}})
    )
    stages = {
        "envelope parse and XML to values": lambda: tool.adapter.parse_answer(
            tool.prepared, payload
        ),
        "mapping": lambda: tool.output(answer),
        "of which the copybook field": lambda: copybook_field(answer["CUSTOMER"]),
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


def p3(rows: int, rounds: int, dict_rows: bool) -> float:
    db = legacy_rows(rows)
    mapper = OutputMapper(OutputSpec.model_validate(ROWS_SPEC))

    def fetch() -> Any:
        cursor = db.execute("SELECT * FROM ACCOUNTS")
        columns = [column[0] for column in cursor.description]
        if dict_rows:
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return FetchedRows(columns, cursor.fetchall())

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
    parser.add_argument("--profile", action="store_true", help="profile the mapped P2 path")
    parser.add_argument("--dict-rows", action="store_true", help="P3 with one dict per row")
    args = parser.parse_args()
    p2(args.records, args.rounds, args.profile)
    p3(args.rows, args.rounds, args.dict_rows)


if __name__ == "__main__":
    main()
