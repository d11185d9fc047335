"""``/v1/calls``: the record of a call, with every legacy interaction."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.api.deps import gateway_of
from gateway.api.responses import JSON

router = APIRouter(prefix="/v1")


@router.get("/calls/{call_id}")
async def get_call(call_id: str, request: Request) -> JSON:
    return JSON(gateway_of(request).call_record(call_id))
