"""Soak: a mixed load of demo tool calls at fixed concurrency, watching for anything that grows.

The estate (SOAP customer master and exchange rates, the CRM's REST face) runs in its own
process, the order-processing host (``python -m estate.orders``) consumes on the local
RabbitMQ (``--amqp-url``, an exchange and reply queue of the run's own), the ledger is a
fresh SQLite database reached over ODBC, and ``legacy-gateway serve`` (API keys, full audit
log on SQLite) serves every demo tool over them, in a fixed rotation: reads over SOAP, REST,
ODBC and AMQP request/reply (``order_status``) and writes of each kind, among them an AMQP
publish (``cancel_order``) and a submit whose outcome comes later with the host's reply
(``place_order``). Left out: ``book_adjustment`` (approvals.yaml), which waits for a person.
``--calls`` calls in all (20,000 by default; ``--calls 1000000`` for the full soak) from
``--concurrency`` callers.

Every ``--every`` calls (10,000 by default, fewer for short runs) it samples the gateway's RSS
(all its processes, and the largest one), open file descriptors, open sockets, and the
window's p50/p99 latency. The rule for "grows without bound" judges the samples after the
warm-up (the first 10,000 calls, or the first fifth of a shorter run; at least three
samples): their trend (Theil-Sen: the median of the slopes between every two samples, which
one garbage collection or a burst of calls in flight cannot tip), projected over 1,000,000
calls, must stay within RSS +20 MB (for each of the gateway's processes: with ``--workers``,
the supervisor and every worker; judged from runs of ``TREND_CALLS``, 100,000 calls, on,
since bounded caches fill for longer than a short run: under that, each process must stay
under P6's 200 MB), +50 file descriptors and +50 sockets (the two counts move
with the calls in flight: they fail only when the lowest late sample is above every early
one too); the late samples' median p50 latency must stay within 3x the early ones'; and
their p99 latency too: the lower median of the p99s of the late samples' second half (one
slow window, a collection or a neighbour's burst, cannot tip it) within ``P99_RISE`` (3x) the
median p99 of the warm-up, a rise under ``P99_SLACK_MS`` (100 ms) never counting (a fast
machine's p99 of a few milliseconds triples with any noise). A lookup that reads more of the
log as it grows (under the log's write lock: the other calls wait) shows here first, while
p50 stays flat. Each sample also shows the size of the audit log's write-ahead file, which
stays bounded while SQLite's checkpoints keep up.
It prints ``P6 rss +X KB/call`` (that trend) and, from 1,000,000 calls on, P6 as stated: RSS
at the end within 20 MB of RSS after 10,000 calls and under 200 MB, for each process (with
``--workers``, each process's figures too). It exits 1
when a rule fails, when a call fails (retryable refusals, legacy timeouts on a loaded
machine, are counted, and fail it past 0.1% of the calls), or when, after every submitted
call has its outcome and the gateway stopped, ``legacy-gateway audit verify`` fails, an
answered call has no outcome record in the log or a submitted one no record of its
submission (one still awaiting its reply then, its message lost with a broker restart, say,
is counted: the gateway's sweep ends it at its deadline).

Where memory goes: each sample splits RSS into anonymous memory (the heap, thread arenas,
stacks) and the rest (mapped files); ``--maps DIR`` keeps each process's smaps at every
sample and prints what each mapping gained after the warm-up (``[heap]``, unnamed, a
library), ``--trace DIR`` the Python heap's growth by line (tracemalloc: about 10x slower).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import BIN, PIDS, ROOT, STOPPED, estate_process, gateway_process, order_host

sys.path.insert(0, str(ROOT))
from estate.ledger import create_ledger
from estate.orders import DEFAULT_URL, FIRST_ORDER, ORDER_COUNT
from gateway.workers import process_tree

TOOLS = ("get_customer", "search_customers", "list_customers", "get_exchange_rate",
         "get_customer_profile", "get_account", "accounts_of_customer", "list_postings",
         "order_status", "update_customer_address", "add_contact_note", "record_posting",
         "cancel_order", "place_order")  # fmt: skip
# It parks its calls for a person to approve; nobody approves during a soak.
LEFT_OUT = ("approvals.yaml",)
PER_MILLION = {"rss_mb": 20.0, "fds": 50.0, "sockets": 50.0}
WARM_UP = 10_000
# Below this many calls, caches that are bounded are still filling (the buffer of records just
# written, 16 MB of record bytes; the console's recent calls; the ODBC drivers' page caches,
# which fill for 400,000 calls): their RSS trend, projected over a million calls, would fail
# a run where nothing leaks. A shorter run holds each process under P6's cap instead.
TREND_CALLS = 100_000
TOLERATED = 0.001
P6_CALLS, P6_GROWTH_MB, P6_PROCESS_MB = 1_000_000, 20.0, 200.0
P50_RISE, P99_RISE, P99_SLACK_MS = 3.0, 3.0, 100.0


def calls() -> Iterator[tuple[str, dict[str, Any]]]:
    """The rotation: about two reads to each write, across SOAP, REST, ODBC and AMQP."""
    for n in itertools.count():
        customer = f"{10000001 + n % 40:08d}"
        account = f"DE{n % 40 + 1:08d}"
        order = FIRST_ORDER + n % ORDER_COUNT
        yield from (
            ("get_customer", {"customer_number": customer}),
            ("search_customers", {"name_prefix": "M"}),
            ("order_status", {"order_number": order}),
            ("get_exchange_rate", {"from_currency": "EUR", "to_currency": "USD"}),
            ("get_account", {"account_number": account}),
            ("update_customer_address", {"customer_number": customer, "address_line1":
             f"{n % 90 + 1} Savile Row", "city": "London", "postal_code": "W1S 3PQ",
             "country": "GB"}),
            ("get_customer_profile", {"customer_number": customer}),
            ("accounts_of_customer", {"customer_number": customer}),
            ("add_contact_note", {"customer_number": customer, "note": f"soak note {n}"}),
            ("list_postings", {"account_number": account, "from_date": "2024-01-01"}),
            ("order_status", {"order_number": order + 1}),
            ("record_posting", {"account_number": account, "booked_on": "2026-11-30",
             "amount": f"{n % 500 + 1}.25", "direction": "debit", "text": f"soak {n}",
             "reference": f"SOAK{n % 10**8:08d}"}),
            ("list_customers", {"page": n % 10 + 1, "page_size": 20}),
            ("place_order", {"customer_number": customer, "item": "shirt",
             "quantity": n % 9 + 1}),
            ("cancel_order", {"order_number": order, "reason": "soak"}),
        )  # fmt: skip


@dataclass
class Sample:
    calls: int
    rss_mb: float
    largest_mb: float
    fds: int
    sockets: int
    p50_ms: float
    p99_ms: float
    wal_mb: float = 0.0  # the audit log's write-ahead file: bounded while checkpoints run
    # Anonymous memory: the heap, the malloc arenas of threads, the stacks. The rest of RSS
    # is mapped files (libraries, the log's shared-memory index).
    anon_mb: float = 0.0
    # RSS of each of the gateway's processes (``serve --workers``: the supervisor and each
    # worker), by pid: the memory rules hold for each process.
    processes: dict[int, float] = field(default_factory=dict)


def rss_series(samples: list[Sample]) -> dict[str, list[float]]:
    """RSS over ``samples`` for each process sampled in all of them (``process PID``), or,
    without a figure a process, for all of them together (``the gateway``)."""
    common = set.intersection(*(set(s.processes) for s in samples)) if samples else set()
    if not common:
        return {"the gateway": [s.rss_mb for s in samples]}
    return {f"process {pid}": [s.processes[pid] for s in samples] for pid in sorted(common)}


def _link(fd: Path) -> str:
    """Where a descriptor leads; one closed while the list is read leads nowhere, rather than
    taking the whole process out of the sample (a window of RSS 0 MB)."""
    try:
        return os.readlink(fd)
    except FileNotFoundError:
        return ""


def _kb(text: str, field: str) -> int:
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith(field))


def sample(
    pid: int, done: int, latencies: list[float], wal: Path | None = None, maps: Path | None = None
) -> Sample:
    rss_kb = largest_kb = anon_kb = fds = sockets = 0
    processes: dict[int, float] = {}
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
            links = [_link(f) for f in Path(f"/proc/{member}/fd").iterdir()]
            if maps is not None:
                smaps = Path(f"/proc/{member}/smaps").read_text()
                (maps / f"{done:09d}-{member}.smaps").write_text(smaps)
        except OSError:  # the process ended
            continue
        member_kb = _kb(status, "VmRSS:")
        processes[member] = member_kb / 1024
        rss_kb += member_kb
        anon_kb += _kb(rollup, "Anonymous:")
        largest_kb = max(largest_kb, member_kb)
        fds += len(links)
        sockets += sum(link.startswith("socket:") for link in links)
    latencies.sort()
    try:
        wal_mb = wal.stat().st_size / 2**20 if wal is not None else 0.0
    except OSError:  # not there between a truncating checkpoint and the next write
        wal_mb = 0.0
    return Sample(
        done, rss_kb / 1024, largest_kb / 1024, fds, sockets,
        statistics.median(latencies) * 1000 if latencies else 0.0,
        latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else 0.0,
        wal_mb, anon_kb / 1024, processes,
    )  # fmt: skip


def _each(latest: Sample) -> str:
    """Each process's RSS, where the gateway is several (``--workers``)."""
    if len(latest.processes) < 2:
        return ""
    return "  (" + " / ".join(f"{mb:.1f}" for _, mb in sorted(latest.processes.items())) + ")"


