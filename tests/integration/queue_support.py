"""Submit tools whose host is the test itself: a job queue nobody consumes, replies by hand.

The test reads what the gateway published (``take_jobs``) and answers when and how it likes
(``reply``), so deadlines, late replies and forged replies happen exactly when a test says.
Queue names carry a random suffix: concurrent runs on one broker keep their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pika
from fastapi.testclient import TestClient

from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.store import AuditStore
from tests.integration.amqp_support import AMQP_URL, connect, take_messages
from tests.integration.support import gateway_client, gateway_of


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def job_config(
    directory: Path,
    reply_queue: str,
    job_queue: str,
    *,
    tool_deadline_s: float | None = None,
    handoffs: int = 20,
) -> Path:
    """A config with a JSON submit tool (``run_job``) whose jobs wait in ``job_queue``, a
    request/reply (``ask``) and a publish (``note``) to the same queue."""
    directory.mkdir(parents=True, exist_ok=True)
    deadline = f"    reply_deadline_s: {tool_deadline_s}\n" if tool_deadline_s else ""
    (directory / "jobs.yaml").write_text(
        f"""\
backends:
  jobs:
    adapter: amqp
    url: "{AMQP_URL}"
    timeout_s: 5
    reply_queue: "{reply_queue}"
    reply_handoffs: {handoffs}
tools:
  run_job:
    description: A job the test answers by hand.
    backend: jobs
    operation: submit
    effect: write
{deadline}    message: {{routing_key: "{job_queue}"}}
    input:
      job: {{to: JOB, type: integer, minimum: 1, maximum: 1000000}}
    output:
      fields:
        job: {{from: JOB, type: integer}}
        state: {{from: STATE, codes: {{D: done, F: failed}}}}
  ask:
    description: A request/reply nobody answers but the test.
    backend: jobs
    operation: request_reply
    timeout_s: 1
    message: {{routing_key: "{job_queue}"}}
    input:
      job: {{to: JOB, type: integer, minimum: 1, maximum: 1000000}}
    output:
      fields:
        state: {{from: STATE, codes: {{D: done, F: failed}}}}
  note:
    description: A message handed over, nothing answered.
    backend: jobs
    operation: publish
    effect: write
    message: {{routing_key: "{job_queue}"}}
    input:
      text: {{to: TEXT}}
"""
    )
    return directory


def declare_job_queue(name: str) -> None:
    connection = connect()
    try:
        connection.channel().queue_declare(name, arguments={"x-expires": 600_000})
    finally:
        connection.close()


def delete_queues(*names: str) -> None:
    connection = connect()
    try:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(name)
    finally:
        connection.close()


def take_jobs(queue: str) -> dict[str, Any]:
    """The jobs the gateway published, by correlation id (the call id): their properties."""
    return {props.correlation_id: props for props, _ in take_messages(queue)}


def reply(
    queue: str,
    correlation_id: str | None,
    body: bytes | dict[str, Any],
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish a reply to a reply queue, as the host (or anyone with access) would."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    connection = connect()
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            "",
            queue,
            data,
            pika.BasicProperties(
                correlation_id=correlation_id, content_type="application/json", headers=headers
            ),
            mandatory=True,
        )
    finally:
        connection.close()


def consumers(queue: str) -> int:
    connection = connect()
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.consumer_count)
    finally:
        connection.close()


@contextmanager
def gateway_on(
    config: Path, store: Callable[[], AuditStore], key_dir: Path
) -> Iterator[TestClient]:
    """A gateway on ``config`` recording in the store ``store()`` opens, lifespan running;
    it checks submitted calls' deadlines every 0.1 s."""
    with gateway_client(config, key_dir / "audit.sqlite", store=store) as client:
        gateway_of(client).completions.every_s = 0.1
        yield client


def sqlite_at(path: Path) -> Callable[[], AuditStore]:
    return lambda: SQLiteStore(path)


def kinds(client: TestClient, call_id: str) -> list[str]:
    return [record.kind for record in gateway_of(client).store.records_of(call_id)]


def unmatched(client: TestClient) -> list[dict[str, Any]]:
    records = gateway_of(client).store.records_of_kind("message.unmatched")
    return [record.body for record in records]
