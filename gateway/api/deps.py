"""Shared request helpers."""

from __future__ import annotations

from fastapi import Request

from gateway.runtime import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway
