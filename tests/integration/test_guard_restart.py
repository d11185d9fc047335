"""The guard's counts survive a restart: a variant that failed 19 of its 20 judged calls
before the gateway restarted is stopped by its 20th call after it."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.experiments.split import choose
from tests.integration.support import DEMO_CONFIG, bearer, gateway_client, gateway_of, key_for

TOOL = "get_exchange_rate"
NAMES = {"from_currency": "euro", "to_currency": "USD"}  # refused: names, not codes


def failing_call(client: TestClient, key: str) -> None:
    response = client.post(f"/v1/tools/{TOOL}/call", headers=bearer(key),
                           json={"arguments": NAMES})  # fmt: skip
    assert response.status_code == 422, response.text


def test_a_restart_does_not_reset_a_variant_heading_for_a_stop(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = shutil.copytree(DEMO_CONFIG, tmp_path / "config")
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(config, audit_db, auth="keys") as client:
        tool = gateway_of(client).tools[TOOL]
        agent = next(
            f"agent-{n}"
            for n in range(1000)
            if choose(TOOL, tool.config, f"agent:key:agent-{n}") == "explicit_codes"
        )
        key = key_for(client, agent, [TOOL])
        for _ in range(19):  # the guard: more than 30 % of at least 20 calls
            failing_call(client, key)
        assert gateway_of(client).store.records_of_kind("experiment.stopped") == []

    with gateway_client(config, audit_db, auth="keys") as client:  # the restart
        failing_call(client, key)
        [stop] = gateway_of(client).store.records_of_kind("experiment.stopped")
        assert stop.body["variant"] == "explicit_codes"
        assert (stop.body["calls"], stop.body["errors"]) == (20, 20)
        # Its traffic is back on the baseline.
        failing_call(client, key)
        last = gateway_of(client).store.records_of_kind("call.rejected")[-1]
        assert last.body["variant"] == "baseline"
