"""``/v1/experiments``: the comparison of tools' variants, for people with the ``review``
or ``audit`` scope (it reads every agent's calls); ``/v1/reviews``: the review queue and
reviewers' judgements (``review`` scope)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.audit.views import call_view
from gateway.experiments import reviews
from gateway.experiments.report import report
from gateway.policy.auth import Principal

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
    gateway = gateway_of(request)
    windows = {
        name: served.config.experiment.window
        for name, served in gateway.tools.items()
        if served.config.experiment.window is not None
    }
    return JSON(await asyncio.to_thread(report, gateway.store, tool, since, by, windows))


class Review(BaseModel):
    """A reviewer's judgement of a call in the queue."""

    model_config = ConfigDict(extra="forbid", strict=True)
    score: float | None = Field(None, allow_inf_nan=False, description="A rating, any scale.")
    label: str | None = Field(None, max_length=200, description="e.g. correct, wrong_customer")
    correction: Any = Field(
        None, description="The result the call should have had (sensitive fields committed)."
    )
    comment: str | None = Field(None, max_length=4000)


def _reviewer(request: Request) -> Principal:
    caller = caller_of(request)
    caller.require("review", "review calls")
    return caller


@router.get("/reviews")
async def review_queue(
    request: Request,
    tool: str | None = Query(None, max_length=64, description="Only this tool."),
    limit: int = Query(100, ge=1, le=1000, description="At most this many calls, oldest first."),
) -> JSON:
    """Calls waiting for a review, each with its arguments, context and result."""
    _reviewer(request)
    store = gateway_of(request).store

    def waiting() -> list[dict[str, Any]]:
        entries = reviews.queue(store, tool)[:limit]
        for entry in entries:
            view = call_view(entry["call_id"], store.records_of(entry["call_id"]))
            entry["call"] = {key: view.get(key) for key in _SHOWN if key in view}
        return entries

    return JSON({"reviews": await asyncio.to_thread(waiting)})


@router.post("/reviews/{call_id}", status_code=201)
async def post_review(call_id: str, verdict: Review, request: Request) -> JSON:
    """A score, label and correction of a call in the queue, appended to its record."""
    reviewer = _reviewer(request)
    gateway = gateway_of(request)
    body = verdict.model_dump(exclude_none=True)
    if "correction" in body:
        records = gateway.store.records_of(call_id)
        name = records[0].body.get("tool") if records else None
        tool = gateway.tools.get(name) if isinstance(name, str) else None
        if tool is not None:
            body["correction"] = tool.output.redact(body["correction"], tool.commitments)
    stored = reviews.review(gateway.store, call_id, body, reviewer.name, gateway.config.version)
    return JSON({"call_id": call_id, "record": stored.index, "review": stored.body}, 201)


# The parts of a call's view a reviewer needs to judge it.
_SHOWN = ("tool", "arguments", "context", "status", "result", "error", "principal")
