"""No audit, no action: a gateway killed with SIGKILL under load loses no acknowledged call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from estate.server import EstateServer
from gateway.audit.bundle import verify_store
from gateway.audit.checkpoint import VerifierKey
from gateway.audit.sqlite_store import SQLiteStore
from gateway.workers import process_tree
from tests.integration.support import ANNA, DEMO_CONFIG, ROOT, serve_process

COMMAND = Path(sys.executable).parent / "legacy-gateway"


@pytest.mark.parametrize("workers", [1, 2])
def test_every_acknowledged_call_survives_a_sigkill_and_the_log_verifies(
    estate_env: dict[str, str], estate: EstateServer, tmp_path: Path, workers: int
) -> None:
    audit_db = tmp_path / "audit.sqlite"
    env = {"LEGACY_GATEWAY_AUDIT_DB": str(audit_db), "LEGACY_GATEWAY_WORKERS": str(workers)}
    answered_by: set[int] = set()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    with serve_process(DEMO_CONFIG, env) as (base, proc):

        def agent() -> None:
            with httpx.Client(base_url=base, timeout=5) as client:
                answered_by.add(client.get("/healthz", timeout=30).json()["pid"])
                while not stop.is_set():
                    try:
                        response = client.post(
                            "/v1/tools/get_customer/call",
                            json={"arguments": {"customer_number": ANNA}},
                        )
                    except httpx.HTTPError:
                        return  # the gateway is gone
                    if response.status_code == 200:
                        with lock:
                            acknowledged.append(response.json()["call_id"])

        agents = [threading.Thread(target=agent) for _ in range(16)]
        for thread in agents:
            thread.start()
        time.sleep(2.0)
        # As the kernel stops a container: every process of it at once, the workers too.
        for pid in process_tree(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for thread in agents:
            thread.join(10)

    assert len(acknowledged) > 50, "the load was too light to mean anything"
    # Each worker was appending when it was killed (16 connections all on one: 1 in 30,000).
    assert len(answered_by) == workers
    store = SQLiteStore(audit_db)
    try:
        for call_id in acknowledged:
            kinds = [record.kind for record in store.records_of(call_id)]
            assert kinds == ["call.intent", "interaction", "call.outcome"], (call_id, kinds)
    finally:
        store.close()

    # Back up again: the next start integrates what the killed one had not, and signs it.
    with serve_process(DEMO_CONFIG, env) as (base, _):
        again = httpx.post(
            f"{base}/v1/tools/get_customer/call", json={"arguments": {"customer_number": ANNA}}
        )
        assert again.status_code == 200
        checkpoint = httpx.get(f"{base}/v1/audit/checkpoint").json()
    store = SQLiteStore(audit_db)
    try:
        report = verify_store(store, VerifierKey.parse(checkpoint["verifier_key"]))
        assert report.ok, report.problems
        assert report.latest_size == store.count()
    finally:
        store.close()
    verified = subprocess.run(
        [str(COMMAND), "audit", "verify", "--audit-db", str(audit_db)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
