"""JSON responses and the one error shape."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from gateway.errors import GatewayError, Unauthorized


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def challenge(error: GatewayError) -> dict[str, str]:
    """Headers an error answer carries: how to authenticate, when to come back."""
    headers = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="legacy-gateway"'
    retry_after = error.details.get("retry_after_s") if isinstance(error.details, dict) else None
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(float(retry_after))))
    return headers


def error_response(error: GatewayError, headers: dict[str, str] | None = None) -> JSON:
    return JSON(
        {"error": error.to_dict()},
        status_code=error.status,
        headers={**challenge(error), **(headers or {})},
    )
