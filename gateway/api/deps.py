"""Shared request helpers: the gateway, and who is calling."""

from __future__ import annotations

from fastapi import Request

from gateway.console.signin import cookie_authorization
from gateway.policy.auth import Principal
from gateway.runtime import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def authenticate(request: Request) -> None:
    """Router dependency: the caller is known (or refused with 401) before the body is
    judged, so a stranger learns nothing from validation errors."""
    request.state.caller = gateway_of(request).auth.principal(authorization(request))


def authorization(request: Request) -> str | None:
    """The Authorization header, or the console's sign-in cookie when there is none."""
    header = request.headers.get("authorization")
    return header if header is not None else cookie_authorization(request)


def caller_of(request: Request) -> Principal:
    """The authenticated caller of a request; 401 without a valid API key (unless open)."""
    caller: Principal | None = getattr(request.state, "caller", None)
    if caller is None:
        caller = gateway_of(request).auth.principal(authorization(request))
        request.state.caller = caller
    return caller
