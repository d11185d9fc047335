"""`legacy-gateway serve` as operators run it: its own process, uvicorn with uvloop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from estate.server import EstateServer
from tests.integration.support import ANNA, ROOT, EstateWatch

COMMAND = Path(sys.executable).parent / "legacy-gateway"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(estate_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(COMMAND), "serve", "--config", "mappings/demo", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "audit.sqlite")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "serve exited during start-up"
            assert time.monotonic() < deadline, "serve did not answer /healthz within 30 s"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_served_gateway_calls_the_estate_on_kept_alive_connections(
    served: str, estate: EstateServer
) -> None:
    watch = EstateWatch(estate)
    with httpx.Client(base_url=served) as agent:
        for _ in range(3):
            response = agent.post(
                "/v1/tools/get_customer/call", json={"arguments": {"customer_number": ANNA}}
            )
            assert response.status_code == 200, response.text
            assert response.json()["result"]["balance_eur"] == 1234.56
        record = agent.get(f"/v1/calls/{response.json()['call_id']}").json()
        assert record["interactions"][0]["response"]["http_status"] == 200
        ready = agent.get("/readyz")
        assert ready.status_code == 200, ready.text
    assert len(watch.new()) == 3
