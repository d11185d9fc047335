"""The audit log's Merkle tree at scale: start-up, memory and proofs over a large store.

Builds a store of N records (default 1,000,000) by bulk insert: records whose stored JSON
is already canonical (sorted keys, ASCII), their leaf hashes, and the subtree hashes the
live log keeps, as if the log had integrated them one by one. Then, each in a fresh process:

- live: the gateway's path. ``AuditLog.sync()`` on the store (load the compact range, sign
  a checkpoint), its time and resident memory, then inclusion proofs of random records
  against the checkpoint, consistency proofs between random sizes, and ``proof_of_call``.
- serve: ``legacy-gateway serve`` (one tool, API keys on) started on the store, and on an
  empty one for comparison: the time from launching it to ``/readyz`` answering, which is
  what an operator waits for at a restart (SQLite only).
- rebuild (``--rebuild``): the verifier's path for comparison, every leaf read into a
  ``MerkleTree`` and its root computed, as the live log did at start before.

The generated store lives in a temporary directory (``--keep DIR`` to reuse one) and is
removed afterwards. Building grows linearly: on SQLite about 20 s and 500 MB a million
records (records 410 MB, leaf hashes 41 MB, subtree hashes 3 MB), 150 s and 5 GB for
10,000,000. The live log's start-up and proofs grow with log2(N): measured here, start-up
5 ms and 49 MB resident, an inclusion proof 0.11 ms at 1,000,000 records and 0.13 ms at
10,000,000; the full rebuild at 1,000,000 took 2.7 s and 305 MB more. On PostgreSQL
(``--postgres URL``), 1,000,000 records: a proof 0.5 to 0.8 ms, one query each.

Prints ``audit start-up (N records) = X s, RSS Y MB``, ``serve ready (N records) = X s`` and the
proof times (p50, p99 and the slowest of ``--samples``) last.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _procs import LAUNCHED, gateway_process  # noqa: E402

from gateway.audit.log import AuditLog, AuditSettings  # noqa: E402
from gateway.audit.merkle import MerkleTree, leaf_hash  # noqa: E402
from gateway.audit.open_store import open_store  # noqa: E402
from gateway.audit.records import record_leaf  # noqa: E402
from gateway.audit.sqlite_store import SQLiteStore  # noqa: E402
from gateway.audit.store import AuditStore  # noqa: E402
from gateway.audit.tree_store import Frontier  # noqa: E402
from gateway.memory import freeze_long_lived  # noqa: E402

CHUNK = 50_000
# ``serve`` on a generated store: one REST tool, its backend never called.
SERVE_CONFIG = """\
backends:
  crm: {adapter: http, base_url: "http://127.0.0.1:9/crm"}
tools:
  lookup_customer:
    description: One customer by number.
    backend: crm
    operation: POST /lookup
    input:
      customer_number: {to: CUSTNO}
"""
_TRIGGERED = ("records", "leaves", "nodes", "log_head")
BODY = {"adapter": "soap", "operation": "GetCustomer", "status": 200, "duration_ms": 2}


def generated(start: int, stop: int) -> Iterator[tuple[tuple[Any, ...], bytes]]:
    """Record rows and their leaf hashes; the JSON is canonical, so it is hashed as it is."""
    for index in range(start, stop):
        at = f"2026-01-01T00:00:00.{index % 1_000_000:06d}+00:00"
        record = {
            "at": at, "body": BODY, "call_id": f"call-{index // 3}",
            "config_version": "sha256:bench", "index": index, "kind": "interaction",
            "principal": "bench", "span_id": "s" * 16, "trace_id": "t" * 32,
        }  # fmt: skip
        data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        yield (index, at, "interaction", record["call_id"], data), leaf_hash(data)


def build(target: str, size: int) -> None:
    """Fill an empty store with ``size`` records, their leaves and subtree hashes."""
    store = open_store(Path(target), target if "://" in target else None)
    postgres = not isinstance(store, SQLiteStore)
    store.close()
    frontier = Frontier()
    started = time.perf_counter()
    with _BulkLoad(target, postgres) as db:
        for start in range(0, size, CHUNK):
            rows, leaves = zip(*generated(start, min(size, start + CHUNK)), strict=True)
            nodes = frontier.extend(leaves)
            _load(db, postgres, "records", rows)
            _load(db, postgres, "leaves", [(start + n, h) for n, h in enumerate(leaves)])
            _load(db, postgres, "nodes", nodes)
        if postgres:
            db.execute("UPDATE log_head SET next = %s", (size,))
    took = time.perf_counter() - started
    print(f"built {size:,} records in {took:.1f} s ({size / took:,.0f} a second)")


class _BulkLoad:
    """A plain connection with the append-only triggers off while the store is bulk-filled
    (the store puts them back when it opens it next)."""

    def __init__(self, target: str, postgres: bool) -> None:
        self.target, self.postgres = target, postgres
        self.db: Any = None

    def __enter__(self) -> Any:
        if self.postgres:
            import psycopg

            from gateway.audit.postgres_store import _split_schema

            url, schema = _split_schema(self.target)
            self.db = psycopg.connect(url)
            if schema:
                self.db.execute(f'SET search_path TO "{schema}"')
            for table in _TRIGGERED:
                self.db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            return self.db
        import sqlite3

        self.db = sqlite3.connect(self.target.removeprefix("sqlite:///"))
        self.db.execute("PRAGMA synchronous=OFF")
        triggers = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for (name,) in triggers.fetchall():
            self.db.execute(f"DROP TRIGGER {name}")
        return self.db

    def __exit__(self, *failed: object) -> None:
        if self.postgres:
            for table in _TRIGGERED:
                self.db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        self.db.commit()
        self.db.close()


def _load(db: Any, postgres: bool, table: str, rows: Any) -> None:
    if not rows:
        return
    if postgres:
        with db.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in rows[0])
    db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _rss_mb() -> tuple[float, float]:
    """Resident memory now and at its peak, in MB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return (int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024)


