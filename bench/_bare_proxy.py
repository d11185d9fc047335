"""The floor of P7 for anything that forwards: a bare ASGI endpoint under uvicorn (as
``_bare_asgi``) that sends each request's body on to the backend with the gateway's own
HTTP client (``adapters.http11``) and answers with the backend's body. No API key, mapping,
validation or log: the CPU a call of this is what any gateway in this stack pays for its two
hops, and what the gateway spends above it is its own work.

``python bench/_bare_proxy.py PORT BACKEND [CONTENT-TYPE]``: the content type of what it
forwards and answers (``application/json`` unless given; ``text/xml`` for SOAP, P1's floor).
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import uvicorn
from starlette.types import Receive, Scope, Send

from adapters.http11 import HTTPClient


def proxy_to(backend: str, content_type: str = "application/json") -> object:
    client = HTTPClient(backend, max_connections=16)
    forwarded = {"Content-Type": content_type}
    answered = [(b"content-type", content_type.encode("latin-1"))]
    path = urlsplit(backend).path or "/"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        answer = await client.request("POST", path, forwarded, body, timeout=10, max_bytes=1 << 20)
        headers = [*answered, (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    return app


if __name__ == "__main__":
    uvicorn.run(
        proxy_to(*sys.argv[2:4]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
        access_log=False, server_header=False,
    )  # fmt: skip
