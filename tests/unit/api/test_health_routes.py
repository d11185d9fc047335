"""``/``, ``/healthz``, ``/readyz`` and ``/health/backends``."""

from __future__ import annotations

import os

from adapters.base import Health
from tests.unit.api.fake_gateway import CONFIG_VERSION, FakeGateway, demo_tools, serve


def test_the_index_names_what_this_gateway_serves() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/")

    assert answer.json() == {
        "name": "legacy-gateway",
        "config_version": CONFIG_VERSION,
        "tools": 3,
        "links": {
            "tools": "/v1/tools",
            "docs": "/docs",
            "console": "/console",
            "ready": "/readyz",
            "backends": "/health/backends",
        },
    }


def test_liveness_names_the_config_version() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/healthz")

    assert answer.json() == {
        "status": "ok", "config_version": CONFIG_VERSION, "pid": os.getpid()
    }  # fmt: skip


def test_ready_when_the_store_answers() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/readyz")

    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready",
        "config_version": CONFIG_VERSION,
        "store": {"ok": True, "records": 7, "checkpoint_error": None},
    }


def test_not_ready_when_the_store_does_not_answer() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        gateway.store.failure = ConnectionError("server closed the connection")
        answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json() == {
        "status": "not_ready",
        "store": {"ok": False, "detail": "ConnectionError: server closed the connection"},
    }


def test_a_backend_down_degrades_the_backend_health_only() -> None:
    health = {
        "crm": Health(True, "ok", 1.234),
        "ledger": Health(False, "connection refused", 0.5),
    }
    with serve(FakeGateway(demo_tools(), health=health)) as client:
        backends = client.get("/health/backends")
        ready = client.get("/readyz")

    assert backends.status_code == 503
    assert backends.json() == {
        "status": "degraded",
        "backends": {
            "crm": {"ok": True, "detail": "ok", "latency_ms": 1.23},
            "ledger": {"ok": False, "detail": "connection refused", "latency_ms": 0.5},
        },
    }
    assert ready.status_code == 200


def test_all_backends_up_is_ok() -> None:
    with serve(FakeGateway(demo_tools(), health={"crm": Health(True, "ok", 2.0)})) as client:
        answer = client.get("/health/backends")

    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