def trend(xs: list[float], ys: list[float]) -> float:
    """Theil-Sen slope: the median of the slopes between every two points."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i])
              for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[j] != xs[i]]  # fmt: skip
    return statistics.median(slopes) if slopes else 0.0


def warmed(samples: list[Sample], calls: int) -> tuple[list[Sample], list[Sample]]:
    """The samples of the warm-up, and those after it."""
    end = min(WARM_UP, calls // 5)
    return [s for s in samples if s.calls <= end], [s for s in samples if s.calls > end]


def judge(samples: list[Sample], calls: int) -> list[str]:
    """What grew without bound, by the rule in the module's docstring."""
    early, late = warmed(samples, calls)
    if len(late) < 3:
        return [f"too few samples after the warm-up to judge ({len(late)}): lower --every"]
    early = early or late[:1]
    failures = []
    xs = [float(s.calls) for s in late]
    if calls < TREND_CALLS:
        largest = max(s.largest_mb for s in late)
        if largest >= P6_PROCESS_MB:
            failures.append(f"a process holds {largest:.1f} MB (limit {P6_PROCESS_MB:.0f})")
    else:
        for process, rss in rss_series(late).items():
            growth = trend(xs, rss) * 1_000_000
            if growth > PER_MILLION["rss_mb"]:
                failures.append(f"rss_mb of {process} grows {growth:+.1f} per million calls "
                                f"(limit {PER_MILLION['rss_mb']:+.0f})")  # fmt: skip
    for name in ("fds", "sockets"):
        limit = PER_MILLION[name]
        growth = trend(xs, [float(getattr(s, name)) for s in late]) * 1_000_000
        # Descriptors and sockets come and go with the calls in flight: a count grows only
        # when even its lowest late value is above every early one.
        risen = min(getattr(s, name) for s in late) > max(getattr(s, name) for s in early)
        if growth > limit and risen:
            failures.append(f"{name} grows {growth:+.1f} per million calls (limit {limit:+.0f})")
    early_p50 = statistics.median(s.p50_ms for s in early)
    late_p50 = statistics.median(s.p50_ms for s in late[len(late) // 2 :])
    if late_p50 > P50_RISE * early_p50:
        failures.append(f"p50 latency rose from {early_p50:.2f} ms to {late_p50:.2f} ms")
    early_p99 = statistics.median(s.p99_ms for s in early)
    # The lower median: of two windows, the faster; a single slow window never decides.
    late_p99 = statistics.median_low(s.p99_ms for s in late[len(late) // 2 :])
    if late_p99 > P99_RISE * early_p99 and late_p99 - early_p99 > P99_SLACK_MS:
        failures.append(
            f"p99 latency rose from {early_p99:.2f} ms to {late_p99:.2f} ms (limit {P99_RISE:.0f}x)"
        )
    return failures


def p6(samples: list[Sample], calls: int) -> list[str]:
    """P6: the growth a call (the late trend), and the rule as stated from 1,000,000 calls."""
    _, late = warmed(samples, calls)
    first = next((s for s in samples if s.calls >= WARM_UP), samples[0])
    last = samples[-1]
    per_call = trend([float(s.calls) for s in late], [s.rss_mb for s in late]) if late else 0.0
    print(f"P6 rss {first.rss_mb:.1f} MB after {first.calls} calls, {last.rss_mb:.1f} MB after "
          f"{last.calls} (largest process {last.largest_mb:.1f} MB): trend "
          f"{per_call * 1024:+.4f} KB/call")  # fmt: skip
    series = rss_series([first, last])
    if len(series) > 1:
        for process, (before, after) in series.items():
            print(f"  {process}: {before:.1f} MB after {first.calls} calls, {after:.1f} MB "
                  f"after {last.calls}: {after - before:+.1f} MB")  # fmt: skip
    if last.calls < TREND_CALLS:
        print(f"  RSS trend not judged under {TREND_CALLS:,} calls (bounded caches still fill); "
              f"each process held under {P6_PROCESS_MB:.0f} MB")  # fmt: skip
    if last.calls < P6_CALLS:
        return []
    grown = max(after - before for before, after in series.values())
    verdict = "ok" if grown <= P6_GROWTH_MB and last.largest_mb < P6_PROCESS_MB else "FAILED"
    print(f"P6 rss after {last.calls} calls - after {first.calls} = {grown:+.1f} MB "
          f"{'(the process that grew most) ' if len(series) > 1 else ''}"
          f"(limit +{P6_GROWTH_MB:.0f}), largest process {last.largest_mb:.1f} MB "
          f"(limit {P6_PROCESS_MB:.0f}): {verdict}")  # fmt: skip
    problems = []
    if grown > P6_GROWTH_MB:
        problems.append(f"P6: RSS grew {grown:+.1f} MB from {first.calls} calls")
    if last.largest_mb >= P6_PROCESS_MB:
        problems.append(f"P6: a process holds {last.largest_mb:.1f} MB")
    return problems


def drop_queue(url: str, queue: str) -> None:
    """The run's reply queue outlives the gateway (it is durable); the run removes it."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_delete(queue)
    finally:
        connection.close()


@contextmanager
def gateway(
    estate: str, directory: Path, args: argparse.Namespace, orders: dict[str, str]
) -> Iterator[tuple[str, str, int]]:
    config = directory / "config"
    shutil.copytree(ROOT / "mappings" / "demo", config)
    for name in LEFT_OUT:
        (config / name).unlink()
    audit_db = directory / "audit.sqlite"
    env = {"CUSTOMER_MASTER_URL": f"{estate}/customer-master", "FX_RATES_URL": f"{estate}/fx-rates",
           "CRM_URL": f"{estate}/crm",
           "LEDGER_DB": str(create_ledger(directory / "ledger.sqlite")), **orders}  # fmt: skip
    traced = [sys.executable, str(Path(__file__).parent / "_traced_serve.py"), str(args.trace)]
    served = gateway_process(
        config, env, ",".join(TOOLS), workers=args.workers, audit_db=audit_db,
        launcher=traced if args.trace else None,
    )  # fmt: skip
    with served as (base, key):
        args.wal = audit_db.with_name(audit_db.name + "-wal")
        yield base, key, PIDS[base]
    # What a stop costs after a long life: draining, giving the lease back, closing the log.
    print(f"gateway stopped in {STOPPED[base]:.2f} s")


async def soak(base: str, key: str, pid: int, args: argparse.Namespace) -> tuple[
    list[Sample], set[str], list[str], list[str]
]:  # fmt: skip
    """The samples, the calls answered (200), those submitted (202), what went wrong."""
    rotation = calls()
    answered: set[str] = set()
    submitted: list[str] = []
    errors: list[str] = []
    retried: Counter[str] = Counter()  # retryable refusals (timeouts, 503s) by tool and code
    tolerated = max(10, int(args.calls * TOLERATED))
    window: list[float] = []
    samples: list[Sample] = []
    done = finished = 0
    warm_up, traced = min(WARM_UP, args.calls // 5), args.traced
    headers = {"authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as c:

        async def caller() -> None:
            nonlocal done, finished, window
            while done < args.calls and not errors and sum(retried.values()) <= tolerated:
                tool, arguments = next(rotation)
                done += 1
                started = time.perf_counter()
                answer = await c.post(f"/v1/tools/{tool}/call", json={"arguments": arguments})
                window.append(time.perf_counter() - started)
                if answer.status_code == 200:
                    answered.add(answer.json()["call_id"])
                elif answer.status_code == 202:
                    submitted.append(answer.json()["call_id"])
                elif _retryable(answer):
                    retried[f"{tool} {answer.json()['error']['code']}"] += 1
                else:
                    errors.append(f"{tool}: HTTP {answer.status_code} {answer.text[:200]}")
                finished += 1
                if finished % args.every == 0:
                    samples.append(sample(pid, finished, window, args.wal, args.maps))
                    if args.trace and finished > warm_up:
                        os.kill(pid, signal.SIGUSR1)
                        traced.append(finished)
                    window = []
                    latest = samples[-1]
                    print(
                        f"{latest.calls:>9} calls  rss {latest.rss_mb:7.1f} MB (anon "
                        f"{latest.anon_mb:6.1f})  fds {latest.fds:4}  sockets {latest.sockets:4}"
                        f"  p50 {latest.p50_ms:7.2f} ms  p99 {latest.p99_ms:7.2f} ms  wal "
                        f"{latest.wal_mb:5.1f} MB{_each(latest)}",
                        flush=True,
                    )

        await asyncio.gather(*(caller() for _ in range(args.concurrency)))
        errors.extend(await settled(c, submitted[-200:]))
    if retried:
        print(f"{sum(retried.values())} retryable refusals: "
              + ", ".join(f"{n} {what}" for what, n in retried.most_common()))  # fmt: skip
    if sum(retried.values()) > tolerated:
        errors.append(f"more than {tolerated} retryable refusals ({TOLERATED:.1%} of the calls)")
    return samples, answered, submitted, errors


def _retryable(answer: httpx.Response) -> bool:
    """A refusal the caller is told to retry: a legacy timeout or an unreachable backend on
    a loaded machine, not a growth; they fail the soak past ``TOLERATED`` of the calls."""
    try:
        return answer.status_code >= 500 and bool(answer.json()["error"]["retryable"])
    except (ValueError, KeyError, TypeError):
        return False


async def settled(client: httpx.AsyncClient, call_ids: list[str], seconds: float = 30) -> list[str]:
    """Wait for the last submitted calls to end (the host answers them after a pause)."""
    deadline = time.monotonic() + seconds
    waiting = list(call_ids)
    while waiting and time.monotonic() < deadline:
        answers = [await client.get(f"/v1/calls/{call_id}") for call_id in waiting]
        waiting = [c for c, a in zip(waiting, answers, strict=True)
                   if a.status_code != 200 or a.json().get("status") == "pending"]  # fmt: skip
        if waiting:
            await asyncio.sleep(0.5)
    return [f"{len(waiting)} submitted call(s) still pending after {seconds:.0f} s"] * bool(waiting)


def logged(audit_db: Path, answered: set[str], submitted: list[str]) -> list[str]:
    """After the gateway stopped: the log verifies, holds the outcome of every answered call
    and the submission of every submitted one. A submission whose reply had not come back
    when the gateway stopped (lost with a broker restart, say) is still open: the gateway's
    sweep ends it with ``reply_overdue`` at its deadline; they are counted, not failed."""
    from gateway.audit.sqlite_store import SQLiteStore
    from gateway.audit.store import OUTCOME, SUBMITTED

    problems = []
    verified = subprocess.run(
        [str(BIN / "legacy-gateway"), "audit", "verify", "--audit-db", str(audit_db)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    print(verified.stdout.strip().splitlines()[0] if verified.stdout.strip() else "")
    if verified.returncode != 0:
        problems.append(f"audit verify exited {verified.returncode}: {verified.stderr[-500:]}")
    store = SQLiteStore(audit_db)
    try:
        outcomes = {record.call_id for record in store.records_of_kind(OUTCOME)}
        submissions = {record.call_id for record in store.records_of_kind(SUBMITTED)}
    finally:
        store.close()
    missing = answered - outcomes
    if missing:
        problems.append(f"{len(missing)} answered call(s) have no outcome in the log")
    unrecorded = set(submitted) - submissions
    if unrecorded:
        problems.append(f"{len(unrecorded)} submitted call(s) have no submission in the log")
    still_open = set(submitted) - outcomes - unrecorded
    print(f"{len(answered) + len(submitted)} acknowledged calls: {len(answered)} answered, "
          f"{len(answered) - len(missing)} of them with their outcome in the log; "
          f"{len(submitted)} submitted, {len(submitted) - len(unrecorded)} of them in the log, "
          f"{len(still_open)} still awaiting their reply when the gateway stopped")  # fmt: skip
    return problems


def grown(directory: Path, traced: list[int]) -> None:
    """What the heap gained between the first snapshot after the warm-up and the last (the
    first signal after the warm-up starts tracing; each later one takes a snapshot)."""
    import tracemalloc

    files = sorted(directory.glob("*.snapshot"))
    if len(files) < 2:
        print("too few heap snapshots to compare: lower --every")
        return
    span = traced[len(files)] - traced[1]
    before, after = (tracemalloc.Snapshot.load(str(f)) for f in (files[0], files[-1]))
    print(f"heap growth from call {traced[1]} to {traced[len(files)]}:")
    for stat in after.compare_to(before, "lineno")[:15]:
        print(f"  {stat.size_diff / span:+9.1f} B/call {stat.count_diff:+8d} blocks  "
              f"{stat.traceback[0]}")  # fmt: skip
    for stat in after.compare_to(before, "traceback")[:5]:
        print(f"  {stat.size_diff / span:+9.1f} B/call from:")
        for line in stat.traceback.format()[-16:]:
            print(f"    {line}")


def _mappings(smaps: str) -> Counter[str]:
    """Resident KB by what is mapped: a file's path, ``[heap]``, ``[stack]``, or ``anon`` for
    the unnamed mappings (thread arenas, mmap'd allocations, thread stacks)."""
    resident: Counter[str] = Counter()
    name = ""
    for line in smaps.splitlines():
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":"):
            name = fields[5] if len(fields) > 5 else "anon"
        elif fields[0] == "Rss:":
            resident[name] += int(fields[1])
    return resident


def mapped(directory: Path, samples: list[Sample], calls: int) -> None:
    """What each kind of mapping gained from the first sample after the warm-up to the last."""
    _, late = warmed(samples, calls)
    if len(late) < 2:
        print("too few samples after the warm-up to compare mappings: lower --every")
        return
    first, last = late[0].calls, late[-1].calls

    def total(done: int) -> Counter[str]:
        resident: Counter[str] = Counter()
        for file in directory.glob(f"{done:09d}-*.smaps"):
            resident.update(_mappings(file.read_text()))
        return resident

    before, after = total(first), total(last)
    print(f"resident memory gained from call {first} to {last}, by mapping:")
    gained = {name: after[name] - before[name] for name in before.keys() | after.keys()}
    for name, kb in sorted(gained.items(), key=lambda item: -abs(item[1]))[:10]:
        print(f"  {kb / (last - first) * 1024:+9.1f} B/call {kb / 1024:+8.1f} MB  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--every", type=int, help="calls between samples (default 10,000)")
    parser.add_argument("--workers", type=int, default=0, help="serve --workers N")
    parser.add_argument("--trace", type=Path, help="tracemalloc snapshots here; top growth")
    parser.add_argument("--maps", type=Path, help="each process's smaps here; growth by mapping")
    parser.add_argument("--amqp-url", default=os.environ.get("ORDERS_AMQP_URL", DEFAULT_URL))
    args = parser.parse_args()
    args.every = args.every or min(10_000, max(500, args.calls // 10))
    if args.maps:
        args.maps.mkdir(parents=True, exist_ok=True)
    args.traced = []  # the calls done at each signal to a traced gateway
    # A soak stopped early still stops the processes it started and drops its reply queue.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    exchange = f"soak.orders.{uuid.uuid4().hex[:8]}"
    orders = {"ORDERS_AMQP_URL": args.amqp_url, "ORDERS_EXCHANGE": exchange,
              "ORDERS_REPLY_QUEUE": f"{exchange}.replies"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, estate_process() as estate:
        try:
            with (
                order_host(args.amqp_url, exchange),
                gateway(estate, Path(tmp), args, orders) as (base, key, pid),
            ):
                started = time.perf_counter()
                samples, answered, submitted, errors = asyncio.run(soak(base, key, pid, args))
                elapsed = time.perf_counter() - started
        finally:
            drop_queue(args.amqp_url, orders["ORDERS_REPLY_QUEUE"])
        print(f"{sum(s.calls for s in samples[-1:])} calls in {elapsed:.0f} s")
        problems = errors[:3] + judge(samples, args.calls)
        problems += logged(Path(tmp) / "audit.sqlite", answered, submitted)
    problems += p6(samples, args.calls)
    if args.trace:
        grown(args.trace, args.traced)
    if args.maps:
        mapped(args.maps, samples, args.calls)
    for problem in problems:
        print(f"FAIL: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
