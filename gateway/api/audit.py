"""``/v1/audit``: the log's latest signed checkpoint, and the proof of any call."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.api.deps import gateway_of
from gateway.api.responses import JSON
from gateway.audit.log import AuditLog
from gateway.errors import AuditUnavailable

router = APIRouter(prefix="/v1/audit")


def audit_log_of(request: Request) -> AuditLog:
    log = gateway_of(request).audit_log
    if log is None:
        raise AuditUnavailable("this gateway runs without a signed audit log")
    return log


@router.get("/checkpoint")
async def checkpoint(request: Request) -> JSON:
    """The latest signed checkpoint: origin, size, root, the signed note and the verifier key."""
    return JSON(audit_log_of(request).latest())


@router.get("/proof/{call_id}")
async def proof(call_id: str, request: Request) -> JSON:
    """Each record of the call, with its index, leaf hash and inclusion proof (RFC 9162)
    against one signed checkpoint, which is included."""
    return JSON(audit_log_of(request).proof_of_call(call_id))
