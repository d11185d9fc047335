"""The review queue: calls a tool's ``review`` policy picks, for people with the ``review``
scope, who give a score, a label and a correction (the value the result should have had).

A picked call gets a ``review.requested`` record, once for each reason: the store checks
and appends in one step, so neither a parked write run again after its approval nor two
workers' consoles raising the same alert queue it twice for the same reason. A review is a
``call.feedback`` record with ``review: true`` by the reviewer's name. The queue is the
requested calls without a review yet. The sample is a stable hash of the call id, so it
needs no state.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.store import Already
from gateway.config.models import ReviewPolicy
from gateway.errors import CallNotFound
from gateway.experiments.split import bucket
from gateway.pipeline.store import CallStore, Entry

REQUESTED = "review.requested"
FEEDBACK = "call.feedback"


class RecordReader(Protocol):
    def records_of_kind(self, *kinds: str) -> list[StoredRecord]: ...


def reasons(
    policy: ReviewPolicy, call_id: str, effect: str, error: str | None, duration_ms: float
) -> list[str]:
    """Why the policy puts this call in the queue (empty: it does not)."""
    found = []
    if policy.share and bucket("review", call_id) < policy.share:
        found.append("sampled")
    if policy.every_write and effect == "write":
        found.append("write")
    if policy.every_error and error is not None:
        found.append(f"error:{error}")
    if policy.slower_than_ms is not None and duration_ms > policy.slower_than_ms:
        found.append("slow")
    return found


class RequestStore(Protocol):
    def append_unless(
        self, call_id: str, kind: str, entries: list[Entry],
        context: RecordContext | None = None, already: Already = ...,
    ) -> list[StoredRecord] | None: ...  # fmt: skip


def request(
    store: RequestStore, call_id: str, body: dict[str, Any], context: RecordContext
) -> StoredRecord | None:
    """Queue the call for ``body["reasons"]``, unless it is queued for each of them already
    (None then: nothing is written)."""
    wanted = body["reasons"]

    def already(requests: list[StoredRecord]) -> bool:
        queued = {reason for record in requests for reason in record.body.get("reasons", ())}
        return all(reason in queued for reason in wanted)

    written = store.append_unless(call_id, REQUESTED, [(REQUESTED, call_id, body)], context,
                                  already)  # fmt: skip
    return None if written is None else written[-1]


def queue(store: RecordReader, tool: str | None = None) -> list[dict[str, Any]]:
    """Calls waiting for a review, oldest first."""
    reviewed = {
        record.call_id
        for record in store.records_of_kind(FEEDBACK)
        if record.body.get("review") is True
    }
    waiting: dict[str | None, dict[str, Any]] = {}
    for record in store.records_of_kind(REQUESTED):
        if record.call_id in reviewed:
            continue
        if tool is not None and record.body.get("tool") != tool:
            continue
        # A call is in the queue once, with every reason it was asked for (a parked write
        # may be picked again when it runs after its approval; an anomaly flags calls the
        # policy picked already).
        entry = waiting.get(record.call_id)
        if entry is None:
            waiting[record.call_id] = {"call_id": record.call_id, "requested_at": record.at,
                                       **record.body}  # fmt: skip
            continue
        for key, value in record.body.items():
            entry.setdefault(key, value)
        had = list(entry.get("reasons", ()))
        entry["reasons"] = had + [r for r in record.body.get("reasons", ()) if r not in had]
    return list(waiting.values())


def review(
    store: CallStore,
    call_id: str,
    verdict: dict[str, Any],
    reviewer: str,
    config_version: str,
) -> StoredRecord:
    """A reviewer's score, label and correction of a call in the queue, on its record."""
    records = store.records_of(call_id)
    if not any(record.kind == REQUESTED for record in records):
        raise CallNotFound(f"no call '{call_id}' in the review queue")
    body = {**verdict, "review": True, "principal": reviewer}
    context = RecordContext(records[0].context.trace_id, None, reviewer, config_version)
    return store.append(FEEDBACK, call_id, body, context)
