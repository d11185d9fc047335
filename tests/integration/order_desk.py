"""The order service of tests/fixtures/wsdl/constructs on loopback: it records each envelope
it receives and answers every PlaceOrder with order 42."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from tests.http_hosts import QuietHandler, serving

ANSWER = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<PlaceOrderResponse xmlns="urn:example:orders"><OrderNumber>42</OrderNumber>'
    b"<Status>OPEN</Status></PlaceOrderResponse></soap:Body></soap:Envelope>"
)


@dataclass
class OrderDesk:
    url: str
    received: list[bytes] = field(default_factory=list)


@contextmanager
def order_desk() -> Iterator[OrderDesk]:
    desk = OrderDesk("")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            desk.received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.answer(ANSWER, "text/xml; charset=utf-8")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    desk.url = f"http://127.0.0.1:{server.server_address[1]}/orders"
    with serving(server):
        yield desk
