"""Liveness (``/healthz``) and readiness with each backend's health (``/readyz``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/")
async def index(request: Request) -> JSON:
    """What this gateway serves: for any caller with a key (everyone in open mode)."""
    gateway = gateway_of(request)
    caller_of(request)
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


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format: calls, legacy interactions, the audit log's checkpoint size.
    Needs a key with the ``metrics`` scope when keys are checked (tool names and call
    outcomes are not for every agent)."""
    gateway = gateway_of(request)
    caller_of(request).require("metrics", "read the metrics")
    if gateway.audit_log is not None:
        latest = gateway.store.latest_checkpoint()
        gateway.metrics.log_size.set(latest.size if latest is not None else 0)
    return Response(gateway.metrics.exposition(), media_type=CONTENT_TYPE)


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
