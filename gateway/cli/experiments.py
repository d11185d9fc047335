"""``experiments``: compare a tool's variants (or agent versions) from the call record;
``feedback``: judgements of calls as data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from adapters.installed import INSTALLED
from gateway.cli.common import DEFAULT_AUDIT_DB, AuditDb, StoreUrl, app, fail, print_json
from gateway.cli.store import audit_store
from gateway.errors import GatewayError, InvalidArguments

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
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Read each tool over its experiment.window from here."),
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Per variant: calls, error rate by code, invalid arguments, retries, latency, feedback,
    corrections and shadow disagreements, with 95% intervals and the decision rule."""
    from gateway.config.loader import load_config
    from gateway.experiments.report import render, report

    try:
        windows: dict[str, str] = {}
        if config is not None:
            for name, declared in load_config(config, INSTALLED).tools.items():
                if declared.experiment.window is not None:
                    windows[name] = declared.experiment.window
        with audit_store(audit_db, store_url) as store:
            answer = report(store, tool, since, by, windows)
    except GatewayError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(answer)
    else:
        typer.echo(render(answer))


feedback_app = typer.Typer(
    help="Judgements of calls (reviews, feedback) as data.", no_args_is_help=True
)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
    tool: Annotated[str | None, typer.Option("--tool", help="Only this tool.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Judged from then on: 24h, 7d, 2w, or an ISO date."),
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Only this label.")] = None,
    only_corrections: Annotated[
        bool, typer.Option("--corrections", help="Only judgements with a correction.")
    ] = False,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """JSON Lines, one judgement a line: tool, variant, arguments, context, result,
    score, label, correction, reviewer, claimed author, time (sensitive values as their
    commitments)."""
    import orjson

    from gateway.experiments.export import corrections

    try:
        with audit_store(audit_db, store_url) as store:
            rows = list(corrections(store, tool, since, label, only_corrections))
    except GatewayError as exc:
        raise fail(exc) from None
    lines = b"".join(orjson.dumps(row) + b"\n" for row in rows)
    if out is None:
        sys.stdout.buffer.write(lines)
        sys.stdout.flush()
    else:
        out.write_bytes(lines)
        typer.echo(f"{len(rows)} judgement(s) written to {out}", err=True)


@feedback_app.command("promote")
def feedback_promote(
    call_id: str,
    config: Annotated[Path, typer.Option("--config", help="The config directory to change.")],
    kind: Annotated[
        str,
        typer.Option("--as", help="result: a result example; arguments: an argument example."),
    ] = "result",
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Make a call's reviewed correction an example of its tool, in its YAML file (checked
    first, like any config change); a serving gateway loads it and agents see it."""
    from gateway.experiments.promote import correction_of, promote

    try:
        if kind not in ("result", "arguments"):
            raise InvalidArguments([{"field": "as", "message": "result or arguments"}])
        with audit_store(audit_db, store_url) as store:
            tool, correction = correction_of(store, call_id)
        path = promote(config, tool, correction, "result" if kind == "result" else "arguments")
    except GatewayError as exc:
        raise fail(exc) from None
    typer.echo(f"{tool}: the correction of call {call_id} is now an example in {path}")
