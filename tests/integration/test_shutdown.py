"""Stopping `legacy-gateway serve` with SIGTERM, as Docker and Kubernetes do, mid-call."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.audit.open_store import open_store
from gateway.audit.store import AuditStore
from tests.http_hosts import QuietHandler, serving
from tests.integration.support import serve_process

CONFIG = """\
backends:
  slow_host:
    adapter: http
    description: A legacy host that takes its time.
    base_url: {base_url}
    timeout_s: 30
tools:
  slow_lookup:
    description: Looks a value up on the slow host.
    backend: slow_host
    operation: GET /lookup/{{KEY}}
    input:
      key: {{to: KEY, pattern: "^[a-z0-9]+$"}}
    output:
      fields:
        value: {{from: VALUE}}
"""


class SlowHost(ThreadingHTTPServer):
    """Answers ``GET /lookup/KEY`` after ``delay_s``; ``arrived`` is set when a request comes."""

    daemon_threads = True

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.arrived = threading.Event()
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _SlowHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for(self, path: str, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while path not in self.paths:
            assert time.monotonic() < deadline, f"{path} never reached the legacy host"
            time.sleep(0.02)


class _SlowHandler(QuietHandler):
    server: SlowHost

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.server.arrived.set()
        time.sleep(self.server.delay_s)
        self.answer(json.dumps({"VALUE": self.path.rsplit("/", 1)[-1].upper()}).encode())


@pytest.fixture
def slow_host(request: pytest.FixtureRequest) -> Iterator[SlowHost]:
    with serving(SlowHost(getattr(request, "param", 2.0))) as host:
        yield host


@contextmanager
def _serving(
    tmp_path: Path, host: SlowHost, audit_db: Path, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`legacy-gateway serve` in front of the slow host, with LEGACY_GATEWAY_<NAME> settings."""
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "slow.yaml").write_text(CONFIG.format(base_url=host.base_url))
    settings = {f"LEGACY_GATEWAY_{name.upper()}": value for name, value in env.items()}
    with serve_process(directory, {"LEGACY_GATEWAY_AUDIT_DB": str(audit_db), **settings}) as served:
        yield served


def _call_in_background(base: str, key: str) -> Future[httpx.Response]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(
        httpx.post,
        f"{base}/v1/tools/slow_lookup/call",
        json={"arguments": {"key": key}},
        timeout=30,
    )
    pool.shutdown(wait=False)
    return future


