"""``/v1/experiments``: the comparison of tools' variants, for people with the ``review``
or ``audit`` scope (it reads every agent's calls)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.experiments.report import report

router = APIRouter(prefix="/v1")


@router.get("/experiments")
async def experiments(
    request: Request,
    tool: str | None = Query(None, max_length=64, description="Only this tool."),
    since: str | None = Query(
        None, max_length=64, description="24h, 7d, 2w, or an ISO date or time."
    ),
    by: str = Query(
        "variant",
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="variant, or a context key the agents send (agent_version, ...).",
    ),
) -> JSON:
    """Per tool and variant: calls, error rate by code, invalid arguments, retries, latency,
    feedback, corrections, shadow disagreements, with 95% intervals and the verdict against
    the baseline by the stated decision rule."""
    caller = caller_of(request)
    if not caller.has("audit"):
        caller.require("review", "read the experiments report")
    store = gateway_of(request).store
    return JSON(await asyncio.to_thread(report, store, tool, since, by))
