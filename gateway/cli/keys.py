"""``keys``: API keys of agents and people."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import DEFAULT_AUDIT_DB, AuditDb, StoreUrl, fail, keys_app, print_json
from gateway.cli.store import audit_store
from gateway.errors import GatewayError


@keys_app.command("create")
def keys_create(
    agent: Annotated[str, typer.Option("--agent", help="Who the key is for (on every record).")],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help="Comma-separated tool names or globs (get_*), tags (tag:billing: every tool "
            "tagged billing), plus 'approve' to approve writes and 'audit' to read every call "
            "and export the log.",
        ),
    ],
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    from gateway.audit.records import RecordContext
    from gateway.audit.store import now
    from gateway.policy.auth import new_key

    # The first key of an installation is what makes its store.
    with audit_store(audit_db, store_url, create=True) as store:
        try:
            created = new_key(agent, scopes.split(","), now())
            store.add_key(created.stored)
            body = {
                "key_id": created.stored.key_id,
                "agent": agent,
                "scopes": list(created.stored.scopes),
            }
            store.append("key.created", None, body, RecordContext(principal="cli"))
        except GatewayError as exc:
            raise fail(exc) from None
    typer.echo(created.key)
    typer.echo(
        f"key {created.stored.key_id} for {agent}, scopes {', '.join(created.stored.scopes)}; "
        "keep it now: it is not shown again",
        err=True,
    )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after lgw_).")],
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Revoke a key at once; calls with it get 401 from then on."""
    from gateway.audit.records import RecordContext
    from gateway.audit.store import now

    with audit_store(audit_db, store_url) as store:
        revoked = store.revoke_key(key_id, now())
        if revoked is None:
            raise fail(GatewayError(f"no key with id {key_id}"))
        body = {"key_id": key_id, "agent": revoked.agent}
        store.append("key.revoked", None, body, RecordContext(principal="cli"))
    typer.echo(f"revoked key {key_id} of {revoked.agent} ({revoked.revoked_at})")


@keys_app.command("list")
def keys_list(audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None) -> None:
    """The keys: id, agent, scopes, created, revoked (never the secrets)."""
    with audit_store(audit_db, store_url) as store:
        keys = store.list_keys()
    print_json(
        [
            {"key_id": k.key_id, "agent": k.agent, "scopes": list(k.scopes),
             "created_at": k.created_at, "revoked_at": k.revoked_at}
            for k in keys
        ]
    )  # fmt: skip
