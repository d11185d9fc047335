"""Reading a call's records, and adding an agent's or a person's judgement of it.

A call's record is its caller's and auditors' (the ``audit`` scope): another agent's call is
as invisible as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.store import AuditStore
from gateway.errors import CallNotFound
from gateway.policy.auth import Principal


def readable_records(
    store: AuditStore, call_id: str, caller: Principal | None
) -> list[StoredRecord]:
    """The call's records if ``caller`` may read them (None: the CLI, who may)."""
    records = store.records_of(call_id)
    if not records or not (
        caller is None or caller.has("audit") or caller.owns(records[0].context.principal)
    ):
        raise CallNotFound(f"no call with id '{call_id}'")
    return records


def add_feedback(
    store: AuditStore,
    call_id: str,
    feedback: dict[str, Any],
    caller: Principal | None,
    config_version: str,
) -> StoredRecord:
    """A judgement of a call, linked to it by a record of its own. Its principal is the
    authenticated caller, never a name from the body: an ``author`` the caller gives is
    kept as ``claimed_author``, unverified."""
    records = readable_records(store, call_id, caller)
    principal = caller.name if caller is not None else "cli"
    body = {key: value for key, value in feedback.items() if key != "author"}
    if feedback.get("author") is not None:
        body["claimed_author"] = feedback["author"]
    body["principal"] = principal
    context = RecordContext(records[0].context.trace_id, None, principal, config_version)
    return store.append("call.feedback", call_id, body, context)
