"""``serve --workers N`` is LEGACY_GATEWAY_WORKERS given on the command line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app

DEMO = Path(__file__).resolve().parents[2] / "mappings" / "demo"


def test_the_flag_sets_the_worker_count(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_WORKERS", "1")  # restored after the test
    served: list[tuple[str, int]] = []

    def run_server(config: Path, host: str, port: int, *rest: object, **named: object) -> None:
        served.append((os.environ["LEGACY_GATEWAY_WORKERS"], port))

    monkeypatch.setattr("gateway.serving.run_server", run_server)
    result = CliRunner().invoke(
        app, ["serve", "--config", str(DEMO), "--port", "8123", "--workers", "3",
              "--audit-db", str(tmp_path / "a.sqlite")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert served == [("3", 8123)]


def test_a_count_out_of_range_is_refused_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_WORKERS", "1")
    result = CliRunner().invoke(app, ["serve", "--config", str(DEMO), "--workers", "0"])
    assert result.exit_code != 0
    assert "LEGACY_GATEWAY_WORKERS must be between 1 and 64, not 0" in str(result.exception)
