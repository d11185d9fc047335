"""Soak: a mixed load of demo tool calls at fixed concurrency, watching for anything that grows.

The estate (SOAP customer master and exchange rates, the CRM's REST face) runs in its own
process and ``legacy-gateway serve`` (API keys, full audit log on SQLite) serves the demo
config's tools over it: reads (``get_customer``, ``search_customers``, ``get_exchange_rate``,
``get_customer_profile``) and writes (``update_customer_address``, ``add_contact_note``), in a
fixed rotation. (The demo's ledger and order tools need ODBC and RabbitMQ; they are not in the
rotation.) ``--calls`` calls in all (20,000 by default; ``--calls 1000000`` for the full soak)
from ``--concurrency`` callers.

Every ``--every`` calls (10,000 by default, fewer for short runs) it samples the gateway's RSS,
open file descriptors, open sockets, and the window's p50/p99 latency. The rule for "grows
without bound": a least-squares line through the samples of the second half of the run
(at least three), projected over 1,000,000 calls, must stay within RSS +20 MB, +50 file
descriptors and +50 sockets (the two counts move with the calls in flight: they fail only
when the lowest late sample is above every early one too); and the second half's median p50
latency must stay within 3x the first half's. It prints ``P6 rss +X KB/call`` (RSS at the end
against RSS after 10,000 calls, or the first sample of a shorter run) and exits 1 when a rule
fails, when a call fails, or when, after the gateway stopped, ``legacy-gateway audit verify``
fails or an acknowledged call has no outcome record in the log.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import BIN, ROOT, estate_process, free_port, wait_http

TOOLS = ("get_customer", "search_customers", "get_exchange_rate", "get_customer_profile",
         "update_customer_address", "add_contact_note")  # fmt: skip
LEFT_OUT = ("ledger.yaml", "orders.yaml")
PER_MILLION = {"rss_mb": 20.0, "fds": 50.0, "sockets": 50.0}


def calls() -> Iterator[tuple[str, dict[str, Any]]]:
    """The rotation: two reads to each write, across SOAP and REST backends."""
    for n in itertools.count():
        customer = f"{10000001 + n % 40:08d}"
        yield from (
            ("get_customer", {"customer_number": customer}),
            ("search_customers", {"name_prefix": "M"}),
            ("get_exchange_rate", {"from_currency": "EUR", "to_currency": "USD"}),
            ("get_customer_profile", {"customer_number": customer}),
            ("update_customer_address", {"customer_number": customer, "address_line1":
             f"{n % 90 + 1} Savile Row", "city": "London", "postal_code": "W1S 3PQ",
             "country": "GB"}),
            ("add_contact_note", {"customer_number": customer, "note": f"soak note {n}"}),
        )  # fmt: skip


@dataclass
class Sample:
    calls: int
    rss_mb: float
    fds: int
    sockets: int
    p50_ms: float
    p99_ms: float


def _tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (the workers of ``serve --workers``)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(
                int(entry.name)
            )
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(parents.get(current, []))
    return found


def sample(pid: int, done: int, latencies: list[float]) -> Sample:
    rss_kb = fds = sockets = 0
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
            links = [os.readlink(f) for f in Path(f"/proc/{member}/fd").iterdir()]
        except OSError:
            continue
        rss_kb += next(int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:"))  # fmt: skip
        fds += len(links)
        sockets += sum(link.startswith("socket:") for link in links)
    latencies.sort()
    return Sample(
        done, rss_kb / 1024, fds, sockets,
        statistics.median(latencies) * 1000 if latencies else 0.0,
        latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else 0.0,
    )  # fmt: skip


def slope(xs: list[float], ys: list[float]) -> float:
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs) or 1.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def judge(samples: list[Sample]) -> list[str]:
    """What grew without bound, by the rule in the module's docstring."""
    late = samples[len(samples) // 2 :]
    if len(late) < 3:
        return [f"too few samples to judge ({len(samples)}): lower --every"]
    failures = []
    xs = [float(s.calls) for s in late]
    early = samples[: len(samples) // 2]
    for name, limit in PER_MILLION.items():
        growth = slope(xs, [float(getattr(s, name)) for s in late]) * 1_000_000
        # Descriptors and sockets come and go with the calls in flight: a count grows only
        # when even its lowest late value is above every early one.
        risen = name == "rss_mb" or min(getattr(s, name) for s in late) > max(
            getattr(s, name) for s in early
        )
        if growth > limit and risen:
            failures.append(f"{name} grows {growth:+.1f} per million calls (limit {limit:+.0f})")
    early_p50 = statistics.median(s.p50_ms for s in early)
    late_p50 = statistics.median(s.p50_ms for s in late)
    if late_p50 > 3 * early_p50:
        failures.append(f"p50 latency rose from {early_p50:.2f} ms to {late_p50:.2f} ms")
    return failures


@contextmanager
def gateway(estate: str, directory: Path, workers: int) -> Iterator[tuple[str, str, int]]:
    config = directory / "config"
    shutil.copytree(ROOT / "mappings" / "demo", config)
    for name in LEFT_OUT:
        (config / name).unlink()
    audit_db = directory / "audit.sqlite"
    env = {**os.environ, "LEGACY_GATEWAY_AUDIT_DB": str(audit_db), "LEGACY_GATEWAY_AUTH": "keys",
           "CUSTOMER_MASTER_URL": f"{estate}/customer-master",
           "FX_RATES_URL": f"{estate}/fx-rates", "CRM_URL": f"{estate}/crm"}  # fmt: skip
    key = subprocess.run(
        [str(BIN / "legacy-gateway"), "keys", "create", "--agent", "soak", "--scopes",
         ",".join(TOOLS), "--audit-db", str(audit_db)],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.strip()  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "legacy-gateway"), "serve", "--config", str(config), "--port", str(port),
         "--log-level", "warning", *(["--workers", str(workers)] if workers else [])],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 90)  # spawned workers import slowly
        yield f"http://127.0.0.1:{port}", key, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


