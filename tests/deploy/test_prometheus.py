"""deploy/prometheus/prometheus.yaml: checked by promtool, then used by a real Prometheus to
scrape a real `legacy-gateway serve` whose /metrics answers only a key with the `metrics`
scope. Prometheus and promtool come from Debian's `prometheus` package (make setup)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from estate.server import EstateServer
from tests.integration.support import ANNA, free_port, get_customer_tool, serve_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "prometheus" / "prometheus.yaml"
KEY_FILE = "secrets/legacy-gateway-metrics-key"  # as the example names it
WSDL = ROOT / "mappings" / "demo" / "wsdl" / "customer_master.wsdl"
CONFIG = """\
backends:
  customer_master:
    adapter: soap
    wsdl: {wsdl}
    endpoint: {url}
"""


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:  # a failure, not a skip: CI must run this
        pytest.fail(f"{name} is not installed: apt-get install prometheus (make setup does)")
    return found


def example_with_key(directory: Path, key: str) -> Path:
    """The example as shipped, in a directory holding the key file it names."""
    (directory / "secrets").mkdir(parents=True, exist_ok=True)
    (directory / KEY_FILE).write_text(key + "\n")
    copy = directory / "prometheus.yaml"
    shutil.copyfile(EXAMPLE, copy)
    return copy


def test_promtool_accepts_the_example(tmp_path: Path) -> None:
    config = example_with_key(tmp_path, "lgw_example_key")
    checked = subprocess.run(
        [tool("promtool"), "check", "config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


@dataclass
class ServedGateway:
    base: str
    metrics_key: str
    agent_key: str


def create_key(audit_db: Path, agent: str, scopes: str) -> str:
    command = Path(sys.executable).parent / "legacy-gateway"
    created = subprocess.run(
        [str(command), "keys", "create", "--audit-db", str(audit_db),
         "--agent", agent, "--scopes", scopes],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return created.stdout.strip()


@pytest.fixture
def gateway(estate: EstateServer, tmp_path: Path) -> Iterator[ServedGateway]:
    """`legacy-gateway serve` with keys checked, in front of the demo estate."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "crm.yaml").write_text(
        CONFIG.format(wsdl=WSDL, url=estate.customer_master_url)
        + get_customer_tool("customer_master")
    )
    audit_db = tmp_path / "audit.sqlite"
    metrics_key = create_key(audit_db, "prometheus", "metrics")
    agent_key = create_key(audit_db, "claims-bot", "get_customer")
    env = {
        "LEGACY_GATEWAY_AUTH": "keys",
        "LEGACY_GATEWAY_AUDIT_DB": str(audit_db),
        "LEGACY_GATEWAY_WORKERS": "1",
    }
    with serve_process(config, env) as (base, _):
        yield ServedGateway(base, metrics_key, agent_key)


def scrape_config(directory: Path, gateway: ServedGateway) -> Path:
    """The example's own job aimed at the gateway, scraping every second, and beside it the
    same job with an agent's key that lacks the `metrics` scope."""
    yaml = YAML(typ="safe")
    example_with_key(directory, gateway.metrics_key)
    (directory / "secrets" / "agent-key").write_text(gateway.agent_key + "\n")
    config: dict[str, Any] = yaml.load(EXAMPLE)
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "legacy-gateway"]
    job["static_configs"] = [{"targets": [gateway.base.removeprefix("http://")]}]
    without_scope = {
        **job,
        "job_name": "agent-key",
        "authorization": {**job["authorization"], "credentials_file": "secrets/agent-key"},
    }
    config["global"] |= {"scrape_interval": "1s", "scrape_timeout": "1s"}
    config["scrape_configs"] = [job, without_scope]
    path = directory / "prometheus.yaml"
    with path.open("w") as out:
        yaml.dump(config, out)
    return path


def wait_for(what: str, probe: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.5)


@pytest.mark.timeout(180)
def test_a_real_prometheus_scrapes_the_gateway_with_a_metrics_key(
    gateway: ServedGateway, tmp_path: Path
) -> None:
    answer = httpx.post(
        f"{gateway.base}/v1/tools/get_customer/call",
        json={"arguments": {"customer_number": ANNA}},
        headers={"Authorization": f"Bearer {gateway.agent_key}"},
    )
    assert answer.status_code == 200, answer.text
    assert httpx.get(f"{gateway.base}/metrics").status_code == 401

    config = scrape_config(tmp_path / "prometheus", gateway)
    port = free_port()
    prometheus = subprocess.Popen(
        [tool("prometheus"), f"--config.file={config}",
         f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'data'}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"),
    )  # fmt: skip
    api = f"http://127.0.0.1:{port}/api/v1"
    try:

        def targets() -> dict[str, dict[str, Any]] | None:
            try:
                active = httpx.get(f"{api}/targets", timeout=2).json()["data"]["activeTargets"]
            except (httpx.TransportError, ValueError, KeyError):
                assert prometheus.poll() is None, (tmp_path / "prometheus.log").read_text()
                return None
            by_job = {target["labels"]["job"]: target for target in active}
            scraped = len(by_job) == 2 and all(t["health"] != "unknown" for t in active)
            return by_job if scraped else None

        by_job = wait_for("scraped targets", targets)
        assert by_job["legacy-gateway"]["health"] == "up", by_job["legacy-gateway"]
        assert by_job["agent-key"]["health"] == "down"
        assert "403" in by_job["agent-key"]["lastError"], by_job["agent-key"]

        def calls() -> list[dict[str, Any]]:
            query = 'legacy_gateway_calls_total{job="legacy-gateway",tool="get_customer"}'
            answer = httpx.get(f"{api}/query", params={"query": query}, timeout=2).json()
            result: list[dict[str, Any]] = answer["data"]["result"]
            return result

        (series,) = wait_for("legacy_gateway_calls_total", calls)
        assert series["metric"]["outcome"] == "ok"
        assert series["value"][1] == "1"
    finally:
        prometheus.terminate()
        prometheus.wait(20)
