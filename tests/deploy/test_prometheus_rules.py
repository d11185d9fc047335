"""deploy/prometheus/alerts.yaml: valid for promtool, firing on the anomalies it is for, and
naming only metrics that the gateway's /metrics really exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.integration.support import ANNA, call_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is missing: apt-get install prometheus (make setup)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


UNIT_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # customer_master: fine for an hour, then half its requests fail.
      - series: 'legacy_gateway_legacy_interactions_total{{backend="customer_master",outcome="ok"}}'
        values: '0+60x70 4260+30x15'
      - series: 'legacy_gateway_legacy_interactions_total{{backend="customer_master",outcome="x"}}'
        values: '0x70 0+30x15'
      - series: 'legacy_gateway_anomaly{{group="backend",name="customer_master",kind="error_rate"}}'
        values: '0x70 1x15'
    alert_rule_test:
      - eval_time: 60m
        alertname: LegacyBackendErrorRate
        exp_alerts: []
      - eval_time: 80m
        alertname: LegacyBackendErrorRate
        exp_alerts:
          - exp_labels: {{severity: critical, backend: customer_master}}
            exp_annotations:
              summary: Legacy backend customer_master fails 50% of requests
              description: At least 20% and three times its error rate of the hour before.
      - eval_time: 75m
        alertname: LegacyGatewayAnomaly
        exp_alerts:
          - exp_labels: {{severity: warning, group: backend, name: customer_master,
                         kind: error_rate}}
            exp_annotations:
              summary: "backend customer_master: error_rate far from its baseline"
              description: The gateway's console holds this alert; open /console to see the calls.
"""


def test_the_rules_fire_on_a_failing_backend_and_not_before(tmp_path: Path) -> None:
    tests = tmp_path / "alerts_test.yaml"
    tests.write_text(UNIT_TESTS.format(rules=RULES))
    result = subprocess.run([promtool(), "test", "rules", str(tests)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_metric_the_rules_name_is_exported(demo_client: TestClient) -> None:
    assert call_tool(demo_client, "get_customer", {"customer_number": ANNA}).status_code == 200
    text = demo_client.get("/metrics").text
    exported = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
    exported |= set(re.findall(r"^# TYPE ([a-z_]+) gauge", text, re.M))  # before any alert
    named: set[str] = set()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            named |= set(re.findall(r"\b(legacy_gateway_[a-z_]+)", rule["expr"]))
    assert named
    missing = sorted(name for name in named if name not in exported)
    assert missing == []
