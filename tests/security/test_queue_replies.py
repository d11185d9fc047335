"""Forged replies on a reply queue: whoever can publish to it never completes the wrong call.

An attacker (or a confused host) publishes straight to the gateway's reply queue on the real
RabbitMQ. Every forged message is kept on the record, and no call gets an outcome it should
not have: a reply for no call, for a call that has ended, for a call that was not a submit,
with a body nothing can read, or with a hand-on count meant to make it circle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.amqp_support import take_messages, wait_until
from tests.integration.queue_support import (
    declare_job_queue,
    delete_queues,
    gateway_on,
    job_config,
    kinds,
    reply,
    sqlite_at,
    unique,
    unmatched,
)
from tests.integration.support import call_record

HANDED_ON = "x-legacy-gateway-handed-on"
HANDOFFS = 3


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
    """A gateway whose submit tool's jobs wait in a queue nobody consumes: only the test
    (and the attacker) answer."""
    replies, jobs = unique("attack.replies"), unique("attack.jobs")
    declare_job_queue(jobs)
    config = job_config(tmp_path / "config", replies, jobs, handoffs=HANDOFFS)
    try:
        with gateway_on(config, sqlite_at(tmp_path / "audit.sqlite"), tmp_path) as client:
            yield client, replies, jobs
    finally:
        delete_queues(replies, jobs)


def submit(client: TestClient, job: int) -> str:
    response = client.post("/v1/tools/run_job/call", json={"arguments": {"job": job}})
    assert response.status_code == 202, response.text
    call_id: str = response.json()["call_id"]
    return call_id


def status(client: TestClient, call_id: str) -> str:
    value: str = call_record(client, call_id)["status"]
    return value


def unmatched_for(client: TestClient, correlation: str | None, count: int = 1) -> list[Any]:
    def found() -> list[Any]:
        bodies = [b for b in unmatched(client) if b["correlation_id"] == (correlation or "")]
        return bodies if len(bodies) >= count else []

    bodies: list[Any] = wait_until(found, 10, f"an unmatched record for {correlation}")
    return bodies


def test_a_reply_for_no_call_is_recorded_after_bounded_hand_ons_and_completes_nothing(
    setup: tuple[TestClient, str, str],
) -> None:
    client, replies, _ = setup
    bystander = submit(client, 1)
    forged = str(uuid.uuid4())
    reply(replies, forged, {"JOB": 1, "STATE": "D"})
    (body,) = unmatched_for(client, forged)
    assert body["reason"] == "no call with this id in this installation"
    assert '"STATE":"D"' in body["response"]["body"]
    # It went round the queue the bounded number of times, then stayed here.
    assert body["response"]["properties"]["headers"][HANDED_ON] == HANDOFFS
    assert take_messages(replies) == []
    assert status(client, bystander) == "pending"
    assert kinds(client, forged) == []
    metrics = client.app.state.gateway.metrics.exposition().decode()  # type: ignore[attr-defined]
    assert f'legacy_gateway_submitted_replies_total{{event="handed_on"}} {HANDOFFS}.0' in metrics
    assert 'legacy_gateway_submitted_replies_total{event="unmatched"} 1.0' in metrics


@pytest.mark.parametrize("count", ["many", -5, 10**12, True, Decimal("2.5"), {"n": 1}])
def test_a_forged_hand_on_count_is_recorded_at_once_not_circled(
    setup: tuple[TestClient, str, str], count: Any
) -> None:
    client, replies, _ = setup
    forged = str(uuid.uuid4())
    reply(replies, forged, {"JOB": 1, "STATE": "D"}, headers={HANDED_ON: count})
    (body,) = unmatched_for(client, forged)
    headers = body["response"]["properties"]["headers"]
    assert HANDED_ON in headers  # as it came: not handed on once more
    assert take_messages(replies) == []


def test_a_reply_without_a_correlation_id_is_recorded_as_unmatched(
    setup: tuple[TestClient, str, str],
) -> None:
    client, replies, _ = setup
    bystander = submit(client, 2)
    reply(replies, None, b'{"JOB": 2, "STATE": "D"}')
    (body,) = unmatched_for(client, None)
    assert body["request"] == {"correlation_id": ""}
    assert status(client, bystander) == "pending"


def test_a_second_reply_for_an_ended_call_is_late_and_changes_nothing(
    setup: tuple[TestClient, str, str],
) -> None:
    client, replies, _ = setup
    call_id = submit(client, 3)
    reply(replies, call_id, {"JOB": 3, "STATE": "D"})
    wait_until(lambda: status(client, call_id) == "ok", 10, "the genuine reply completing it")
    reply(replies, call_id, {"JOB": 3, "STATE": "F", "FORGED": True})
    wait_until(lambda: "interaction.late" in kinds(client, call_id), 10, "the forged reply kept")
    record = call_record(client, call_id)
    assert record["result"] == {"job": 3, "state": "done"}
    assert kinds(client, call_id).count("call.outcome") == 1
    assert '"FORGED":true' in record["interactions"][-1]["response"]["body"]
    assert record["interactions"][-1]["late"] is True


def test_a_reply_naming_a_call_that_was_not_a_submit_completes_nothing(
    setup: tuple[TestClient, str, str],
) -> None:
    client, replies, _ = setup
    note = client.post("/v1/tools/note/call", json={"arguments": {"text": "hello"}})
    assert note.status_code == 200, note.text
    published = note.json()["call_id"]
    before = call_record(client, published)
    reply(replies, published, {"JOB": 4, "STATE": "F"})
    (body,) = unmatched_for(client, published)
    assert body["reason"] == f"call {published} is not a submit of backend jobs"
    after = call_record(client, published)
    assert after["status"] == "ok" and after["result"] == before["result"]
    assert kinds(client, published).count("call.outcome") == 1


def test_a_poison_reply_ends_only_its_own_call_with_the_body_kept(
    setup: tuple[TestClient, str, str],
) -> None:
    client, replies, _ = setup
    target, bystander = submit(client, 5), submit(client, 6)
    poison = b'{"JOB": 5, "STATE": "D"' + b"\xff\xfe<<<" + b"\x00" * 16
    reply(replies, target, poison)
    wait_until(lambda: status(client, target) == "error", 10, "the poison reply recorded")
    record = call_record(client, target)
    assert record["error"]["code"] == "legacy_bad_response"
    assert record["error"]["call_id"] == target
    kept = record["interactions"][-1]["response"]
    assert kept["body_bytes"] == len(poison)
    assert "body_base64" in kept  # not UTF-8: kept byte for byte
    assert status(client, bystander) == "pending"

    unmappable = {"JOB": "not a number", "STATE": "Z"}
    reply(replies, bystander, unmappable)
    wait_until(lambda: status(client, bystander) == "error", 10, "the unmappable reply")
    assert call_record(client, bystander)["error"]["code"] == "mapping_failed"
    assert kinds(client, target).count("call.outcome") == 1


def test_a_reply_queue_message_never_answers_a_request_reply_waiting_for_its_reply(
    setup: tuple[TestClient, str, str],
) -> None:
    """Request/reply replies come by direct reply-to, which only the request's receiver can
    reach; the same correlation id on the reply queue is a forgery."""
    client, replies, jobs = setup
    with ThreadPoolExecutor(1) as pool:
        asking = pool.submit(client.post, "/v1/tools/ask/call", json={"arguments": {"job": 8}})

        def request() -> Any:
            taken = take_messages(jobs)
            return taken[0][0] if taken else None

        sent = wait_until(request, 5, "the request on the job queue")
        assert sent.reply_to.startswith("amq.rabbitmq.reply-to.")
        reply(replies, sent.correlation_id, {"STATE": "D"})
        answer = asking.result(10)
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"]["code"] == "legacy_timeout"
    (body,) = unmatched_for(client, sent.correlation_id)
    assert body["reason"] == "no call with this id in this installation"
