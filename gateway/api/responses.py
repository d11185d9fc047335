"""JSON responses and the one error shape."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from gateway.errors import GatewayError


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_response(error: GatewayError, headers: dict[str, str] | None = None) -> JSON:
    return JSON({"error": error.to_dict()}, status_code=error.status, headers=headers)
