"""An adapter from outside the gateway, found only through its entry point.

The fixed-width adapter (``tests/plugins/fixedwidth_adapter``) is installed the way a
third-party package is: its package and a ``*.dist-info`` with ``entry_points.txt`` on a
path of their own, which ``legacy-gateway`` sees through ``PYTHONPATH`` alone.
"""

from __future__ import annotations

import os
import shutil
import socketserver
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.http_hosts import serving
from tests.integration.support import ROOT, served_gateway

PLUGIN = ROOT / "tests" / "plugins" / "fixedwidth_adapter"
ACCOUNT = "4711000001"
# Return code, then NAME (20), BALANCE (10, cents), BRANCH (4).
ANSWER = "00" + "MULLER, ANNA".ljust(20) + "0000123456" + "B017"


class FixedWidthHost(socketserver.ThreadingTCPServer):
    """A legacy host: one request line in, one fixed-width answer line out."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[bytes] = []


class _Handler(socketserver.StreamRequestHandler):
    server: FixedWidthHost

    def handle(self) -> None:
        line = self.rfile.readline()
        self.server.received.append(line)
        known = line[8:18] == ACCOUNT.encode()
        self.wfile.write(
            (ANSWER if known else "04" + "ACCOUNT NOT ON FILE".ljust(34)).encode() + b"\n"
        )


@pytest.fixture
def host() -> Iterator[FixedWidthHost]:
    with serving(FixedWidthHost()) as server:
        yield server


def install_plugin(site: Path) -> Path:
    """The package and its distribution metadata, as pip would leave them."""
    shutil.copytree(
        PLUGIN, site / "fixedwidth_adapter", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = site / "fixedwidth_adapter-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fixedwidth-adapter\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[legacy_gateway.adapters]\nfixedwidth = fixedwidth_adapter:FixedWidthAdapter\n"
    )
    return site


def write_config(directory: Path, port: int) -> Path:
    directory.mkdir()
    (directory / "accounts.yaml").write_text(
        f"""
backends:
  accounts:
    adapter: fixedwidth
    description: Account master on the branch host (fixed-width lines over TCP).
    host: 127.0.0.1
    port: {port}
    timeout_s: 5
tools:
  get_account:
    description: An account's holder and balance, by account number.
    backend: accounts
    operation: ACCINQ
    request_layout:
      - {{name: ACCNO, width: 10}}
    answer_layout:
      - {{name: NAME, width: 20}}
      - {{name: BALANCE, width: 10}}
      - {{name: BRANCH, width: 4}}
    input:
      account_number: {{to: ACCNO, pattern: "^[0-9]{{10}}$"}}
    output:
      fields:
        holder: {{from: NAME, trim: true}}
        balance_eur: {{from: BALANCE, type: decimal, scale: -2}}
        branch: {{from: BRANCH}}
"""
    )
    return directory


def cli(args: list[str], site: Path | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEGACY_GATEWAY_AUTH": "open"}
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    command = Path(sys.executable).parent / "legacy-gateway"
    return subprocess.run(
        [str(command), *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_entry_point_adapter_serves_a_tool_over_rest(
    host: FixedWidthHost, tmp_path: Path
) -> None:
    site = install_plugin(tmp_path / "site")
    config = write_config(tmp_path / "config", host.server_address[1])
    env = {"PYTHONPATH": str(site), "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "audit.sqlite")}
    with served_gateway(config, env) as base, httpx.Client(base_url=base, timeout=10) as agent:
        response = agent.post(
            "/v1/tools/get_account/call", json={"arguments": {"account_number": ACCOUNT}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"] == {
            "holder": "MULLER, ANNA",
            "balance_eur": 1234.56,
            "branch": "B017",
        }
        assert host.received == [b"ACCINQ  " + ACCOUNT.encode() + b"\n"]

        record = agent.get(f"/v1/calls/{response.json()['call_id']}").json()
        (interaction,) = record["interactions"]
        assert interaction["adapter"] == "fixedwidth"
        assert interaction["backend"] == "accounts"
        assert interaction["operation"] == "ACCINQ"
        assert interaction["request"] == {"line": f"ACCINQ  {ACCOUNT}\n"}
        assert interaction["response"] == {"line": ANSWER}
        assert interaction["error"] is None
        assert interaction["duration_ms"] > 0

        refused = agent.post(
            "/v1/tools/get_account/call", json={"arguments": {"account_number": "9999999999"}}
        )
        assert refused.status_code == 502, refused.text
        error = refused.json()["error"]
        assert error["code"] == "legacy_fault"
        assert error["details"]["faultcode"] == "04"
        (failed,) = agent.get(f"/v1/calls/{error['call_id']}").json()["interactions"]
        assert failed["error"]["code"] == "legacy_fault"
        assert failed["error"]["faultstring"] == "ACCOUNT NOT ON FILE"


def test_the_adapter_exists_only_through_its_entry_point(
    host: FixedWidthHost, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config", host.server_address[1])
    missing = cli(["validate", str(config)], site=None)
    assert missing.returncode != 0
    assert "unknown adapter 'fixedwidth'" in missing.stdout + missing.stderr

    site = install_plugin(tmp_path / "site")
    found = cli(["validate", str(config)], site=site)
    assert found.returncode == 0, found.stdout + found.stderr


def test_the_config_schema_describes_the_adapters_keys(tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site")
    schema = orjson.loads(cli(["config", "schema"], site=site).stdout)
    assert "FixedWidthBackendConfig" in schema["$defs"]
    tool = schema["$defs"]["ToolConfig"]["properties"]
    assert {"request_layout", "answer_layout", "message", "expect_rows"} <= set(tool)


def test_a_mistake_in_the_adapters_tool_keys_is_located(
    host: FixedWidthHost, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config", host.server_address[1])
    yaml = config / "accounts.yaml"
    yaml.write_text(
        yaml.read_text().replace("{name: BRANCH, width: 4}", "{name: BRANCH, width: 0}")
    )
    site = install_plugin(tmp_path / "site")
    result = cli(["validate", str(config)], site=site)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    line = next(n for n, text in enumerate(yaml.read_text().splitlines(), 1) if "BRANCH" in text)
    assert f"accounts.yaml:{line}" in output, output
    assert (
        f"accounts.yaml:{line}: tools.get_account.answer_layout[2].width: "
        "Input should be greater than or equal to 1" in output
    ), output
