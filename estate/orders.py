"""The demo's legacy order processing: reachable only through RabbitMQ, answering in records.

A consumer thread on one direct exchange (``legacy.orders`` in the demo):

- routing key ``order.request`` (queue ``<exchange>.REQUEST``): an ``ORDER-REQUEST`` record
  (``mappings/demo/copybooks/order_request.cpy``, EBCDIC code page 037). ``STAT`` asks for an
  order's status, answered after ``delay_s``; ``PLAC`` places an order, answered after
  ``place_delay_s`` (a slow job, for submit tools). The answer is an ``ORDER-REPLY`` record
  (``order_reply.cpy``) sent to the request's ``reply_to`` with its ``correlation_id``.
  A ``PLAC`` repeated with a message id already seen is answered with the first order.
- routing key ``order.cancel`` (queue ``<exchange>.CANCEL``): ``<CancelOrder>`` XML; the
  order is cancelled, nothing is answered.

The records are written and read here by hand with the standard library, from the
copybooks, so that the service is an independent check of the gateway's copybook codec.

With ``hostile=True`` some order numbers misbehave, for tests: 9999999990 is answered with a
record that cannot be mapped (a packed decimal with bad nibbles, a date 20231399),
9999999991 is answered after ``late_delay_s``, 9999999992 is never answered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

from lxml import etree

CODE_PAGE: Final = "cp037"
REQUEST_LENGTH: Final = 31
REPLY_LENGTH: Final = 84
DEFAULT_URL: Final = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_EXCHANGE: Final = "legacy.orders"
POISON_ORDER: Final = 9_999_999_990
LATE_ORDER: Final = 9_999_999_991
SILENT_ORDER: Final = 9_999_999_992
FIRST_ORDER: Final = 1_000_000_001
ORDER_COUNT: Final = 400
FIRST_NEW_ORDER: Final = 2_000_000_001

# Item code -> unit price in euros.
CATALOGUE: Final = {
    "SHRT01": Decimal("49.90"),
    "TROU02": Decimal("89.00"),
    "JACK03": Decimal("249.00"),
    "SUIT04": Decimal("599.00"),
    "COAT05": Decimal("399.50"),
    "TIE006": Decimal("29.95"),
}
_STATUSES: Final = "OPSSC"  # open, picked, shipped, shipped, cancelled


@dataclass(frozen=True, slots=True)
class Order:
    number: int
    status: str
    customer: str
    item: str
    quantity: int
    amount: Decimal
    ordered: dt.date
    shipped: dt.date | None


def seed_orders() -> dict[int, Order]:
    """400 orders, 1000000001 to 1000000400, the same on every run."""
    items = list(CATALOGUE)
    orders = {}
    for index in range(ORDER_COUNT):
        number = FIRST_ORDER + index
        item = items[index % len(items)]
        quantity = 1 + index % 4
        status = _STATUSES[index % len(_STATUSES)]
        ordered = dt.date(2024, 1, 2) + dt.timedelta(days=index)
        shipped = ordered + dt.timedelta(days=3) if status == "S" else None
        orders[number] = Order(
            number,
            status,
            f"{10_000_001 + index % 50:08d}",
            item,
            quantity,
            CATALOGUE[item] * quantity,
            ordered,
            shipped,
        )
    return orders


# ---------------------------------------------------------------- records, by hand


def _text(value: str, width: int) -> bytes:
    return value[:width].ljust(width).encode(CODE_PAGE)


def _zoned(value: int, width: int) -> bytes:
    return f"{value:0{width}d}".encode(CODE_PAGE)


def packed_amount(value: Decimal) -> bytes:
    """PIC S9(7)V99 COMP-3: nine digits and a sign nibble in five bytes."""
    cents = int(value * 100)
    return bytes.fromhex(f"{abs(cents):09d}" + ("D" if cents < 0 else "C"))


def encode_reply(result: str, order: Order | None, message: str) -> bytes:
    if order is None:
        record = _text(result, 2) + _zoned(0, 10) + _text("", 15) + _zoned(0, 3)
        record += packed_amount(Decimal(0)) + _text("", 3) + _zoned(0, 16) + _text(message, 30)
        assert len(record) == REPLY_LENGTH
        return record
    shipped = int(order.shipped.strftime("%Y%m%d")) if order.shipped else 0
    record = (
        _text(result, 2)
        + _zoned(order.number, 10)
        + _text(order.status, 1)
        + _text(order.customer, 8)
        + _text(order.item, 6)
        + _zoned(order.quantity, 3)
        + packed_amount(order.amount)
        + _text("EUR", 3)
        + _zoned(int(order.ordered.strftime("%Y%m%d")), 8)
        + _zoned(shipped, 8)
        + _text(message, 30)
    )
    assert len(record) == REPLY_LENGTH
    return record


def poison_reply(number: int) -> bytes:
    """A reply no mapping can read: bad packed nibbles and a 13th month."""
    record = bytearray(encode_reply("00", seed_orders()[FIRST_ORDER], "CORRUPTED BY HOST"))
    record[2:12] = _zoned(number, 10)
    record[30:35] = b"\xff\xff\xff\xff\xff"
    record[38:46] = "20231399".encode(CODE_PAGE)
    return bytes(record)


@dataclass(frozen=True, slots=True)
class Request:
    kind: str
    order: int
    customer: str
    item: str
    quantity: int


def decode_request(data: bytes) -> Request:
    if len(data) != REQUEST_LENGTH:
        raise ValueError(f"an ORDER-REQUEST is {REQUEST_LENGTH} bytes, not {len(data)}")
    text = data.decode(CODE_PAGE)
    return Request(text[0:4], int(text[4:14]), text[14:22].strip(), text[22:28].strip(),
                   int(text[28:31]))  # fmt: skip


# ---------------------------------------------------------------- the service


class OrderService(threading.Thread):
    """The order-processing consumer; reconnects by itself when the broker goes away."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        exchange: str = DEFAULT_EXCHANGE,
        *,
        delay_s: float = 0.02,
        place_delay_s: float = 1.5,
        late_delay_s: float = 3.0,
        hostile: bool = False,
        durable: bool = True,
    ) -> None:
        super().__init__(name=f"orders-{exchange}", daemon=True)
        self.url = url
        self.exchange = exchange
        self.delay_s = delay_s
        self.place_delay_s = place_delay_s
        self.late_delay_s = late_delay_s
        self.hostile = hostile
        self.durable = durable
        self.orders = seed_orders()
        self.placed_by_message: dict[str, int] = {}
        self.next_number = FIRST_NEW_ORDER
        self.requests_seen = 0
        self.cancellations: list[dict[str, str]] = []
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.last_error = ""
        self._lock = threading.Lock()

    @property
    def request_queue(self) -> str:
        return f"{self.exchange}.REQUEST"

    @property
    def cancel_queue(self) -> str:
        return f"{self.exchange}.CANCEL"

    def start_and_wait(self, timeout_s: float = 10.0) -> OrderService:
        """Start; raise ConnectionError naming the broker if it is not up within the time."""
        self.start()
        if not self.ready.wait(timeout_s):
            raise ConnectionError(f"no AMQP broker at {safe_url(self.url)}: {self.last_error}")
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)

    def run(self) -> None:
        import pika

        backoff = 0.2
        while not self.stopping.is_set():
            try:
                self._serve(pika)
                backoff = 0.2
            except Exception as exc:
                self.ready.clear()
                self.last_error = f"{type(exc).__name__}: {exc}".strip(": ")
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _serve(self, pika: Any) -> None:
        parameters = pika.URLParameters(self.url)
        parameters.heartbeat = 30
        parameters.connection_attempts = 1
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            auto_delete = not self.durable
            channel.exchange_declare(
                self.exchange, "direct", durable=self.durable, auto_delete=auto_delete
            )
            for queue, key in (
                (self.request_queue, "order.request"),
                (self.cancel_queue, "order.cancel"),
            ):
                channel.queue_declare(queue, durable=self.durable, auto_delete=auto_delete)
                channel.queue_bind(queue, self.exchange, key)
            channel.basic_qos(prefetch_count=100)
            channel.basic_consume(
                self.request_queue,
                lambda ch, method, props, body: self._on_request(
                    connection, ch, method, props, body
                ),
            )
            channel.basic_consume(self.cancel_queue, self._on_cancel)
            self.ready.set()
            while not self.stopping.is_set():
                connection.process_data_events(time_limit=0.2)
        finally:
            self.ready.clear()
            with contextlib.suppress(Exception):
                connection.close()

    def _on_request(
        self, connection: Any, channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        import pika

        self.requests_seen += 1
        tag = method.delivery_tag
        reply: bytes | None
        try:
            request = decode_request(body)
        except (ValueError, UnicodeDecodeError) as exc:
            reply, delay = encode_reply("08", None, f"BAD REQUEST {exc}"[:30].upper()), 0.0
        else:
            reply, delay = self._answer(request, properties.message_id or "")
        if reply is None or not properties.reply_to:
            channel.basic_ack(tag)
            return

        def send() -> None:
            with contextlib.suppress(Exception):
                channel.basic_publish(
                    "",
                    properties.reply_to,
                    reply,
                    pika.BasicProperties(
                        correlation_id=properties.correlation_id,
                        content_type="application/octet-stream",
                        headers={"host": "ORDPROC1"},
                    ),
                )
                channel.basic_ack(tag)

        connection.call_later(delay, send)

    def _answer(self, request: Request, message_id: str) -> tuple[bytes | None, float]:
        if request.kind == "STAT":
            return self._status(request.order)
        if request.kind == "PLAC":
            return self._place(request, message_id), self.place_delay_s
        return encode_reply("08", None, f"UNKNOWN REQUEST TYPE {request.kind}"), self.delay_s

    def _status(self, number: int) -> tuple[bytes | None, float]:
        if self.hostile and number == POISON_ORDER:
            return poison_reply(number), self.delay_s
        if self.hostile and number == LATE_ORDER:
            return encode_reply("04", None, "ORDER NOT FOUND"), self.late_delay_s
        if self.hostile and number == SILENT_ORDER:
            return None, 0.0
        with self._lock:
            order = self.orders.get(number)
        if order is None:
            return encode_reply("04", None, "ORDER NOT FOUND"), self.delay_s
        return encode_reply("00", order, ""), self.delay_s

    def _place(self, request: Request, message_id: str) -> bytes:
        price = CATALOGUE.get(request.item)
        if price is None:
            return encode_reply("08", None, f"UNKNOWN ITEM {request.item}")
        if not 1 <= request.quantity <= 99:
            return encode_reply("08", None, "QUANTITY MUST BE 1 TO 99")
        with self._lock:
            known = self.placed_by_message.get(message_id) if message_id else None
            if known is not None:
                return encode_reply("00", self.orders[known], "DUPLICATE, FIRST ORDER KEPT")
            number, self.next_number = self.next_number, self.next_number + 1
            order = Order(
                number,
                "O",
                request.customer,
                request.item,
                request.quantity,
                price * request.quantity,
                dt.date.today(),
                None,
            )
            self.orders[number] = order
            if message_id:
                self.placed_by_message[message_id] = number
        return encode_reply("00", order, "ORDER ACCEPTED")

    def _on_cancel(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
            number = int(root.findtext("ORDNO") or "0")
            reason = (root.findtext("REASON") or "").strip()
        except (etree.XMLSyntaxError, ValueError):
            channel.basic_ack(method.delivery_tag)  # a legacy host drops what it cannot read
            return
        with self._lock:
            self.cancellations.append({"order": str(number), "reason": reason})
            order = self.orders.get(number)
            if order is not None and order.status in "OP":
                self.orders[number] = replace(order, status="C")
        channel.basic_ack(method.delivery_tag)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}:***@{tail}"


def main(argv: list[str] | None = None) -> int:
    """``python -m estate.orders``: serve the order-processing host until interrupted."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m estate.orders", description="Serve the demo order-processing host."
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="AMQP URL of the broker")
    parser.add_argument("--exchange", default=DEFAULT_EXCHANGE)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds before a reply")
    parser.add_argument("--hostile", action="store_true", help="misbehaving order numbers")
    parser.add_argument("--transient", action="store_true", help="auto-delete the queues")
    args = parser.parse_args(argv)
    service = OrderService(
        args.url, args.exchange, delay_s=args.delay, hostile=args.hostile,
        durable=not args.transient,
    )  # fmt: skip
    try:
        service.start_and_wait()
    except ConnectionError as exc:
        print(exc, flush=True)
        return 1
    print(f"order host consuming {service.request_queue} on {safe_url(args.url)}", flush=True)
    try:
        while service.is_alive():
            service.join(1)
    except KeyboardInterrupt:
        service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
