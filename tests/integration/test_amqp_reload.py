"""A config reload opens new AMQP adapters while the replaced ones finish their calls: the
reply queue's consumer held by the replaced adapter is this gateway, not another one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.amqp_support import connect, wait_until
from tests.integration.queue_support import (
    consumers,
    gateway_on,
    job_config,
    sqlite_at,
)
from tests.integration.support import gateway_of


def reload_changed(client: TestClient, config: Path) -> None:
    gateway = gateway_of(client)
    before = gateway.config.version
    jobs = config / "jobs.yaml"
    jobs.write_text(jobs.read_text().replace("answers by hand.", "answers by hand, again."))
    client.portal.call(gateway.reload)  # type: ignore[union-attr]
    assert gateway.config.version != before  # reloaded (here or by the config watcher)


def test_a_reload_does_not_count_its_own_replaced_adapter_as_another_consumer(
    reply_queue: str, job_queue: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = job_config(tmp_path / "config", reply_queue, job_queue)
    caplog.set_level(logging.WARNING, logger="legacy_gateway.amqp")
    with gateway_on(config, sqlite_at(tmp_path / "audit.sqlite"), tmp_path) as client:
        reload_changed(client, config)
        gateway = gateway_of(client)
        health = client.portal.call(gateway.readiness)["jobs"]  # type: ignore[union-attr]
        assert health.ok is True
        assert health.detail == "connected"
        wait_until(lambda: consumers(reply_queue) == 1, 10, "the replaced adapter closes")
    assert "other consumer(s)" not in caplog.text


def test_a_reload_still_reports_a_consumer_that_is_not_this_gateway(
    reply_queue: str, job_queue: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = job_config(tmp_path / "config", reply_queue, job_queue)
    stranger = connect()  # another installation's gateway on the same queue
    try:
        channel = stranger.channel()
        channel.queue_declare(reply_queue, durable=True)
        channel.basic_consume(reply_queue, lambda *args: None)
        caplog.set_level(logging.WARNING, logger="legacy_gateway.amqp")
        with gateway_on(config, sqlite_at(tmp_path / "audit.sqlite"), tmp_path) as client:
            caplog.clear()
            reload_changed(client, config)
            gateway = gateway_of(client)
            health = client.portal.call(gateway.readiness)["jobs"]  # type: ignore[union-attr]
            assert "already has 1 other consumer(s)" in health.detail
        assert f"reply queue '{reply_queue}' already has 1 other consumer(s)" in caplog.text
        assert "2 other consumer(s)" not in caplog.text
    finally:
        stranger.close()
