"""The CLI's calls on the demo config reach the running demo's estate, wherever it moved."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.integration.support import ANNA, ROOT, free_port

COMMAND = Path(sys.executable).parent / "legacy-gateway"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_with_its_port_taken_the_demo_moves_its_estate_and_the_cli_follows(
    tmp_path: Path,
) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    port = free_port()
    suffix = uuid.uuid4().hex[:8]
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith(("_URL", "LEDGER_DB"))},
        "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "state" / "audit.sqlite"),
        # The demo's order host on the shared broker, under names of this test's own.
        "ORDERS_EXCHANGE": f"lgw-demo-test-{suffix}",
        "ORDERS_REPLY_QUEUE": f"lgw-demo-test-{suffix}-replies",
    }
    demo = subprocess.Popen(
        [str(COMMAND), "demo", "--port", str(port), "--estate-port", str(taken),
         "--audit-db", str(tmp_path / "state" / "audit.sqlite")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    addresses = tmp_path / "state" / "demo-estate.json"
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert demo.poll() is None, demo.stdout.read() if demo.stdout else ""
            assert time.monotonic() < deadline, "the demo did not start within 60 s"
            time.sleep(0.2)
        written = json.loads(addresses.read_text())["environment"]
        assert f":{taken}/" not in written["CUSTOMER_MASTER_URL"]  # it moved

        called = cli("call", "mappings/demo", "get_customer", "--args",
                     f'{{"customer_number": "{ANNA}"}}', env=env)  # fmt: skip
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["result"]["name"] == "MULLER, ANNA"
        assert "using the running demo's estate" in called.stderr
        validated = cli("validate", "mappings/demo", "--connect", env=env)
        assert "backend customer_master" not in validated.stderr, validated.stderr
    finally:
        demo.terminate()
        demo.wait(30)
        squatter.close()
    assert not addresses.exists()  # a stopped demo leaves no addresses to follow


def test_addresses_of_a_demo_that_is_gone_are_not_used(tmp_path: Path) -> None:
    from gateway import demo_addresses
    from gateway.demo import DEMO_CONFIG

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / demo_addresses.FILE_NAME).write_text(
        json.dumps({"pid": dead.pid, "environment": {"CRM_URL": "http://127.0.0.1:1/crm"}})
    )
    assert demo_addresses.use(DEMO_CONFIG, DEMO_CONFIG, tmp_path) == {}


def test_addresses_the_user_set_win_and_other_configs_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway import demo_addresses
    from gateway.demo import DEMO_CONFIG

    monkeypatch.setenv("CRM_URL", "http://crm.example/crm")
    monkeypatch.delenv("FX_RATES_URL", raising=False)
    recorded = {"CRM_URL": "http://127.0.0.1:1/crm", "FX_RATES_URL": "http://127.0.0.1:1/fx"}
    (tmp_path / demo_addresses.FILE_NAME).write_text(
        json.dumps({"pid": os.getpid(), "environment": recorded})
    )
    assert demo_addresses.use(tmp_path, DEMO_CONFIG, tmp_path) == {}
    applied = demo_addresses.use(DEMO_CONFIG, DEMO_CONFIG, tmp_path)
    assert applied == {"FX_RATES_URL": "http://127.0.0.1:1/fx"}
    assert os.environ["CRM_URL"] == "http://crm.example/crm"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
