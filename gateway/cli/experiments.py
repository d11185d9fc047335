"""``experiments``: compare a tool's variants (or agent versions) from the call record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import DEFAULT_AUDIT_DB, AuditDb, StoreUrl, app, print_json
from gateway.cli.store import audit_store

experiments_app = typer.Typer(
    help="A/B and shadow variants of tools: their comparison.", no_args_is_help=True
)
app.add_typer(experiments_app, name="experiments")


@experiments_app.command("report")
def experiments_report(
    tool: Annotated[str | None, typer.Option("--tool", help="Only this tool.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Calls from then on: 24h, 7d, 2w, or an ISO date or time."),
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Group by variant, or by a context key the agents send "
            "(agent_version, prompt_version, ...).",
        ),
    ] = "variant",
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Per variant: calls, error rate by code, invalid arguments, retries, latency, feedback,
    corrections and shadow disagreements, with 95% intervals and the decision rule."""
    from gateway.experiments.report import render, report

    with audit_store(audit_db, store_url) as store:
        answer = report(store, tool, since, by)
    if as_json:
        print_json(answer)
    else:
        typer.echo(render(answer))
