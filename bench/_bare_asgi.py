"""The floor of P7: a bare ASGI endpoint under uvicorn answering every request with a small
JSON body, served with the same uvicorn settings as ``legacy-gateway serve``."""

from __future__ import annotations

import sys

import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

BODY = orjson.dumps({"name": "ACME GMBH", "city": "BERLIN", "balance_eur": "1234.56"})
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the request body, as any endpoint taking JSON arguments would
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
        access_log=False, server_header=False,
    )  # fmt: skip