def _open(target: str) -> AuditStore:
    return open_store(Path(target), target if "://" in target else None)


def measure_live(target: str, key: Path, samples: int) -> dict[str, Any]:
    before, _ = _rss_mb()
    started = time.perf_counter()
    store = _open(target)
    log = AuditLog(store, AuditSettings(key))
    checkpoint = log.sync()
    startup = time.perf_counter() - started
    now, peak = _rss_mb()
    assert checkpoint is not None
    freeze_long_lived()  # as ``serve`` does once it serves: no full collection walks the rest
    size = checkpoint.size
    tree = log.tree(size)
    rng = random.Random(7)
    inclusion, consistency = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        tick = time.perf_counter()
        tree.inclusion_proof(index, size)
        inclusion.append(time.perf_counter() - tick)
        old = rng.randrange(1, size)
        tick = time.perf_counter()
        log.tree(size).consistency_proof(old, size)  # a fresh tree: no cache carried over
        consistency.append(time.perf_counter() - tick)
    index = rng.randrange(size)
    ((_, data),) = store.read(index, index + 1)
    assert record_leaf(data) == tree.complete(0, index)  # the generated JSON is canonical
    tick = time.perf_counter()
    log.proof_of_call(orjson.loads(data)["call_id"])
    per_call = time.perf_counter() - tick
    store.close()
    return {
        "size": size, "startup_s": startup, "rss_mb": now, "peak_mb": peak,
        "rss_growth_mb": now - before,
        "inclusion_ms": _spread(inclusion),
        "consistency_ms": _spread(consistency),
        "proof_of_call_ms": per_call * 1000,
    }  # fmt: skip


def _spread(seconds: list[float]) -> list[float]:
    """p50, p99 and the slowest, in ms."""
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return [statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000]


def serve_ready(audit_db: Path) -> float:
    """Seconds from launching ``serve`` on the log ``audit_db`` to ``/readyz`` answering."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config"
        config.mkdir()
        (config / "scale.yaml").write_text(SERVE_CONFIG)
        with gateway_process(config, {}, "lookup_customer", audit_db=audit_db) as (base, _):
            while httpx.get(f"{base}/readyz", timeout=10).status_code != 200:
                time.sleep(0.02)
            return time.perf_counter() - LAUNCHED[base]


def measure_rebuild(target: str) -> dict[str, Any]:
    before, _ = _rss_mb()
    started = time.perf_counter()
    store = _open(target)
    tree = MerkleTree(store.leaves())
    tree.root()
    took = time.perf_counter() - started
    now, peak = _rss_mb()
    store.close()
    return {"rebuild_s": took, "rss_mb": now, "peak_mb": peak, "rss_growth_mb": now - before}


def _in_child(*args: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true", help="also time the full rebuild")
    parser.add_argument("--postgres", help="a PostgreSQL URL: measure there (own schema)")
    parser.add_argument("--keep", type=Path, help="build the SQLite store here, or reuse it")
    parser.add_argument("--measure", choices=["live", "rebuild"], help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--key", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        result = (
            measure_live(args.target, args.key, args.samples)
            if args.measure == "live"
            else measure_rebuild(args.target)
        )
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
        if args.postgres:
            target = f"{args.postgres}?schema={schema}"
        else:
            directory = args.keep or Path(tmp)
            directory.mkdir(parents=True, exist_ok=True)
            target = str(directory / f"scale-{args.records}.sqlite")
        try:
            if args.postgres or not Path(target).exists():
                build(target, args.records)
            key = str(Path(tmp) / "bench.key")
            live = _in_child("--measure", "live", "--target", target, "--key", key,
                             "--samples", str(args.samples))  # fmt: skip
            rebuild = (
                _in_child("--measure", "rebuild", "--target", target) if args.rebuild else None
            )
            ready = (
                None
                if args.postgres
                else (serve_ready(Path(tmp) / "empty.sqlite"), serve_ready(Path(target)))
            )
        finally:
            if args.postgres:
                import psycopg

                with psycopg.connect(args.postgres, autocommit=True) as connection:
                    connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    if rebuild:
        print(f"rebuild from all leaves (the verifier's path) = {rebuild['rebuild_s']:.2f} s, "
              f"RSS {rebuild['rss_mb']:.0f} MB (+{rebuild['rss_growth_mb']:.0f} MB)")  # fmt: skip
    print(f"audit start-up ({live['size']:,} records) = {live['startup_s']:.3f} s, "
          f"RSS {live['rss_mb']:.0f} MB (+{live['rss_growth_mb']:.0f} MB)")  # fmt: skip
    if ready:
        print(f"serve ready ({live['size']:,} records) = {ready[1]:.2f} s "
              f"(on an empty log: {ready[0]:.2f} s)")  # fmt: skip
    for proof in ("inclusion", "consistency"):
        p50, p99, slowest = live[f"{proof}_ms"]
        print(f"audit {proof} proof p50 = {p50:.2f} ms, p99 {p99:.2f} ms, "
              f"slowest of {args.samples} {slowest:.2f} ms")  # fmt: skip
    print(f"audit proof_of_call = {live['proof_of_call_ms']:.2f} ms")


if __name__ == "__main__":
    main()
