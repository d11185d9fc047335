"""`legacy-gateway serve` as operators run it: its own process, uvicorn with uvloop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from estate.server import EstateServer
from tests.integration.support import ANNA, DEMO_CONFIG, EstateWatch, served_gateway


@pytest.fixture
def served(estate_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    env = {"LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "audit.sqlite")}
    with served_gateway(DEMO_CONFIG, env) as base:
        yield base


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
