"""The tool-call route served as plain ASGI, in front of FastAPI.

FastAPI's per-request stack (its middlewares, router and dependency solving) took about a
third of the gateway's CPU per tool call when profiled. Tool calls are the hot path, so
``POST /v1/tools/{name}/call`` is answered here by the same ``handle_call`` the FastAPI route
uses (which stays for the OpenAPI document); every other request goes to FastAPI.

It is also where every request's size is judged, for every route alike: headers past
``LEGACY_GATEWAY_MAX_HEADER_BYTES`` are a 431 and bodies past ``LEGACY_GATEWAY_MAX_BODY_BYTES``
a 413, both in the one error shape, before any route parses anything.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.responses import challenge
from gateway.api.tools import handle_call, status_of
from gateway.errors import GatewayError, RequestTooLarge
from gateway.limits import Limits, limits

PREFIX, SUFFIX = "/v1/tools/", "/call"
_JSON = [(b"content-type", b"application/json")]
MCP_PATH = "/mcp"


class HeadersTooLarge(RequestTooLarge):
    status = 431
    code = "request_headers_too_large"


class UriTooLong(RequestTooLarge):
    status = 414
    code = "uri_too_long"


class FastCallPath:
    def __init__(self, app: FastAPI, mcp: ASGIApp | None = None) -> None:
        self.app = app
        self.mcp = mcp

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._startup_reported(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = limits()  # read once a request: the environment is slow to read
        try:
            receive = await _bounded(scope, receive, cap)
        except GatewayError as exc:
            await _answer(send, exc.status, {"error": exc.to_dict()})
            return
        # One rule for every route: no trailing-slash variants (a 404 in the error shape).
        if self.mcp is not None and scope["path"] == MCP_PATH:
            await self.mcp(scope, receive, send)
            return
        if scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(PREFIX) and path.endswith(SUFFIX):
                name = path[len(PREFIX) : -len(SUFFIX)]
                if name and "/" not in name:
                    await self._call(scope, receive, send, name, cap)
                    return
        await self.app(scope, receive, send)

    def _startup_reported(self, send: Send) -> Send:
        """A failed start is reported as its one-line cause, not the whole traceback."""

        async def reported(message: Message) -> None:
            error = getattr(self.app.state, "startup_error", None)
            if message["type"] == "lifespan.startup.failed" and error:
                message = {**message, "message": f"legacy-gateway cannot start: {error}"}
            await send(message)

        return reported

    async def _call(
        self, scope: Scope, receive: Receive, send: Send, name: str, cap: Limits
    ) -> None:
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
            body = await _read_body(receive, cap.body)
            payload = await handle_call(
                gateway, name, body, traceparent, idempotency_key, caller, cap.body
            )
            status = status_of(payload)
        except GatewayError as exc:
            status, payload = exc.status, {"error": exc.to_dict()}
            extra = [(k.encode(), v.encode()) for k, v in challenge(exc).items()]
        except Exception as exc:
            error = GatewayError(f"internal error: {type(exc).__name__}")
            status, payload = error.status, {"error": error.to_dict()}
        await _answer(send, status, payload, extra)


async def _answer(
    send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    headers = [*_JSON, (b"content-length", str(len(data)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _bounded(scope: Scope, receive: Receive, cap: Limits) -> Receive:
    """Judges the request's headers and reads its whole body within the caps; the routes get
    the body replayed from memory (it is at most the body cap)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    size = sum(len(key) + len(value) for key, value in headers)
    if size > cap.headers:
        raise HeadersTooLarge(
            f"the request headers are {size} bytes; at most {cap.headers} are read "
            "(LEGACY_GATEWAY_MAX_HEADER_BYTES)",
            details={"bytes": size, "limit": cap.headers},
        )
    # Path parameters (tool names, call ids) reach error messages and lookups: bounded too.
    target = len(scope.get("raw_path") or scope["path"]) + len(scope.get("query_string") or b"")
    if target > cap.headers:
        raise UriTooLong(
            f"the request's path and query are {target} bytes; at most {cap.headers} are read",
            details={"bytes": target, "limit": cap.headers},
        )
    for key, value in headers:
        if key == b"content-length":
            declared = value.decode("latin-1").strip()
            if declared.isdigit() and int(declared) > cap.body:
                raise _too_large(cap.body)
    body = await _read_body(receive, cap.body)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _too_large(cap: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"the request body is larger than {cap} bytes (LEGACY_GATEWAY_MAX_BODY_BYTES)",
        details={"limit": cap},
    )


async def _read_body(receive: Receive, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError("the client went away before sending the whole request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise _too_large(cap)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
