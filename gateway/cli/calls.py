"""``calls``: read the record of calls."""

from __future__ import annotations

from pathlib import Path

from gateway.cli.common import DEFAULT_AUDIT_DB, AuditDb, StoreUrl, calls_app, fail, print_json
from gateway.cli.store import audit_store
from gateway.errors import GatewayError


@calls_app.command("show")
def calls_show(
    call_id: str, audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None
) -> None:
    """Print the whole record of a call, with every legacy interaction."""
    from gateway.audit.views import call_view

    with audit_store(audit_db, store_url) as store:
        records = store.records_of(call_id)
        where = store.display
    if not records:
        raise fail(GatewayError(f"no call with id '{call_id}' in {where}"))
    print_json(call_view(call_id, records))


@calls_app.command("unresolved")
def calls_unresolved(
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None
) -> None:
    """Calls a stopped gateway left in flight (outcome_unknown: check the legacy system),
    and calls still running; JSON, oldest first."""
    from gateway.recovery import unresolved

    with audit_store(audit_db, store_url) as store:
        print_json(unresolved(store))
