"""P5 across processes: N gateway workers on one SQLite log, three replicas on one PostgreSQL log.

Each process opens the store as ``serve`` does (``open_store``), runs the log's checkpointer
(``AuditLog.start``, one signing key shared by all, as replicas share it) and, from
``--threads`` threads, appends calls as the pipeline does: the intent alone, then the
interaction and the outcome in one group. All start together and append for ``--seconds``.

Printed for each setting:

- records/s: all records appended by all processes, over the time from the common start to
  the last process done.
- append p50/p99: the time of one append on a call's path (the store's insert, with the
  waits for the other processes' commits that it takes under contention).
- append->checkpoint p99: for each append, the time from its record's timestamp to the first
  signed checkpoint that covers it, whichever process signed it.
- where an append's time goes: the records of each batch (one transaction), the time of its
  write (on PostgreSQL one round trip, with the wait for the log head's row lock that other
  replicas hold), the time of its wait for the disk (the WAL flush), and the CPU the
  appending processes and the database server spent meanwhile.
- verify: ``legacy-gateway audit verify`` on the store with the shared key, and the log's
  indexes exactly the records the processes were told they appended, each once.

``python bench/audit_replicas.py --processes 2 --replicas 3``; ``bench/audit.py`` runs it too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _procs import command_cpu_seconds, pg_schema  # noqa: E402

from gateway.audit.log import AuditLog, AuditSettings  # noqa: E402
from gateway.audit.open_store import open_store  # noqa: E402
from gateway.audit.records import RecordContext  # noqa: E402

BIN = Path(sys.executable).parent
POSTGRES = "postgresql://root@127.0.0.1:5432/test"
BODY = {
    "adapter": "soap",
    "backend": "customer_master",
    "operation": "GetCustomer",
    "attempt": 1,
    "request": {"envelope": "<soap:Envelope>" + "x" * 600 + "</soap:Envelope>"},
    "response": {"status": 200, "body": "<r>" + "y" * 1200 + "</r>"},
    "duration_ms": 1.234,
}


def _timestamp(at: str) -> float:
    return dt.datetime.fromisoformat(at).timestamp()


def time_stages(store: Any, stages: dict[str, list[float]]) -> None:
    """Time the store's two stages of a batch (``_write``, ``_durable``) and count each
    batch's records: a benchmark's look inside the group commit, not the store's API."""
    write, durable = store._write, store._durable

    def timed_write(groups: Any) -> Any:
        stages["records"].append(sum(len(entries) for entries, _ in groups))
        tick = time.perf_counter()
        try:
            return write(groups)
        finally:
            stages["write"].append(time.perf_counter() - tick)

    def timed_durable() -> None:
        tick = time.perf_counter()
        try:
            durable()
        finally:
            stages["durable"].append(time.perf_counter() - tick)

    store._write, store._durable = timed_write, timed_durable


def append_for(target: str, key: Path, start_at: float, seconds: float, threads: int) -> Any:
    """One process's share (run in a child): what it appended, when, and how long each took."""
    store = open_store(Path(target), target if "://" in target else None)
    log = AuditLog(store, AuditSettings(key))
    log.start()
    stages: dict[str, list[float]] = {"records": [], "write": [], "durable": []}
    time_stages(store, stages)
    appends: list[tuple[int, int, float, float]] = []  # first index, last index, at, seconds
    lock = threading.Lock()
    time.sleep(max(0.0, start_at - time.time()))
    cpu = time.process_time()
    deadline = time.perf_counter() + seconds

    def work(slot: int) -> None:
        context = RecordContext("a" * 32, "b" * 16, "bench", "sha256:bench")
        mine = []
        n = 0
        while time.perf_counter() < deadline:
            call = f"call-{uuid.uuid4().hex[:8]}-{slot}-{n}"
            n += 1
            for group in ([("call.intent", call, BODY)],
                          [("interaction", call, BODY), ("call.outcome", call, BODY)]):  # fmt: skip
                tick = time.perf_counter()
                records = store.append_many(group, context)
                took = time.perf_counter() - tick
                mine.append((records[0].index, records[-1].index, _timestamp(records[-1].at), took))
        with lock:
            appends.extend(mine)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done = time.time()
    cpu = time.process_time() - cpu
    log.stop()
    store.close()
    return {"appends": appends, "done": done, "error": log.last_error, "stages": stages,
            "cpu_s": cpu}  # fmt: skip


