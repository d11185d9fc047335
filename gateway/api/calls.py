"""``/v1/calls``: the record of a call, with every legacy interaction, and feedback on it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.errors import InvalidArguments, RequestTooLarge
from gateway.limits import limits

router = APIRouter(prefix="/v1")


class Feedback(BaseModel):
    """A human's or a program's judgement of a call; appended, never edited. The record names
    the authenticated caller as its principal; ``author`` is only the caller's claim, kept as
    ``claimed_author`` and not verified."""

    model_config = ConfigDict(extra="forbid", strict=True)
    score: float | None = Field(
        None, allow_inf_nan=False, description="A rating, on whatever scale you use."
    )
    label: str | None = Field(None, max_length=200, description="e.g. correct, wrong_customer")
    correction: Any = Field(None, description="What the result should have been.")
    comment: str | None = Field(None, max_length=4000)
    author: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Who says they give the feedback: recorded as claimed_author, unverified. "
        "The record's principal is the caller's key or token.",
    )


@router.get("/calls/{call_id}")
async def get_call(call_id: str, request: Request) -> JSON:
    return JSON(gateway_of(request).call_record(call_id, caller_of(request)))


@router.post("/calls/{call_id}/feedback", status_code=201)
async def post_feedback(call_id: str, feedback: Feedback, request: Request) -> JSON:
    """Append feedback to a call's record; the call's own records never change."""
    gateway, caller = gateway_of(request), caller_of(request)
    body = feedback.model_dump(exclude_none=True)
    cap = limits().feedback
    try:
        size = len(orjson.dumps(body, default=str))
    except TypeError:  # orjson holds integers to 64 bits, as the record does
        raise InvalidArguments(
            [{"field": "correction", "message": "holds an integer outside the 64-bit range"}]
        ) from None
    if size > cap:
        raise RequestTooLarge(
            f"the feedback is {size} bytes; at most {cap} are kept "
            "(LEGACY_GATEWAY_MAX_FEEDBACK_BYTES)",
            details={"bytes": size, "limit": cap},
        )
    record = gateway.feedback(call_id, body, caller)
    return JSON({"call_id": call_id, "record": record.index, "at": record.at}, status_code=201)