async def soak(base: str, key: str, pid: int, args: argparse.Namespace) -> tuple[
    list[Sample], set[str], list[str]
]:  # fmt: skip
    rotation = calls()
    acknowledged: set[str] = set()
    errors: list[str] = []
    window: list[float] = []
    samples: list[Sample] = []
    done = finished = 0
    headers = {"authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as c:

        async def caller() -> None:
            nonlocal done, finished, window
            while done < args.calls and len(errors) < 10:
                tool, arguments = next(rotation)
                done += 1
                started = time.perf_counter()
                answer = await c.post(f"/v1/tools/{tool}/call", json={"arguments": arguments})
                window.append(time.perf_counter() - started)
                if answer.status_code == 200:
                    acknowledged.add(answer.json()["call_id"])
                else:
                    errors.append(f"{tool}: HTTP {answer.status_code} {answer.text[:200]}")
                finished += 1
                if finished % args.every == 0:
                    samples.append(sample(pid, finished, window))
                    window = []
                    latest = samples[-1]
                    print(
                        f"{latest.calls:>9} calls  rss {latest.rss_mb:7.1f} MB  fds "
                        f"{latest.fds:4}  sockets {latest.sockets:4}  p50 {latest.p50_ms:7.2f} "
                        f"ms  p99 {latest.p99_ms:7.2f} ms",
                        flush=True,
                    )

        await asyncio.gather(*(caller() for _ in range(args.concurrency)))
    return samples, acknowledged, errors


def logged(audit_db: Path, acknowledged: set[str]) -> list[str]:
    """After the gateway stopped: the log verifies and holds every acknowledged call."""
    from gateway.audit.sqlite_store import SQLiteStore
    from gateway.audit.store import OUTCOME

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
    finally:
        store.close()
    missing = acknowledged - outcomes
    if missing:
        problems.append(f"{len(missing)} acknowledged call(s) have no outcome in the log")
    print(f"{len(acknowledged)} acknowledged calls, {len(acknowledged) - len(missing)} in the log")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--every", type=int, help="calls between samples (default 10,000)")
    parser.add_argument("--workers", type=int, default=0, help="serve --workers N")
    args = parser.parse_args()
    args.every = args.every or min(10_000, max(500, args.calls // 10))
    with tempfile.TemporaryDirectory() as tmp, estate_process() as estate:
        with gateway(estate, Path(tmp), args.workers) as (base, key, pid):
            started = time.perf_counter()
            samples, acknowledged, errors = asyncio.run(soak(base, key, pid, args))
            elapsed = time.perf_counter() - started
        print(f"{sum(s.calls for s in samples[-1:])} calls in {elapsed:.0f} s")
        problems = errors[:3] + judge(samples) + logged(Path(tmp) / "audit.sqlite", acknowledged)
    # Against the RSS after 10,000 calls, as P6 states it (warmed up: caches, pools, imports).
    first, last = next((s for s in samples if s.calls >= 10_000), samples[0]), samples[-1]
    growth_kb = (last.rss_mb - first.rss_mb) * 1024 / max(1, last.calls - first.calls)
    print(f"P6 rss {first.rss_mb:.1f} MB after {first.calls} calls, {last.rss_mb:.1f} MB after "
          f"{last.calls}: {growth_kb:+.3f} KB/call")  # fmt: skip
    for problem in problems:
        print(f"FAIL: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
