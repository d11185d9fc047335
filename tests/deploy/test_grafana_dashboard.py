"""deploy/grafana/legacy-gateway.json: every query is PromQL that Prometheus' own parser
accepts (through ``promtool check rules``), and every metric it names is one the gateway's
/metrics really exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from tests.deploy.test_prometheus_rules import promtool
from tests.integration.support import ANNA, call_tool

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "legacy-gateway.json"
# Grafana's variables, as Prometheus would see them once Grafana has filled them in.
VARIABLES = {"$__rate_interval": "5m", "$tool": ".*", "$backend": ".*"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "inf", "nan"}  # fmt: skip


def queries() -> list[str]:
    """Each panel target's expression, and the metric each template variable lists from."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    found = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            (metric,) = re.fullmatch(r"label_values\((\w+), \w+\)", query).groups()  # type: ignore[union-attr]
            found.append(metric)
    return [_filled(query) for query in found]


def _filled(query: str) -> str:
    for name, value in VARIABLES.items():
        query = query.replace(name, value)
    assert "$" not in query, f"an unknown Grafana variable in {query}"
    return query


def metric_names(query: str) -> set[str]:
    """The metric names of a PromQL expression: identifiers that are neither functions,
    keywords, label names (inside braces or by/without lists) nor strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", query)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\b(\s*\()?", text):
        name, call = match.groups()
        if call is None and name.lower() not in KEYWORDS:
            names.add(name)
    return names


def test_the_dashboard_has_panels_with_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "legacy-gateway"
    assert len(dashboard["panels"]) >= 8
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["targets"], panel
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


def test_prometheus_parses_every_query(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{number}", "expr": query}
        for number, query in enumerate(queries())]}]}  # fmt: skip
    path = tmp_path / "dashboard_queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries())} rules found" in result.stdout


def test_every_metric_the_dashboard_names_is_exported(demo_client: TestClient) -> None:
    assert call_tool(demo_client, "get_customer", {"customer_number": ANNA}).status_code == 200
    text = demo_client.get("/metrics").text
    exported = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
    # A family with no sample yet (no reply has come) is still exported, by its TYPE line
    # (a counter's name there ends in _total already; a histogram's has three series).
    for name, kind in re.findall(r"^# TYPE ([a-z_]+) (\w+)", text, re.M):
        suffixes = ["_bucket", "_sum", "_count"] if kind == "histogram" else [""]
        exported |= {name + suffix for suffix in suffixes}
    named = set().union(*(metric_names(query) for query in queries()))
    assert {
        "legacy_gateway_calls_total",
        "legacy_gateway_legacy_seconds_bucket",
        "legacy_gateway_anomaly",
        "legacy_gateway_submitted_replies_total",
    } <= named
    assert sorted(named - exported) == []


def test_the_name_reader_finds_metrics_and_nothing_else() -> None:
    query = ('histogram_quantile(0.95, sum by (backend, le) (rate(x_seconds_bucket{a="b(c)"}[5m])))'
             " / on (tool) group_left count(up) > bool 0 or vector(1)")  # fmt: skip
    assert metric_names(query) == {"x_seconds_bucket", "up"}
