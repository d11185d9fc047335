"""``import``: start a config from what a backend says about itself."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.common import fail, import_app
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.importers.writer import MergeReport


@import_app.command("odbc")
def import_odbc(
    connection: Annotated[str, typer.Argument(help="ODBC connection string.")],
    table: Annotated[str, typer.Option("--table", help="Table (or view) to describe.")],
    backend: Annotated[str, typer.Option("--backend", help="Backend name to use.")] = "db",
) -> None:
    """Print a YAML skeleton (backend, read tool by key, paged list tool) for a table."""
    from gateway.importers.odbc import describe

    try:
        sys.stdout.write(describe(connection, table, backend))
    except ImportError as exc:
        raise fail(GatewayError(f"ODBC is not available here: {exc}")) from None
    except ValueError as exc:
        raise fail(GatewayError(str(exc))) from None
    except Exception as exc:  # the driver's error: unreachable database, unknown driver
        raise fail(GatewayError(f"cannot read table {table}: {exc}")) from None


@import_app.command("copybook")
def import_copybook(
    file: Annotated[Path, typer.Argument(help="Copybook file (COPY members beside it).")],
    encoding: Annotated[str, typer.Option("--encoding", help="Code page.")] = "cp037",
    record: Annotated[str | None, typer.Option("--record", help="01 record to map.")] = None,
    transport: Annotated[
        str, typer.Option("--transport", help="binary, base64, hex or text.")
    ] = "binary",
    date: Annotated[
        list[str] | None, typer.Option("--date", help="FIELD=FORMAT, e.g. ORD-DATE=%Y%m%d.")
    ] = None,
) -> None:
    """Print the output mapping (snake_case fields, types, scales) of a copybook's record."""
    from gateway.importers.copybook import CopybookImportError, copybook_mapping

    dates = dict(item.split("=", 1) for item in date or [] if "=" in item)
    if len(dates) != len(date or []):
        raise fail(GatewayError("--date takes FIELD=FORMAT, e.g. ORD-DATE=%Y%m%d"))
    try:
        sys.stdout.write(copybook_mapping(file, encoding, record, transport, dates))
    except CopybookImportError as exc:
        raise fail(GatewayError(str(exc))) from None


# The options of every importer that writes a config.
Operations = Annotated[
    str | None, typer.Option("--operations", help="Only operations matching this glob.")
]
Out = Annotated[Path, typer.Option("--out", help="Directory of the config.")]


@import_app.command("wsdl")
def import_wsdl_command(
    source: Annotated[str, typer.Argument(help="WSDL file or http(s) URL.")],
    operations: Operations = None,
    out: Out = Path("."),
    address: Annotated[
        str | None,
        typer.Option("--address", help="Endpoint URL of the service (a WSDL without <service>)."),
    ] = None,
) -> None:
    """Write a config with one typed tool per SOAP operation; again: update, keep edits."""
    from gateway.importers.run import wsdl_to_config
    from gateway.importers.wsdl import WsdlImportError

    _write_config(lambda: wsdl_to_config(source, out, operations, address), WsdlImportError)


@import_app.command("openapi")
def import_openapi_command(
    source: Annotated[str, typer.Argument(help="OpenAPI 3.x or Swagger 2.0 file or URL.")],
    operations: Operations = None,
    out: Out = Path("."),
) -> None:
    """Write a config with one HTTP tool per operation; again: update, keep edits."""
    from gateway.importers.openapi import OpenApiImportError
    from gateway.importers.run import openapi_to_config

    _write_config(lambda: openapi_to_config(source, out, operations), OpenApiImportError)


def _write_config(
    run: Callable[[], tuple[Path, MergeReport, list[str]]], refused: type[Exception]
) -> None:
    """Run an importer that writes a config; print its notes and what changed."""
    try:
        _path, report, notes = run()
    except refused as exc:
        raise fail(GatewayError(str(exc))) from None
    for line in [*notes, *report.lines()]:
        sys.stdout.write(line + "\n")
