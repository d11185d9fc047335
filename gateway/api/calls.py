"""``/v1/calls``: the record of a call, with every legacy interaction, and feedback on it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON

router = APIRouter(prefix="/v1")


class Feedback(BaseModel):
    """A human's or a program's judgement of a call; appended, never edited."""

    model_config = ConfigDict(extra="forbid")
    score: float | None = Field(None, description="A rating, on whatever scale you use.")
    label: str | None = Field(None, max_length=200, description="e.g. correct, wrong_customer")
    correction: Any = Field(None, description="What the result should have been.")
    comment: str | None = Field(None, max_length=4000)
    author: str = Field(min_length=1, max_length=200, description="Who gives the feedback.")


@router.get("/calls/{call_id}")
async def get_call(call_id: str, request: Request) -> JSON:
    return JSON(gateway_of(request).call_record(call_id, caller_of(request)))


@router.post("/calls/{call_id}/feedback", status_code=201)
async def post_feedback(call_id: str, feedback: Feedback, request: Request) -> JSON:
    """Append feedback to a call's record; the call's own records never change."""
    gateway, caller = gateway_of(request), caller_of(request)
    record = gateway.feedback(call_id, feedback.model_dump(exclude_none=True), caller)
    return JSON({"call_id": call_id, "record": record.index, "at": record.at}, status_code=201)
