"""``serve`` and ``demo``: run the gateway."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import (
    DEFAULT_AUDIT_DB,
    AuditDb,
    StoreUrl,
    app,
    check_store_url,
    registry_of,
)


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", help="Config directory.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Serving processes on the one port, one per core [env LEGACY_GATEWAY_WORKERS; "
            "default 1].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the agent API for a config directory."""
    if workers is not None:
        # The environment is how the count reaches gateway.serving and the spawned workers.
        os.environ["LEGACY_GATEWAY_WORKERS"] = str(workers)
    check_store_url(store_url)
    from gateway.audit.log import AuditSettings
    from gateway.errors import AuditUnavailable

    # Fail fast, with every config issue, before binding a port; built with the salt the
    # audit log of this store commits with.
    try:
        commitments = AuditSettings.from_environment(audit_db).commitments()
    except AuditUnavailable as exc:  # as the server says it: one line, exit 1
        raise SystemExit(f"legacy-gateway cannot start: {exc.message}") from None
    registry = registry_of(config, commitments)
    from gateway.config.directory import ConfigDirectory
    from gateway.serving import run_server

    # What was built to fail fast is what a single process serves: the config loads once.
    loaded = ConfigDirectory.of(registry)
    run_server(config, host, port, audit_db, log_level, store_url, loaded=loaded)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address of the gateway.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the gateway.")] = 8080,
    estate_port: Annotated[int, typer.Option(help="Port of the demo SOAP service.")] = 8801,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
) -> None:
    """Start the demo legacy estate and the gateway in front of it."""
    from gateway.demo import run_demo

    run_demo(host, port, estate_port, audit_db)