@contextmanager
def _verified_store(audit_db: Path) -> Iterator[AuditStore]:
    """The call record the gateway left, read, closed, then verified by `audit verify`."""
    store = open_store(audit_db, None)
    try:
        yield store
    finally:
        store.close()
    command = Path(sys.executable).parent / "legacy-gateway"
    verified = subprocess.run(
        [str(command), "audit", "verify", "--audit-db", str(audit_db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_sigterm_drains_the_call_in_flight_refuses_new_ones_and_exits_0(
    tmp_path: Path, slow_host: SlowHost, audit_db: Path
) -> None:
    with _serving(tmp_path, slow_host, audit_db, drain_grace_s="15") as (base, proc):
        assert httpx.get(f"{base}/readyz").status_code == 200
        in_flight = _call_in_background(base, "abc")
        assert slow_host.arrived.wait(10), "the call never reached the legacy host"

        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the signal is handled on the server's next tick (0.1 s)

        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["status"] == "draining"
        refused = httpx.post(
            f"{base}/v1/tools/slow_lookup/call", json={"arguments": {"key": "late"}}
        )
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        error = refused.json()["error"]
        assert (error["code"], error["retryable"]) == ("shutting_down", True)

        answered = in_flight.result(timeout=30)
        assert answered.status_code == 200, answered.text
        assert answered.json()["result"] == {"value": "ABC"}
        assert proc.wait(30) == 0

    with _verified_store(audit_db) as store:
        records = store.records_of(answered.json()["call_id"])
        assert [r.kind for r in records] == ["call.intent", "interaction", "call.outcome"]
        assert records[-1].body["status"] == "ok"
        # The last checkpoint was signed on the way out: it covers every record.
        latest = store.latest_checkpoint()
        assert latest is not None
        assert latest.size == store.count()


@pytest.mark.parametrize("slow_host", [8.0], indirect=True)
def test_a_call_outlasting_the_grace_is_recorded_as_interrupted(
    tmp_path: Path, slow_host: SlowHost, audit_db: Path
) -> None:
    with _serving(tmp_path, slow_host, audit_db, drain_grace_s="0.5") as (base, proc):
        in_flight = _call_in_background(base, "abc")
        assert slow_host.arrived.wait(10), "the call never reached the legacy host"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0

    with pytest.raises(httpx.HTTPError):
        in_flight.result(timeout=10).raise_for_status()
    with _verified_store(audit_db) as store:
        (outcome,) = store.records_of_kind("call.outcome")
        assert outcome.body["status"] == "error"
        assert outcome.body["error"]["code"] == "call_interrupted"
        kinds = [r.kind for r in store.records_of(str(outcome.call_id))]
        assert kinds == ["call.intent", "interaction", "call.outcome"]


@pytest.mark.parametrize("slow_host", [0.5], indirect=True)
def test_workers_share_the_port_and_the_record_and_all_drain_on_sigterm(
    tmp_path: Path, slow_host: SlowHost, audit_db: Path
) -> None:
    with _serving(tmp_path, slow_host, audit_db, workers="2") as (base, proc):
        calls = [_call_in_background(base, f"k{n}") for n in range(4)]
        assert slow_host.arrived.wait(10)
        answers = [call.result(timeout=30) for call in calls]
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        in_flight = _call_in_background(base, "last")
        slow_host.wait_for("/lookup/last")
        proc.send_signal(signal.SIGTERM)
        assert in_flight.result(timeout=30).json()["result"] == {"value": "LAST"}
        assert proc.wait(30) == 0

    with _verified_store(audit_db) as store:
        # Two workers starting on one config: it is recorded once, or twice when both start
        # at the same instant; never once per call.
        assert 1 <= len(store.records_of_kind("config.loaded")) <= 2
        assert len(store.records_of_kind("call.outcome")) == 5


def _answering_pid(client: httpx.Client, base: str) -> int:
    answer = client.get(f"{base}/healthz", timeout=30)
    answer.raise_for_status()
    return int(answer.json()["pid"])


@pytest.mark.parametrize("slow_host", [0.0], indirect=True)
def test_workers_each_take_a_share_of_a_burst_of_keep_alive_connections(
    tmp_path: Path, slow_host: SlowHost, audit_db: Path
) -> None:
    """An agent framework opens its pool of connections at once, as soon as the gateway
    answers, and keeps them: they are spread over the workers, not all kept by the first up."""
    # As soon as the port answers (one worker up, the other perhaps still importing).
    with _serving(tmp_path, slow_host, audit_db, workers="2") as (base, proc):
        clients = [httpx.Client() for _ in range(32)]
        start = threading.Barrier(len(clients))

        def connect(client: httpx.Client) -> list[int]:
            start.wait()
            return [_answering_pid(client, base) for _ in range(3)]

        try:
            with ThreadPoolExecutor(len(clients)) as pool:
                answered = list(pool.map(connect, clients))
        finally:
            for client in clients:
                client.close()
        # The supervisor checked the config (the whole gateway loaded) and then started
        # afresh to run the workers, holding none of it: about 16 MB, not 140.
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = int(
            next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
        )
        assert rss_kb < 40_000, status
    # A connection stays with the worker that accepted it.
    assert all(len(set(pids)) == 1 for pids in answered), answered
    shares = Counter(pids[0] for pids in answered)
    assert len(shares) == 2, shares
    # Spread by the kernel over the connections' addresses: fewer than 5 of 32 on one worker
    # happens about once in 50,000 runs.
    assert min(shares.values()) >= 5, shares


def _samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


@pytest.mark.parametrize("slow_host", [0.0], indirect=True)
def test_every_worker_answers_metrics_for_all_the_workers(
    tmp_path: Path, slow_host: SlowHost, audit_db: Path
) -> None:
    """A scraper keeps its connection, so it keeps talking to one worker: that worker must
    count every worker's calls."""
    with _serving(tmp_path, slow_host, audit_db, workers="2") as (base, _):
        served_by: Counter[int] = Counter()
        for n in range(16):  # connections one after another, spread over the workers
            with httpx.Client() as client:
                pid = _answering_pid(client, base)
                answer = client.post(f"{base}/v1/tools/slow_lookup/call",
                                     json={"arguments": {"key": f"m{n}"}}, timeout=30)  # fmt: skip
                assert answer.status_code == 200, answer.text
                served_by[pid] += 1
        with httpx.Client() as scraper:  # one kept connection, as Prometheus scrapes
            kept = [_samples(scraper.get(f"{base}/metrics").text) for _ in range(3)]
        fresh = [_samples(httpx.get(f"{base}/metrics").text) for _ in range(4)]

    # Both workers served calls (all 16 on one: about once in 30,000 runs).
    assert len(served_by) == 2, served_by
    tool = (("tool", "slow_lookup"),)
    for samples in kept + fresh:
        assert samples[("legacy_gateway_calls_total", (("outcome", "ok"), *tool))] == 16
        assert samples[("legacy_gateway_call_seconds_count", tool)] == 16
        legacy = (("adapter", "http"), ("backend", "slow_host"), ("outcome", "ok"))
        assert samples[("legacy_gateway_legacy_interactions_total", legacy)] == 16
