"""Approvals and Idempotency-Keys expire, and each expiry is a record of its call.

An approval nobody decided expires at its ``expires_at`` (the tool's ``approval_ttl_s``):
the ``approval.expired`` record is written then, not only when someone tries to decide it
late. A key answers repeats for ``idempotency_ttl_s`` after it was claimed; then it is
released (``idempotency.released``, reason ``expired``) and the same key starts a new call.
A key is never released while its call is still running or waiting for its approval.
"""

from __future__ import annotations

import datetime as dt

from gateway.audit.records import RecordContext
from gateway.audit.store import AuditStore
from gateway.audit.views import call_view

_BUSY = ("in_progress", "awaiting_approval", "pending")


def expire_approvals(store: AuditStore, now: dt.datetime, context: RecordContext) -> int:
    """Settle every pending approval past its expiry; how many this process settled."""
    expired = 0
    for approval in store.pending_approvals():
        if not approval.expired(now):
            continue
        settled = approval.decided("expired", "gateway", now.isoformat(), None)
        if store.settle_approval(settled):  # one replica wins, one record
            record = RecordContext(
                approval.trace_id, approval.span_id, "gateway", context.config_version
            )
            store.append(
                "approval.expired",
                approval.call_id,
                {"approval_id": approval.approval_id, "expires_at": approval.expires_at},
                record,
            )
            expired += 1
    return expired


def expire_keys(store: AuditStore, now: dt.datetime, ttl_s: float, context: RecordContext) -> int:
    """Release the keys claimed more than ``ttl_s`` ago; how many this process released."""
    before = (now - dt.timedelta(seconds=ttl_s)).isoformat(timespec="microseconds")
    released = 0
    for claim in store.claimed_keys(before=before):
        records = store.records_of(claim.call_id)
        if records and call_view(claim.call_id, records).get("status") in _BUSY:
            continue
        if store.release_key(claim.scope, claim.key, claim.call_id):
            store.append(
                "idempotency.released",
                claim.call_id,
                {"idempotency_key": claim.key, "principal": claim.scope, "reason": "expired",
                 "claimed_at": claim.at, "ttl_s": ttl_s},
                records[0].context if records else context,
            )  # fmt: skip
            released += 1
    return released
