"""The experiments report over a large record store: what a window costs to read.

Builds a SQLite store of N calls (default 200,000) of one tool with two variants, spread
evenly over ``--days`` days (default 30) up to now, each an intent, an interaction and an
outcome, one in fifty with feedback, written by bulk insert with their times set. Then times
``experiments report`` three ways, each the best of ``--repeat`` runs:

- full scan: the report over a reader that can only list records by kind, as the report
  read the store before the (kind, at) index: every record of its kinds, filtered after;
- indexed: the report over the store itself, which reads the window from the index (for
  a fixed --since the answers must be equal; a tool's window moves with the clock);
- the whole history (no window), for scale.

Prints ``report --since S (N calls): full
scan X s, indexed Y s, Z times faster`` for the last day and for a tool's 7-day window.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gateway.audit.records import RecordContext, StoredRecord, encode  # noqa: E402
from gateway.audit.sqlite_store import SQLiteStore  # noqa: E402
from gateway.experiments.report import report  # noqa: E402

CHUNK = 50_000
TOOL = "get_exchange_rate"


class FullScan:
    """The store as the report could read it before: records by kind, nothing else."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        return self.store.records_of_kind(*kinds)


def generated(calls: int, days: int) -> Iterator[tuple[Any, ...]]:
    """Rows of the records table, in log order and in time order."""
    end = datetime.now(UTC) - timedelta(minutes=1)
    step = timedelta(days=days) / calls
    begin = end - timedelta(days=days)
    index = 0
    for n in range(calls):
        at = begin + step * n
        call_id = f"call-{n:07d}"
        variant = "explicit_codes" if n % 2 else "baseline"
        context = RecordContext("t" * 32, "s" * 16, f"key:agent-{n % 50}", "sha256:bench")
        failed = n % 7 == 0 if variant == "baseline" else n % 23 == 0
        entries: list[tuple[str, dict[str, Any]]] = [
            ("call.intent", {"tool": TOOL, "variant": variant, "backend": "fx",
                             "arguments": {"from_currency": "EUR", "to_currency": "USD"},
                             "context": {"agent_version": "7"}, "principal": context.principal}),
            ("interaction", {"backend": "fx", "adapter": "soap", "attempt": 1,
                             "duration_ms": 4.2, "status": 200}),
            ("call.outcome", {"status": "error", "error": {"code": "legacy_fault"},
                              "duration_ms": 5.0} if failed else
                             {"status": "ok", "result": {"rate": 1.08}, "duration_ms": 5.0}),
        ]  # fmt: skip
        if n % 50 == 0:
            entries.append(("call.feedback", {"score": 4 if variant != "baseline" else 3}))
        for offset, (kind, body) in enumerate(entries):
            when = (at + timedelta(milliseconds=offset)).isoformat(timespec="microseconds")
            record = StoredRecord(index, when, kind, call_id, body, context)
            yield index, when, kind, call_id, encode(record)
            index += 1


def build(path: Path, calls: int, days: int) -> int:
    store = SQLiteStore(path)
    store.close()
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    rows = generated(calls, days)
    written = 0
    while True:
        chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            break
        db.execute("BEGIN")
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", chunk)
        db.execute("COMMIT")
        written += len(chunk)
    db.close()
    return written


def best(run: Callable[[], dict[str, Any]], repeat: int) -> tuple[float, dict[str, Any]]:
    times, answer = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        answer = run()
        times.append(time.perf_counter() - started)
    return min(times), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "audit.sqlite"
        started = time.perf_counter()
        records = build(path, args.calls, args.days)
        print(f"built {records} records ({args.calls} calls over {args.days} days) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        store = SQLiteStore(path)
        # A fixed moment for --since, so that both reads cover the very same calls; a tool's
        # window ("7d") moves with the clock, so a call at its edge may differ between runs.
        day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        cases: list[tuple[str, dict[str, Any]]] = [
            ("--since 24h", {"since": day_ago}),
            ("--tool, window 7d", {"tool": TOOL, "windows": {TOOL: "7d"}}),
        ]
        for label, options in cases:
            scan, before = best(lambda o=options: report(FullScan(store), **o), args.repeat)
            index, after = best(lambda o=options: report(store, **o), args.repeat)
            counted = sum(g["calls"] for t in after["tools"] for g in t["groups"])
            if "since" in options:
                assert before == after, "the indexed read changed the report"
            else:
                was = sum(g["calls"] for t in before["tools"] for g in t["groups"])
                assert abs(was - counted) <= 2 * args.repeat, (was, counted)
            print(f"report {label} ({counted} of {args.calls} calls): full scan {scan:.3f} s, "
                  f"indexed {index:.3f} s, {scan / index:.1f} times faster")  # fmt: skip
        whole, answer = best(lambda: report(store), 1)
        counted = sum(g["calls"] for t in answer["tools"] for g in t["groups"])
        print(f"report, the whole history ({counted} calls): {whole:.3f} s")
        store.close()


if __name__ == "__main__":
    main()
