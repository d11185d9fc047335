"""RabbitMQ helpers for the AMQP tests: a JSON card service, a peek at a queue, a restart."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from typing import Any

import orjson
import pika

AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def connect() -> pika.BlockingConnection:
    parameters = pika.URLParameters(AMQP_URL)
    parameters.connection_attempts = 1
    try:
        return pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPConnectionError as exc:
        raise ConnectionError(
            f"RabbitMQ is not reachable at {AMQP_URL} ({exc!r}); the AMQP tests need it: "
            "start it with `rabbitmq-server -detached`"
        ) from None


class CardService(threading.Thread):
    """Answers JSON card lookups on one queue: the holder echoed, status A, or B for 4000..."""

    def __init__(self, queue: str) -> None:
        super().__init__(name=f"cards-{queue}", daemon=True)
        self.queue = queue
        self.received: list[tuple[Any, bytes]] = []
        self.ready = threading.Event()
        self.stopping = threading.Event()

    def start_and_wait(self) -> CardService:
        self.start()
        if not self.ready.wait(10):
            raise ConnectionError(f"the card service could not reach RabbitMQ at {AMQP_URL}")
        return self

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                connection = connect()
                channel = connection.channel()
                channel.queue_declare(self.queue, auto_delete=True)
                channel.basic_consume(self.queue, self._on_message, auto_ack=True)
                self.ready.set()
                while not self.stopping.is_set():
                    connection.process_data_events(time_limit=0.2)
                with contextlib.suppress(Exception):
                    connection.close()
            except Exception:
                self.ready.clear()
                time.sleep(0.3)

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self.received.append((properties, body))
        request = orjson.loads(body)
        answer = {
            "CARD_NO": request["CARD_NO"],
            "HOLDER": f"  {request['HOLDER']}  ",
            "STATUS": "B" if request["CARD_NO"].startswith("4000") else "A",
        }
        channel.basic_publish(
            "",
            properties.reply_to,
            orjson.dumps(answer),
            pika.BasicProperties(
                correlation_id=properties.correlation_id, content_type="application/json"
            ),
        )

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def declare_parking_queue(name: str) -> None:
    """A queue nobody consumes, so a test can read what was published to it."""
    connection = connect()
    try:
        connection.channel().queue_declare(name, arguments={"x-expires": 600_000})
    finally:
        connection.close()


def delete_queue(name: str) -> None:
    """Remove a queue a test session declared (a missing queue is fine)."""
    connection = connect()
    try:
        connection.channel().queue_delete(name)
    finally:
        connection.close()


def take_messages(queue: str) -> list[tuple[Any, bytes]]:
    """Every message waiting in a queue, with its properties (removed from the queue)."""
    connection = connect()
    taken = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return taken
            taken.append((properties, body))
    finally:
        connection.close()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def wait_until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.2)