def measure(target: str, processes: int, seconds: float, threads: int, key: Path) -> list[str]:
    """Run ``processes`` appenders on ``target``; print the figures; return what failed."""
    start_at = time.time() + 2.0  # every child has imported and opened the store by then
    command = [sys.executable, __file__, "--child", "--target", target, "--key", str(key),
               "--start-at", repr(start_at), "--seconds", str(seconds),
               "--threads", str(threads)]  # fmt: skip
    children = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(processes)
    ]
    server_cpu = command_cpu_seconds("postgres")
    results = [json.loads(child.communicate()[0].splitlines()[-1]) for child in children]
    server_cpu = command_cpu_seconds("postgres") - server_cpu
    problems = [f"a process exited {c.returncode}" for c in children if c.returncode]
    problems += [f"checkpointer: {r['error']}" for r in results if r["error"]]
    appends = [tuple(a) for r in results for a in r["appends"]]
    records = sum(last - first + 1 for first, last, _, _ in appends)
    elapsed = max(r["done"] for r in results) - start_at
    took = sorted(a[3] * 1000 for a in appends)
    store = open_store(Path(target), target if "://" in target else None)
    try:
        signed = sorted((c.size, _timestamp(c.at)) for c in store.checkpoints())
        count = store.count()
    finally:
        store.close()
    delays, position = [], 0
    for _, last, at, _ in sorted(appends, key=lambda a: a[1]):
        while position < len(signed) and signed[position][0] <= last:
            position += 1
        if position == len(signed):
            problems.append(f"record {last} is in no signed checkpoint")
            break
        delays.append(signed[position][1] - at)
    delays.sort()
    indexes = sorted(i for first, last, _, _ in appends for i in range(first, last + 1))
    if indexes != list(range(count)):
        problems.append(f"the log holds {count} records; the processes appended {len(indexes)}")
    p50 = statistics.median(delays) if delays else float("nan")
    p99 = delays[max(0, int(len(delays) * 0.99) - 1)] if delays else float("nan")
    print(f"  {records:,} records in {elapsed:.1f} s = {records / elapsed:,.0f} records/s; "
          f"append p50 {statistics.median(took):.3f} ms, "
          f"p99 {took[int(len(took) * 0.99) - 1]:.3f} ms; {len(signed)} checkpoints, "
          f"append->checkpoint p50 {p50:.3f} s, p99 {p99:.3f} s")  # fmt: skip
    _print_stages(results, server_cpu, elapsed)
    verified = subprocess.run(
        [str(BIN / "legacy-gateway"), "audit", "verify", "--store", target,
         "--key", str(key.with_suffix(".key.pub"))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    first_line = (verified.stdout.strip().splitlines() or ["(no output)"])[0]
    print(f"  verify: {first_line[:160]}")
    if verified.returncode != 0:
        problems.append(f"audit verify exited {verified.returncode}: {verified.stderr[-300:]}")
    return problems


def _print_stages(results: list[Any], server_cpu: float, elapsed: float) -> None:
    """Where the appends' time went: batch sizes, the write and the flush, and the CPU."""

    def spread(values: list[float], scale: float = 1000.0) -> str:
        ordered = sorted(values) or [float("nan")]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return f"p50 {statistics.median(ordered) * scale:.2f}, p99 {p99 * scale:.2f}"

    stages = {
        name: [v for r in results for v in r["stages"][name]] for name in results[0]["stages"]
    }
    batches = stages["records"]
    mean = sum(batches) / max(1, len(batches))
    cores = os.cpu_count() or 1
    appenders = sum(r["cpu_s"] for r in results)
    print(f"  {len(batches):,} batches of {mean:.1f} records on average "
          f"({spread(batches, 1.0)}); a batch's write {spread(stages['write'])} ms, "
          f"its wait for the disk {spread(stages['durable'])} ms")  # fmt: skip
    print(f"  CPU over the run: appending processes {appenders / elapsed:.2f} cores, "
          f"database server {server_cpu / elapsed:.2f} cores, of {cores}")  # fmt: skip


def run(processes: int, replicas: int, seconds: float, threads: int, postgres: str) -> list[str]:
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "audit-signing.key"
        if processes:
            print(f"P5 with {processes} worker processes on one SQLite log, "
                  f"{threads} threads each:")  # fmt: skip
            target = f"sqlite:///{tmp}/workers.sqlite"
            problems += measure(target, processes, seconds, threads, key)
        if replicas:
            print(f"P5 with {replicas} replicas on one PostgreSQL log, {threads} threads each:")
            with pg_schema(postgres, "bench_replicas") as url:
                problems += measure(url, replicas, seconds, threads, key)
    for problem in problems:
        print(f"FAIL: {problem}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="workers on one SQLite log")
    parser.add_argument("--replicas", type=int, default=3, help="replicas on one PostgreSQL log")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--key", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = append_for(args.target, args.key, args.start_at, args.seconds, args.threads)
        print(json.dumps(result))
        return
    problems = run(args.processes, args.replicas, args.seconds, args.threads, args.postgres)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
