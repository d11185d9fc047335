"""Shared request helpers: the gateway, and who is calling."""

from __future__ import annotations

from fastapi import Request

from gateway.policy.auth import Principal
from gateway.runtime import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def caller_of(request: Request) -> Principal:
    """The authenticated caller of a request; 401 without a valid API key (unless open)."""
    return gateway_of(request).auth.principal(request.headers.get("authorization"))
