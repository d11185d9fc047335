"""Helpers the integration tests share: a gateway in process, the command, API keys, calling
tools, reading records, watching the estate."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient

from estate.server import EstateServer
from estate.soap_service import ReceivedRequest
from gateway.api import create_app
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.store import AuditStore, now
from gateway.policy.auth import Mode, new_key
from gateway.runtime import Gateway

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "mappings" / "demo"
SOAP_TEST_CONFIG = ROOT / "tests" / "fixtures" / "soap_test"
AMQP_TEST_CONFIG = ROOT / "tests" / "fixtures" / "amqp_test"

CM_NS = "urn:legacy:customer-master:v1"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

ANNA = "10000001"  # the fixed demo customer: MULLER, ANNA of BERLIN
UNKNOWN_CUSTOMER = "12345678"
SECURE_USER = "agent"
SECURE_PASSWORD = "pa55-word-xyz"

DEMO_TOOLS = {
    "get_customer",
    "search_customers",
    "list_customers",
    "update_customer_address",
    "get_exchange_rate",
    "get_account",
    "accounts_of_customer",
    "list_postings",
    "record_posting",
    "book_adjustment",
    "order_status",
    "place_order",
    "cancel_order",
    "get_customer_profile",
    "add_contact_note",
}

# The ``tools:`` section of a config with the demo's GetCustomer as one tool of a SOAP backend.
GET_CUSTOMER_TOOL = """\
tools:
  get_customer:
    description: One customer.
    backend: {backend}
    operation: GetCustomer
    input:
      customer_number: {{to: CUSTNO, pattern: "^[0-9]{{8}}$"}}
    output:
      from: CUSTOMER
      fields:
        name: {{from: CUST_NAME, trim: true}}
"""


def get_customer_tool(backend: str) -> str:
    """The config YAML of the demo's ``get_customer`` tool on the SOAP backend ``backend``."""
    return GET_CUSTOMER_TOOL.format(backend=backend)


# The console script installed next to the interpreter running the tests (the venv's).
COMMAND = Path(sys.executable).parent / "legacy-gateway"


@contextmanager
def gateway_client(
    config_dir: Path,
    audit_db: Path,
    watch_config_s: float | None = None,
    auth: Mode = "open",
    store: Callable[[], AuditStore] | None = None,
) -> Iterator[TestClient]:
    """The agent API for ``config_dir``, in process, with its lifespan (adapters) running.
    It records in the SQLite file ``audit_db``, or in the store ``store()`` opens; either way
    the log's keys are the ones beside ``audit_db``."""

    def build() -> Gateway:
        opened = store() if store is not None else SQLiteStore(audit_db)
        return Gateway.from_directory(
            config_dir, opened, AuditLog(opened, AuditSettings.from_environment(audit_db)), auth
        )

    app = create_app(build, watch_config_s)
    with TestClient(app) as client:
        yield client
    gateway_of(client).store.close()


def gateway_of(client: TestClient) -> Gateway:
    gateway: Gateway = client.app.state.gateway  # type: ignore[attr-defined]
    return gateway


def key_for(client: TestClient, agent: str, scopes: list[str]) -> str:
    """A new API key of ``agent`` in the served gateway's store (``key:<agent>``)."""
    made = new_key(agent, scopes, now())
    gateway_of(client).store.add_key(made.stored)
    return made.key


def committed(client: TestClient, value: Any) -> str:
    """What the records of this gateway hold for a sensitive ``value``: its commitment with
    the installation's salt."""
    return gateway_of(client).registry.commitments.commit(value)


def call_tool(
    client: TestClient,
    tool: str,
    arguments: dict[str, Any],
    **body: Any,
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/v1/tools/{tool}/call", json={"arguments": arguments, **body}
    )
    return response


def call_as(client: TestClient, tool: str, arguments: dict[str, Any], key: str | None) -> Any:
    """A tool call with ``key`` as its bearer (none: no Authorization header)."""
    headers = bearer(key) if key else {}
    return client.post(f"/v1/tools/{tool}/call", json={"arguments": arguments}, headers=headers)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``legacy-gateway ARGS`` as a real process from the project directory."""
    return subprocess.run(
        [str(COMMAND), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def json_out(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def create_key(audit_db: Path, agent: str, scopes: str) -> str:
    """A new API key made with ``legacy-gateway keys create``, as an operator makes one."""
    result = run("keys", "create", "--agent", agent, "--scopes", scopes,
                 "--audit-db", str(audit_db))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "keep it now: it is not shown again" in result.stderr
    key = result.stdout.strip()
    assert key.startswith("lgw_")
    return key


def call_record(client: TestClient, call_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/calls/{call_id}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error answer, checked to have the one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "retryable", "call_id", "details"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["retryable"], bool)
    assert isinstance(error["details"], dict)
    return error


def sole_interaction(record: dict[str, Any]) -> dict[str, Any]:
    interactions: list[dict[str, Any]] = record["interactions"]
    assert len(interactions) == 1, interactions
    return interactions[0]


class EstateWatch:
    """The POSTs an estate receives from now on (robust to its bounded ``received`` deque)."""

    def __init__(self, estate: EstateServer) -> None:
        self.estate = estate
        received = estate.received
        self._last: ReceivedRequest | None = received[-1] if received else None

    def new(self) -> list[ReceivedRequest]:
        seen = list(self.estate.received)
        if self._last is None:
            return seen
        for index in range(len(seen) - 1, -1, -1):
            if seen[index] is self._last:
                return seen[index + 1 :]
        return seen

    def sole(self) -> ReceivedRequest:
        new = self.new()
        assert len(new) == 1, [r.body for r in new]
        return new[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served_gateway(config: Path, env: dict[str, str]) -> Iterator[str]:
    """``legacy-gateway serve`` in its own process; yields its base URL once it is healthy."""
    with serve_process(config, env) as (base, _):
        yield base


@contextmanager
def serve_process(
    config: Path, env: dict[str, str], start_s: float = 30
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like ``served_gateway``, with the process itself (to kill it); ``start_s``: how long
    it may take to answer (spawned workers each import the gateway)."""
    port = free_port()
    command = Path(sys.executable).parent / "legacy-gateway"
    proc = subprocess.Popen(
        [str(command), "serve", "--config", str(config), "--port", str(port)],
        cwd=ROOT,
        # Open unless the test says otherwise: these tests are about other things than keys.
        env={**os.environ, "LEGACY_GATEWAY_AUTH": "open", **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_s
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "serve exited during start-up"
            assert time.monotonic() < deadline, f"serve did not answer /healthz within {start_s} s"
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)


def postings_with(ledger_db: Path, reference: str) -> int:
    """How many postings in the demo ledger carry this reference."""
    with sqlite3.connect(ledger_db) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM POSTINGS WHERE trim(REF_NO) = ?", (reference,)
        ).fetchone()
    return int(count)


def demo_copy(tmp_path: Path) -> Path:
    """A copy of the demo config at ``tmp_path``/config, for a test to change."""
    return Path(shutil.copytree(DEMO_CONFIG, tmp_path / "config"))


@contextmanager
def served_demo_under_keys(audit_db: Path) -> Iterator[str]:
    """The base URL of ``legacy-gateway serve`` on the demo config, API keys required."""
    env = {"LEGACY_GATEWAY_AUTH": "keys", "LEGACY_GATEWAY_AUDIT_DB": str(audit_db)}
    with serve_process(DEMO_CONFIG, env) as (base, _):
        yield base
