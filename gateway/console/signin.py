"""Signing in to the console: the API key held in an HttpOnly, SameSite=Strict cookie.

The cookie carries the key itself, so every worker and replica accepts it without shared
session state; page scripts never see it (HttpOnly) and other sites never send it
(SameSite=Strict). Actions (anything but GET) also need the CSRF token, derived from the key
by a keyed hash, which the page holds in memory and sends as ``X-CSRF-Token``.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from gateway.errors import Forbidden

COOKIE = "lgw_console"
CSRF_HEADER = "x-csrf-token"
SAFE = ("GET", "HEAD", "OPTIONS")


def csrf_token(key: str) -> str:
    return hmac.new(key.encode(), b"legacy-gateway console csrf", hashlib.sha256).hexdigest()


def cookie_authorization(request: Request) -> str | None:
    """``Bearer <key>`` from the console's cookie; an action without its CSRF token is
    refused (another site's form, or a script that does not hold the token)."""
    key = request.cookies.get(COOKIE)
    if not key:
        return None
    if request.method not in SAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token(key)):
            raise Forbidden("the console's CSRF token is missing or wrong: reload the page")
    return f"Bearer {key}"
