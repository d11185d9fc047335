"""A backend that starts failing raises an anomaly alert, and a tool whose review policy says
``every_anomaly`` has the calls the alert covers put in the review queue, the alert named."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.http_hosts import serving
from tests.integration.amqp_support import wait_until
from tests.integration.support import (
    ANNA,
    DEMO_CONFIG,
    bearer,
    gateway_client,
    key_for,
    serve_process,
)

TOOL_ALERT = "anomaly:tool:get_customer_profile:error_rate"
BACKEND_ALERT = "anomaly:backend:crm:error_rate"


def flagged(client: TestClient, reviewer: str) -> dict[str, dict[str, Any]]:
    """The calls in the review queue that an anomaly put there."""
    response = client.get("/v1/reviews", headers=bearer(reviewer))
    assert response.status_code == 200, response.text
    return {
        entry["call_id"]: entry
        for entry in response.json()["reviews"]
        if any(reason.startswith("anomaly:") for reason in entry["reasons"])
    }


def test_the_calls_a_failing_backends_alert_covers_are_queued_for_review(
    estate_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = shutil.copytree(DEMO_CONFIG, tmp_path / "config")
    crm = config / "crm.yaml"
    text = crm.read_text()
    marker = "    # A candidate mapping proven in the shadow"
    assert marker in text
    crm.write_text(text.replace(marker, "    review: {every_anomaly: true}\n" + marker, 1))
    monkeypatch.setenv("CRM_URL", "http://127.0.0.1:9/crm")  # nothing listens there
    with gateway_client(config, tmp_path / "audit.sqlite", auth="keys") as client:
        agent = key_for(client, "teller", ["get_customer_profile", "get_exchange_rate"])
        reviewer = key_for(client, "expert", ["review"])
        failed = []
        for _ in range(4):
            response = client.post(
                "/v1/tools/get_customer_profile/call", headers=bearer(agent),
                json={"arguments": {"customer_number": ANNA}},
            )  # fmt: skip
            assert response.status_code == 503, response.text
            failed.append(response.json()["error"]["call_id"])

        # The window that raised the alert: every failed call, for the tool and its backend.
        queue = wait_until(lambda: (q := flagged(client, reviewer)) and len(q) >= 4 and q,
                           20, "the alert's calls queued")  # fmt: skip
        assert sorted(queue) == sorted(failed)
        for entry in queue.values():
            assert {TOOL_ALERT, BACKEND_ALERT} <= set(entry["reasons"])
            assert entry["tool"] == "get_customer_profile"
            assert entry["alert"]["kind"] == "error_rate"
            assert entry["call"]["error"]["code"] == "backend_unavailable"
        everything = client.get("/v1/reviews", headers=bearer(reviewer)).json()["reviews"]
        assert len(everything) == len(failed)  # nothing else asked for them

        # While the alert is open, the tool's next call is covered too.
        late = client.post(
            "/v1/tools/get_customer_profile/call", headers=bearer(agent),
            json={"arguments": {"customer_number": ANNA}},
        ).json()["error"]["call_id"]  # fmt: skip
        queue = wait_until(lambda: (q := flagged(client, reviewer)) and late in q and q,
                           20, "the call during the alert queued")  # fmt: skip
        assert TOOL_ALERT in queue[late]["reasons"]

        # A tool without the policy is not queued for the alert.
        rate = client.post(
            "/v1/tools/get_exchange_rate/call", headers=bearer(agent),
            json={"arguments": {"from_currency": "EUR", "to_currency": "USD"}},
        )  # fmt: skip
        assert rate.status_code == 200, rate.text
        assert rate.json()["call_id"] not in flagged(client, reviewer)


def test_two_workers_post_each_alert_to_the_webhook_once(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    posted: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with lock:
                posted.append(body)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Receiver)) as receiver:
        env = {
            "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "audit.sqlite"),
            "LEGACY_GATEWAY_WORKERS": "2",
            "LEGACY_GATEWAY_ALERT_WEBHOOK": f"http://127.0.0.1:{receiver.server_port}/alerts",
            "CRM_URL": "http://127.0.0.1:9/crm",  # nothing listens there
        }
        with serve_process(DEMO_CONFIG, env) as (base, _):
            answered_by = set()
            for _ in range(8):  # a connection each: the kernel spreads them over the workers
                with httpx.Client(base_url=base, timeout=10) as client:
                    answered_by.add(client.get("/healthz").json()["pid"])
                    response = client.post(
                        "/v1/tools/get_customer_profile/call",
                        json={"arguments": {"customer_number": ANNA}},
                    )
                    assert response.status_code == 503, response.text
            wait_until(lambda: len(posted) >= 2, 20, "the alerts posted")
            time.sleep(3.0)  # each worker's console judges once a second: both have by now
            with httpx.Client(base_url=base, timeout=10) as client:
                pids = {client.get("/healthz").json()["pid"] for _ in range(20)}
    alerts = sorted((body["group"], body["name"], body["state"]) for body in posted)
    assert alerts == [("backend", "crm", "firing"), ("tool", "get_customer_profile", "firing")]
    assert len(answered_by | pids) == 2  # both workers served, and both judged the log
