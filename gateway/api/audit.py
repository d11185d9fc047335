"""``/v1/audit``: the log's latest signed checkpoint, and the proof of any call."""

from __future__ import annotations

import asyncio
import io
import tarfile
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.audit.bundle import BundleError, export_bundle
from gateway.audit.log import AuditLog
from gateway.errors import AuditUnavailable, InvalidArguments

router = APIRouter(prefix="/v1/audit")


def audit_log_of(request: Request) -> AuditLog:
    log = gateway_of(request).audit_log
    if log is None:
        raise AuditUnavailable("this gateway runs without a signed audit log")
    return log


@router.get("/checkpoint")
async def checkpoint(request: Request) -> JSON:
    """The latest signed checkpoint: origin, size, root, the signed note and the verifier key."""
    caller_of(request)  # any agent of this gateway may see the log's head
    return JSON(audit_log_of(request).latest())


@router.get("/proof/{call_id}")
async def proof(call_id: str, request: Request) -> JSON:
    """Each record of the call, with its index, leaf hash and inclusion proof (RFC 9162)
    against one signed checkpoint, which is included."""
    gateway_of(request).call_record(call_id, caller_of(request))  # its caller's, or auditors'
    return JSON(audit_log_of(request).proof_of_call(call_id))


@router.get("/export")
async def export(
    request: Request,
    start: str | None = Query(None, alias="from", description="Index, date or ISO time."),
    end: str | None = Query(None, alias="to", description="End (excluded), the same way."),
) -> Response:
    """A bundle (records, leaf hashes, checkpoints, public key) as a .tar.gz, for
    ``legacy-gateway audit verify`` on any machine."""
    caller_of(request).require("audit", "export the log")
    log = audit_log_of(request)

    def pack() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "audit-bundle"
            export_bundle(log.store, log, bundle, start, end)
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
                archive.add(bundle, arcname="audit-bundle")
            return buffer.getvalue()

    try:
        data = await asyncio.to_thread(pack)
    except BundleError as exc:
        raise InvalidArguments([{"field": "from", "message": str(exc)}]) from None
    return Response(
        data,
        media_type="application/gzip",
        headers={"content-disposition": 'attachment; filename="audit-bundle.tar.gz"'},
    )
