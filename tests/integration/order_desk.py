"""The order service of tests/fixtures/wsdl/constructs on loopback: it records each envelope
it receives and answers every PlaceOrder with order 42."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            desk.received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    desk.url = f"http://127.0.0.1:{server.server_address[1]}/orders"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield desk
    finally:
        server.shutdown()
        server.server_close()
