"""The AMQP adapter's cost: a request/reply tool against the same round trip with bare pika.

The order-processing host (``python -m estate.orders``, answering at once) runs in its own
process, so it does not share a core's GIL with what is measured. Both sides publish the
same ORDER-REQUEST record to the same exchange with publisher confirms and
``mandatory``, and wait for the ORDER-REPLY on RabbitMQ's direct reply-to:

- direct: bare pika on one BlockingConnection, in this thread.
- gateway: ``Gateway.call`` of the demo's ``order_status`` tool, in process: argument
  mapping and record encoding, intent committed, publish through the backend's I/O thread,
  reply handed back to the event loop, copybook decoding and output mapping, interactions
  and outcome committed.

Variants alternate within each round; the ratio is the median of per-round median
latencies. Prints ``P-amqp gateway/direct = X`` last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pika
from _procs import ROOT, order_host

sys.path.insert(0, str(ROOT))
from estate.orders import DEFAULT_URL
from gateway.audit.sqlite_store import SQLiteStore
from gateway.runtime import Gateway
from gateway.serving import quiet_protocol_libraries

DEMO = ROOT / "mappings" / "demo"
ORDERS = [1000000001 + n for n in range(400)]


def request_record(order: int) -> bytes:
    return f"STAT{order:010d}{'':8}{'':6}000".encode("cp037")


class DirectClient:
    """The round trip by hand: publish with confirms, wait for the reply on direct reply-to."""

    def __init__(self, url: str, exchange: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.exchange = exchange
        self.reply: bytes | None = None
        self.channel.basic_consume("amq.rabbitmq.reply-to", self._on_reply, auto_ack=True)

    def _on_reply(self, channel: object, method: object, properties: object, body: bytes) -> None:
        self.reply = body

    def call(self, order: int) -> bytes:
        self.reply = None
        self.channel.basic_publish(
            self.exchange,
            "order.request",
            request_record(order),
            pika.BasicProperties(
                reply_to="amq.rabbitmq.reply-to",
                correlation_id=str(uuid.uuid4()),
                content_type="application/octet-stream",
                delivery_mode=2,
            ),
            mandatory=True,
        )
        while self.reply is None:
            self.connection.process_data_events(time_limit=None)
        return self.reply

    def close(self) -> None:
        self.connection.close()


async def measure(rounds: int, calls: int, url: str) -> None:
    exchange = f"bench.orders.{uuid.uuid4().hex[:6]}"
    with order_host(url, exchange):
        os.environ.update(
            ORDERS_AMQP_URL=url,
            ORDERS_EXCHANGE=exchange,
            ORDERS_REPLY_QUEUE=f"{exchange}.replies",
        )
        with tempfile.TemporaryDirectory() as tmp:
            gateway = Gateway.from_directory(DEMO, SQLiteStore(Path(tmp) / "audit.sqlite"))
            await gateway.start()
            direct = DirectClient(url, exchange)
            try:
                await run_rounds(gateway, direct, rounds, calls)
            finally:
                direct.close()
                await gateway.stop()
                gateway.store.close()


async def run_rounds(gateway: Gateway, direct: DirectClient, rounds: int, calls: int) -> None:
    # Warm both paths: connections, compiled mappings, the store's first pages.
    for order in ORDERS[:50]:
        direct.call(order)
        await gateway.call("order_status", {"order_number": order})
    ratios, direct_ms, gateway_ms = [], [], []
    for index in range(rounds):
        direct_times, gateway_times = [], []
        for n in range(calls):
            order = ORDERS[(index * calls + n) % len(ORDERS)]
            started = time.perf_counter()
            direct.call(order)
            direct_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = await gateway.call("order_status", {"order_number": order})
            gateway_times.append(time.perf_counter() - started)
            assert result.result["order_number"] == order
        d, g = statistics.median(direct_times) * 1000, statistics.median(gateway_times) * 1000
        direct_ms.append(d)
        gateway_ms.append(g)
        ratios.append(g / d)
        print(f"round {index + 1}: direct p50 {d:.3f} ms, gateway p50 {g:.3f} ms, {g / d:.2f}")
    print(
        f"direct p50 {statistics.median(direct_ms):.3f} ms; "
        f"gateway p50 {statistics.median(gateway_ms):.3f} ms "
        f"({calls} calls a round, {rounds} rounds)"
    )
    print(f"P-amqp gateway/direct = {statistics.median(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--url", default=os.environ.get("ORDERS_AMQP_URL", DEFAULT_URL))
    args = parser.parse_args()
    quiet_protocol_libraries()
    asyncio.run(measure(args.rounds, args.calls, args.url))


if __name__ == "__main__":
    main()
