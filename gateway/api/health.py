"""Liveness (``/healthz``) and readiness with each backend's health (``/readyz``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.api.deps import gateway_of
from gateway.api.responses import JSON

router = APIRouter()


@router.get("/")
async def index(request: Request) -> JSON:
    gateway = gateway_of(request)
    return JSON(
        {
            "name": "legacy-gateway",
            "config_version": gateway.config.version,
            "tools": len(gateway.tools),
            "links": {"tools": "/v1/tools", "docs": "/docs", "ready": "/readyz"},
        }
    )


@router.get("/healthz")
async def healthz(request: Request) -> JSON:
    return JSON({"status": "ok", "config_version": gateway_of(request).config.version})


@router.get("/readyz")
async def readyz(request: Request) -> JSON:
    checks = await gateway_of(request).readiness()
    ready = all(check.ok for check in checks.values())
    return JSON(
        {
            "status": "ready" if ready else "not_ready",
            "backends": {
                name: {"ok": c.ok, "detail": c.detail, "latency_ms": round(c.latency_ms, 2)}
                for name, c in checks.items()
            },
        },
        status_code=200 if ready else 503,
    )
