"""``config``: the configurations the log has served, and the config format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import DEFAULT_AUDIT_DB, AuditDb, StoreUrl, config_app, fail, print_json
from gateway.cli.store import audit_store
from gateway.errors import GatewayError


@config_app.command("history")
def config_history(audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None) -> None:
    """The configurations the log has served, and the changes it refused, oldest first."""
    from gateway.config.history import history

    with audit_store(audit_db, store_url) as store:
        records = history(store)
    for record in records:
        body = record.body
        if record.kind == "config.loaded":
            typer.echo(
                f"{record.at}  {body.get('config_version')}  loaded: {len(body.get('tools', []))} "
                f"tool(s), {len(body.get('backends', []))} backend(s) from {body.get('directory')}"
            )
        else:
            issues = body.get("issues", [])
            first = issues[0] if issues else {}
            typer.echo(
                f"{record.at}  refused a change to {body.get('directory')} "
                f"({len(issues)} issue(s), first: {first.get('file')}:{first.get('line')} "
                f"{first.get('key')}: {first.get('message')}); kept "
                f"{body.get('running_version')}"
            )


@config_app.command("diff")
def config_diff(
    before: Annotated[str, typer.Argument(help="A version (a prefix of its hash is enough).")],
    after: Annotated[str, typer.Argument(help="The version to compare it with.")],
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """What changed between two configurations the log has served, key by key."""
    from gateway.config.history import HistoryError, diff, find_version

    with audit_store(audit_db, store_url) as store:
        try:
            changes = diff(find_version(store, before), find_version(store, after))
        except HistoryError as exc:
            raise fail(GatewayError(str(exc))) from None
    for change in changes:
        typer.echo(str(change))
    if not changes:
        typer.echo("no differences")


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the YAML config files (for editors)."""
    from adapters.installed import INSTALLED
    from gateway.config.schema import config_json_schema

    print_json(config_json_schema(INSTALLED))
