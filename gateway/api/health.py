"""Liveness (``/healthz``), readiness (``/readyz``) and each backend's health.

Readiness means "this replica can serve and record": its config is loaded and its audit store
answers. A legacy backend being down does not make a replica unready (every replica would be
pulled at once); each backend's health is at ``/health/backends``, and calls to a failing
backend are refused quickly by its circuit breaker.
"""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/")
async def index(request: Request) -> Response:
    """What this gateway serves: for any caller with a key (everyone in open mode).
    A browser is sent to the console."""
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/console", status_code=303)
    gateway = gateway_of(request)
    caller_of(request)
    return JSON(
        {
            "name": "legacy-gateway",
            "config_version": gateway.config.version,
            "tools": len(gateway.tools),
            "links": {
                "tools": "/v1/tools",
                "docs": "/docs",
                "console": "/console",
                "ready": "/readyz",
                "backends": "/health/backends",
            },
        }
    )


@router.get("/healthz")
async def healthz(request: Request) -> JSON:
    """Alive, with the config served and which process answered (``serve --workers``: each
    worker is a process of its own, with its own queue consumers and caches)."""
    return JSON(
        {"status": "ok", "config_version": gateway_of(request).config.version, "pid": os.getpid()}
    )


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
    gateway = gateway_of(request)
    try:
        records = await asyncio.to_thread(gateway.store.count)
    except Exception as exc:
        return JSON(
            {
                "status": "not_ready",
                "store": {"ok": False, "detail": f"{type(exc).__name__}: {exc}"},
            },
            status_code=503,
        )
    checkpointing = gateway.audit_log.last_error if gateway.audit_log is not None else ""
    return JSON(
        {
            "status": "ready",
            "config_version": gateway.config.version,
            "store": {"ok": True, "records": records, "checkpoint_error": checkpointing or None},
        }
    )


@router.get("/health/backends")
async def backends(request: Request) -> JSON:
    """Each backend's own check: 503 when one is down (for monitoring, not for probes)."""
    checks = await gateway_of(request).readiness()
    healthy = all(check.ok for check in checks.values())
    return JSON(
        {
            "status": "ok" if healthy else "degraded",
            "backends": {
                name: {"ok": c.ok, "detail": c.detail, "latency_ms": round(c.latency_ms, 2)}
                for name, c in checks.items()
            },
        },
        status_code=200 if healthy else 503,
    )
