"""Stand-in hosts on free loopback ports: a quiet request handler that answers in one call,
and a way to serve a socket server on a daemon thread for the length of a block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from socketserver import BaseServer
from typing import Any, TypeVar

Server = TypeVar("Server", bound=BaseServer)


class QuietHandler(BaseHTTPRequestHandler):
    """Keeps the access log out of the test output, and answers with one whole body."""

    def answer(self, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    """Serves on a daemon thread until the block ends, then closes the listening socket."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class InBackground(BaseServer):
    """A server that starts itself on a daemon thread and stops on demand, for fixtures that
    hold it across many tests."""

    def start(self: Server) -> Server:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
