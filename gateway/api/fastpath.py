"""The tool-call route served as plain ASGI, in front of FastAPI.

FastAPI's per-request stack (its middlewares, router and dependency solving) took about a
third of the gateway's CPU per tool call when profiled. Tool calls are the hot path, so
``POST /v1/tools/{name}/call`` is answered here by the same ``handle_call`` the FastAPI route
uses (which stays for the OpenAPI document); every other request goes to FastAPI.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.responses import challenge
from gateway.api.tools import MAX_BODY_BYTES, handle_call, status_of
from gateway.errors import GatewayError, RequestTooLarge

PREFIX, SUFFIX = "/v1/tools/", "/call"
_JSON = [(b"content-type", b"application/json")]


class FastCallPath:
    def __init__(self, app: FastAPI, mcp: ASGIApp | None = None) -> None:
        self.app = app
        self.mcp = mcp

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.mcp is not None and scope["type"] == "http" and scope["path"].rstrip("/") == "/mcp":
            await self.mcp(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(PREFIX) and path.endswith(SUFFIX):
                name = path[len(PREFIX) : -len(SUFFIX)]
                if name and "/" not in name:
                    await self._call(scope, receive, send, name)
                    return
        await self.app(scope, receive, send)

    async def _call(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        traceparent = idempotency_key = authorization = None
        for key, value in scope["headers"]:
            if key == b"traceparent":
                traceparent = value.decode("latin-1")
            elif key == b"idempotency-key":
                idempotency_key = value.decode("latin-1")
            elif key == b"authorization":
                authorization = value.decode("latin-1")
        extra: list[tuple[bytes, bytes]] = []
        try:
            gateway = self.app.state.gateway
            caller = gateway.auth.principal(authorization)
            body = await _read_body(receive)
            payload = await handle_call(gateway, name, body, traceparent, idempotency_key, caller)
            status = status_of(payload)
        except GatewayError as exc:
            status, payload = exc.status, {"error": exc.to_dict()}
            extra = [(k.encode(), v.encode()) for k, v in challenge(exc).items()]
        except Exception as exc:
            error = GatewayError(f"internal error: {type(exc).__name__}")
            status, payload = error.status, {"error": error.to_dict()}
        data = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
        headers = [*_JSON, (b"content-length", str(len(data)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError("the client went away before sending the whole request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
