"""The audit log's costs, in one run.

- throughput: records a second appended by 16 threads at once, each appending a call's
  three records (intent, interaction, outcome) in one group, with group commit.
- on-path cost: a call through the gateway (``dry_run``, so no legacy system adds noise:
  arguments mapped, intent recorded, request rendered, outcome recorded) with the SQLite log
  against the same call with a no-op in-memory store; alternating, median of rounds.
- checkpoint latency: records appended at a steady 2,000 a second while the checkpointer
  runs; for each, the time from its append to the first signed checkpoint covering it.

- across processes (``bench/audit_replicas.py``): ``--processes`` workers appending to one
  SQLite log and ``--replicas`` replicas to one PostgreSQL log, each with its checkpointer
  and ``--threads`` appenders, as the one process had;
  their records/s, time an append takes on a call's path, append->checkpoint p99, and the
  resulting log verified.

Prints ``audit records/s = X``, ``audit on-path p50 = X ms`` and
``audit append->checkpoint p99 = X s`` last.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import audit_replicas  # noqa: E402

from adapters.installed import INSTALLED  # noqa: E402
from gateway.audit.log import AuditLog, AuditSettings  # noqa: E402
from gateway.audit.records import RecordContext, StoredRecord  # noqa: E402
from gateway.audit.sqlite_store import SQLiteStore  # noqa: E402
from gateway.audit.store import AuditStore, Entry, StoredCheckpoint  # noqa: E402
from gateway.config.loader import load_config  # noqa: E402
from gateway.mapping.redaction import Commitments  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from gateway.tools import build_registry  # noqa: E402

DEMO = ROOT / "mappings" / "demo"
BODY = audit_replicas.BODY  # one record body for every P5 figure


class NullStore(AuditStore):
    """Keeps nothing: the baseline a call would have without the log."""

    def __init__(self) -> None:
        self.next = 0

    def append_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        records = []
        for kind, call_id, body in entries:
            records.append(StoredRecord(self.next, "", kind, call_id, body))
            self.next += 1
        return records

    def records_of(self, call_id: str) -> list[StoredRecord]:
        return []

    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        return []

    def count(self) -> int:
        return self.next

    def read(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        return []

    def leaves(self, start: int = 0) -> list[bytes]:
        return []

    def tree_size(self) -> int:
        return 0

    def nodes(self, level: int, start: int, stop: int) -> list[bytes]:
        return []

    def add_leaves(self, start: int, hashes: list[bytes], nodes: Any = ()) -> None:
        return None

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        return None

    def checkpoints(self) -> list[StoredCheckpoint]:
        return []

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return None

    def pruned_before(self) -> int:
        return 0

    def prune(self, end: int) -> None:
        return None

    def claim_key(self, scope: str, key: str, call_id: str, fp: str, instance: Any = None) -> Any:
        return None

    def release_key(self, scope: str, key: str, call_id: str) -> bool:
        return False

    def take_over_key(self, *args: Any) -> bool:
        return False

    def claimed_keys(self, **kwargs: Any) -> list[Any]:
        return []

    def register_lease(self, lease: Any) -> bool:
        return True

    def renew_lease(self, instance_id: str, at: str, first_idx: int = 0) -> bool:
        return True

    def leases(self) -> list[Any]:
        return []

    def retire_lease(self, instance_id: str) -> bool:
        return False

    def recovery_mark(self, name: str) -> int:
        return 0

    def set_recovery_mark(self, name: str, index: int) -> None:
        return None

    def unfinished(self, since: int = 0) -> list[Any]:
        return []

    def add_approval(self, approval: Any) -> None:
        return None

    def get_approval(self, approval_id: str) -> Any:
        return None

    def pending_approvals(self) -> list[Any]:
        return []

    def settle_approval(self, approval: Any) -> bool:
        return False

    def add_key(self, key: Any) -> None:
        return None

    def find_key(self, key_id: str) -> Any:
        return None

    def revoke_key(self, key_id: str, at: str) -> Any:
        return None

    def list_keys(self) -> list[Any]:
        return []

    def add_verification(self, verification: Any) -> None:
        return None

    def latest_verification(self) -> Any:
        return None

    def close(self) -> None:
        return None


def throughput(store: AuditStore, seconds: float, threads: int) -> float:
    deadline = time.perf_counter() + seconds
    counts = [0] * threads

    def work(slot: int) -> None:
        context = RecordContext("a" * 32, "b" * 16, "bench", "sha256:bench")
        while time.perf_counter() < deadline:
            call = f"call-{slot}-{counts[slot]}"
            store.append_many(
                [("call.intent", call, BODY), ("interaction", call, BODY),
                 ("call.outcome", call, BODY)],
                context,
            )  # fmt: skip
            counts[slot] += 3

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


def postgres_throughput(url: str, seconds: float, threads: int) -> float | None:
    """The same on PostgreSQL, in a schema of its own; None when the server is not there."""
    import uuid

    import psycopg

    from gateway.audit.postgres_store import PostgresStore

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        store = PostgresStore(f"{url}?schema={schema}")
    except Exception as exc:
        print(f"PostgreSQL not measured: {exc}")
        return None
    try:
        return throughput(store, seconds, threads)
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def on_path(directory: Path, rounds: int, calls: int) -> float:
    registry = build_registry(load_config(DEMO, INSTALLED), Commitments.throwaway())
    store = SQLiteStore(directory / "onpath.sqlite")
    logged = Gateway(registry, store)
    bare = Gateway(
        build_registry(load_config(DEMO, INSTALLED), Commitments.throwaway()), NullStore()
    )
    arguments = {"customer_number": "10000001"}
    for gateway in (logged, bare):
        for _ in range(200):
            await gateway.call("get_customer", arguments, dry_run=True)
    stages: dict[str, list[float]] = {"records": [], "write": [], "durable": []}
    audit_replicas.time_stages(store, stages)
    differences = []
    for index in range(rounds):
        times: dict[str, list[float]] = {"logged": [], "bare": []}
        for _ in range(calls):
            for name, gateway in (("logged", logged), ("bare", bare)):
                started = time.perf_counter()
                await gateway.call("get_customer", arguments, dry_run=True)
                times[name].append(time.perf_counter() - started)
        with_log = statistics.median(times["logged"]) * 1000
        without = statistics.median(times["bare"]) * 1000
        differences.append(with_log - without)
        print(f"round {index + 1}: call p50 {with_log:.3f} ms with the log, "
              f"{without:.3f} ms without: {with_log - without:.3f} ms")  # fmt: skip
    # Where the difference goes: the store's writes (SQLite's insert and commit of a batch)
    # against the rest (encoding the records, the group commit's turn of the loop).
    writes = len(stages["write"]) / (rounds * calls)
    print(f"of a logged call: {writes:.1f} writes of the store, p50 "
          f"{statistics.median(stages['write']) * 1000:.3f} ms each (insert and commit); the "
          "rest is encoding the records and the group commit's turn of the event loop")  # fmt: skip
    return statistics.median(differences)


def checkpoint_latency(directory: Path, seconds: float, rate: int) -> float:
    store = SQLiteStore(directory / "latency.sqlite")
    log = AuditLog(store, AuditSettings(directory / "bench.key"))
    log.start()
    appended: list[tuple[int, float]] = []
    interval = 1 / rate
    started = time.perf_counter()
    next_at = started
    while time.perf_counter() - started < seconds:
        record = store.append("interaction", "c", BODY)
        appended.append((record.index, dt.datetime.fromisoformat(record.at).timestamp()))
        next_at += interval
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    time.sleep(1.5)
    log.stop()
    signed = [(c.size, dt.datetime.fromisoformat(c.at).timestamp()) for c in store.checkpoints()]
    store.close()
    delays = []
    position = 0
    for index, at in appended:
        while signed[position][0] <= index:
            position += 1
        delays.append(signed[position][1] - at)
    delays.sort()
    print(f"{len(appended)} records, {len(signed)} checkpoints; "
          f"append->checkpoint p50 {statistics.median(delays):.3f} s")  # fmt: skip
    return delays[int(len(delays) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--processes", type=int, default=2, help="workers on one SQLite log")
    parser.add_argument("--replicas", type=int, default=3, help="replicas on one PostgreSQL log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        sqlite = SQLiteStore(directory / "throughput.sqlite")
        rate = throughput(sqlite, args.seconds, args.threads)
        sqlite.close()
        shared = postgres_throughput(args.postgres, args.seconds, args.threads)
        if shared is not None:
            print(f"audit records/s on PostgreSQL (one replica) = {shared:,.0f}")
        cost = asyncio.run(on_path(directory, args.rounds, args.calls))
        p99 = checkpoint_latency(directory, args.seconds, 2000)
    # Each process under the one process's load: a replica serves agents of its own.
    across = audit_replicas.run(
        args.processes, args.replicas, args.seconds, args.threads, args.postgres
    )
    print(f"audit records/s = {rate:,.0f}")
    print(f"audit on-path p50 = {cost:.3f} ms")
    print(f"audit append->checkpoint p99 = {p99:.3f} s")
    if across:
        sys.exit(1)


if __name__ == "__main__":
    main()
