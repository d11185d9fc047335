"""The ``legacy-gateway`` command.

Bad input (a missing directory, JSON that is not an object, an answer of the wrong kind, a
store URL of no known kind, a start-up that cannot happen) is one line on stderr naming the
problem, and a non-zero exit: 1 for an invalid config, 2 for everything else.
``LEGACY_GATEWAY_DEBUG=1`` shows the traceback of an unexpected error instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from gateway.errors import ConfigError, GatewayError

if TYPE_CHECKING:
    from gateway.importers.writer import MergeReport


class _Command(typer.Typer):
    """The command's root: whatever escapes a subcommand ends as one line, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except GatewayError as exc:
            raise _fail(exc) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise SystemExit(130) from None
        except Exception as exc:
            if os.environ.get("LEGACY_GATEWAY_DEBUG"):
                raise
            typer.echo(
                f"error: {one_line(exc)} ({type(exc).__name__}; "
                "LEGACY_GATEWAY_DEBUG=1 shows where)",
                err=True,
            )
            raise SystemExit(2) from None


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, at most 500 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:500] + "..."


app = _Command(
    help="Legacy systems (SOAP, ODBC, queues) as typed, recorded tools for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
calls_app = typer.Typer(help="Read recorded calls.", no_args_is_help=True)
config_app = typer.Typer(help="The config format.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the call record.", no_args_is_help=True)
app.add_typer(calls_app, name="calls")
app.add_typer(config_app, name="config")
app.add_typer(audit_app, name="audit")
import_app = typer.Typer(help="Start a config from what a backend says about itself.")
keys_app = typer.Typer(help="API keys of agents and people: create, list, revoke.")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")

DEFAULT_AUDIT_DB = ".legacy-gateway/audit.sqlite"
AuditDb = Annotated[
    Path,
    typer.Option(
        "--audit-db",
        envvar="LEGACY_GATEWAY_AUDIT_DB",
        help="SQLite file of the call record.",
    ),
]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="LEGACY_GATEWAY_AUDIT_STORE",
        help="The audit store as a URL: postgresql://... (shared by replicas) or "
        "sqlite:///path; overrides --audit-db.",
    ),
]
ConfigDir = Annotated[Path, typer.Argument(help="Directory of YAML config files (or one file).")]


def _print_json(value: Any) -> None:
    sys.stdout.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2, default=_json_default).decode() + "\n"
    )


def _json_default(value: Any) -> Any:
    # Legacy requests may hold exact decimals and raw record bytes; print them faithfully.
    from decimal import Decimal

    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.hex().upper()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _fail(error: GatewayError) -> typer.Exit:
    if isinstance(error, ConfigError):
        typer.echo(f"configuration has {len(error.issues)} problem(s):", err=True)
        for issue in error.issues:
            typer.echo(f"  {issue}", err=True)
    else:
        message = error.message
        errors = error.details.get("errors") if isinstance(error.details, dict) else None
        if isinstance(errors, list) and errors:
            message = "invalid arguments: " + "; ".join(
                f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)
            )
        elif error.details:
            shown = orjson.dumps(error.details, default=str).decode()
            message += f"; details: {shown if len(shown) <= 1000 else shown[:1000] + '...'}"
        where = f" (call_id: {error.call_id})" if error.call_id else ""
        typer.echo(f"error [{error.code}]: {' '.join(message.split())}{where}", err=True)
    return typer.Exit(1 if isinstance(error, ConfigError) else 2)


def _bad_input(message: str) -> typer.Exit:
    """A mistake in the command line itself: one line, exit 2."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _json_object(option: str, text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _bad_input(f"{option} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _bad_input(f"{option} takes a JSON object, not {type(value).__name__}")
    return value


STORE_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")


def _check_store_url(url: str | None) -> None:
    if url and "://" in url and not url.startswith(STORE_SCHEMES):
        raise _bad_input(
            f"--store takes postgresql://user@host/db[?schema=S] or sqlite:///PATH, not {url!r}"
        )


def _registry(config: Path) -> Any:
    from gateway import demo_addresses
    from gateway.config.loader import load_config
    from gateway.demo import DEMO_CONFIG
    from gateway.registry import build_registry

    state = Path(os.environ.get("LEGACY_GATEWAY_AUDIT_DB", DEFAULT_AUDIT_DB)).parent
    if demo_addresses.use(config, DEMO_CONFIG, state):
        typer.echo(
            f"using the running demo's estate ({state / demo_addresses.FILE_NAME})", err=True
        )
    try:
        return build_registry(load_config(config))
    except GatewayError as exc:
        raise _fail(exc) from None


@app.command()
def validate(
    config: ConfigDir,
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Also reach every backend and try every tool's operation against it "
            "(ODBC statements run with NULL parameters in a transaction that is rolled back).",
        ),
    ] = False,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
) -> None:
    """Check a config: YAML, keys, ${VAR}s, WSDLs and that every operation exists."""
    registry = _registry(config)
    if connect:
        _use_installation(audit_db)
        problems, warnings = asyncio.run(_connect_and_verify(registry))
        for warning in warnings:
            typer.echo(f"warning: {warning}", err=True)
        if problems:
            typer.echo(f"{len(problems)} problem(s) with the live backends:", err=True)
            for problem in problems:
                typer.echo(f"  {problem}", err=True)
            raise typer.Exit(1)
    typer.echo(
        f"ok: {len(registry.config.backends)} backend(s), {len(registry.tools)} tool(s) "
        f"in {len(registry.config.files)} file(s); version {registry.config.version}"
        + ("; every backend reached and every operation tried" if connect else "")
    )


def _use_installation(audit_db: Path) -> None:
    """Name things per installation (reply queues) as the gateway on this store does: with
    the salt beside its audit key, read if it exists, never made here."""
    from gateway.audit.log import AuditSettings
    from gateway.mapping.redaction import use_salt

    salt = AuditSettings.from_environment(audit_db).salt_path
    if salt.is_file():
        use_salt(salt.read_bytes())


async def _connect_and_verify(registry: Any) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    config = registry.config
    for name, adapter in registry.adapters.items():
        await adapter.open()
        health = await adapter.check()
        if not health.ok:
            problems.append(f"backend {name}: {health.detail}")
            continue
        try:
            warnings.extend(await adapter.warnings())
        except GatewayError as exc:
            problems.append(f"backend {name}: {exc.message}")
    for name, tool in registry.tools.items():
        if any(problem.startswith(f"backend {tool.config.backend}:") for problem in problems):
            continue  # the backend's own problem says it all
        try:
            await tool.adapter.verify(tool.prepared)
        except GatewayError as exc:
            entry = config.entries[("tools", name)]
            line = entry.source.line_of(("tools", name, "operation"))
            problems.append(f"{entry.source.display}:{line}: tools.{name}.operation: {exc.message}")
    for adapter in registry.adapters.values():
        await adapter.close()
    return problems, warnings


@app.command()
def tools(
    config: ConfigDir,
    format: Annotated[str, typer.Option("--format", help="json, openai or mcp")] = "json",
) -> None:
    """Print the tools a config defines, as agents see them."""
    registry = _registry(config)
    if format == "openai":
        _print_json([tool.openai() for tool in registry.tools.values()])
    elif format == "mcp":
        from gateway.api.mcp import mcp_tool

        _print_json(
            [
                mcp_tool(tool).model_dump(mode="json", by_alias=True, exclude_none=True)
                for tool in registry.tools.values()
            ]
        )
    elif format == "json":
        _print_json([tool.listing for tool in registry.tools.values()])
    else:
        raise _bad_input(f"--format must be json, openai or mcp, not {format!r}")


@app.command()
def call(
    config: ConfigDir,
    tool: Annotated[str, typer.Argument(help="Tool name.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    context: Annotated[str, typer.Option("--context", help="Context as a JSON object.")] = "{}",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Render the request only.")] = False,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor of a truncated answer.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key", help="A repeat with the same key answers, and sends nothing."
        ),
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Call a tool in-process (recorded like any call) and print the result."""
    from gateway.api.tools import check_cursor
    from gateway.audit.log import AuditSettings
    from gateway.audit.stores import open_store
    from gateway.runtime import Gateway

    arguments, call_context = _json_object("--args", args), _json_object("--context", context)
    _check_store_url(store_url)
    registry = _registry(config)
    try:
        backend = _tool(registry, tool).config.backend
        check_cursor(_tool(registry, tool), cursor)
    except GatewayError as exc:
        raise _fail(exc) from None

    AuditSettings.from_environment(audit_db).use_commitment_salt()

    async def run() -> dict[str, Any]:
        gateway = Gateway(registry, open_store(audit_db, store_url))
        # Only the tool's backend: another one being down (or a reply queue) is not this call's.
        await gateway.start(backends={backend})
        try:
            result = await gateway.call(
                tool,
                arguments,
                call_context,
                principal="cli",
                dry_run=dry_run,
                cursor=cursor,
                idempotency_key=idempotency_key,
            )
            return result.as_dict()
        finally:
            await gateway.stop()
            gateway.store.close()

    try:
        _print_json(asyncio.run(run()))
    except GatewayError as exc:
        raise _fail(exc) from None


@app.command("map")
def map_offline(
    config: ConfigDir,
    tool: Annotated[str, typer.Argument(help="Tool name.")],
    output_from: Annotated[
        Path | None,
        typer.Option(
            "--output-from",
            help="A captured legacy answer (XML, JSON or record bytes; - for stdin): "
            "print the JSON the agent would get.",
        ),
    ] = None,
    input_from: Annotated[
        Path | None,
        typer.Option(
            "--input-from",
            help="Agent arguments as a JSON file (- for stdin): print the legacy request.",
        ),
    ] = None,
) -> None:
    """Run a tool's mappings on captured data, with no backend running."""
    if (output_from is None) == (input_from is None):
        raise _bad_input("give exactly one of --output-from FILE or --input-from FILE")
    registry = _registry(config)
    try:
        selected = _tool(registry, tool)
        if output_from is not None:
            payload = _read_input(output_from)
            try:
                answer = selected.adapter.parse_answer(selected.prepared, payload)
            except GatewayError:
                raise
            except Exception as exc:  # the parser's own error: XML syntax, a record's length
                raise _bad_input(
                    f"{output_from} is not an answer that {selected.adapter.name} tool '{tool}' "
                    f"can read: {one_line(exc)}"
                ) from None
            _print_json(selected.output(answer))
            return
        assert input_from is not None
        try:
            arguments = orjson.loads(_read_input(input_from))
        except orjson.JSONDecodeError as exc:
            raise _bad_input(f"{input_from} is not JSON: {exc}") from None
        params = selected.input(arguments)
        _print_json(selected.adapter.render(selected.prepared, params))
    except GatewayError as exc:
        raise _fail(exc) from None


def _tool(registry: Any, name: str) -> Any:
    from gateway.errors import ToolNotFound
    from gateway.suggest import did_you_mean

    if name not in registry.tools:
        raise ToolNotFound(f"no tool named '{name}'{did_you_mean(name, registry.tools)}")
    return registry.tools[name]


def _read_input(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _bad_input(f"cannot read {path}: {exc.strerror}") from None


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
        raise _fail(GatewayError(f"ODBC is not available here: {exc}")) from None
    except ValueError as exc:
        raise _fail(GatewayError(str(exc))) from None
    except Exception as exc:  # the driver's error: unreachable database, unknown driver
        raise _fail(GatewayError(f"cannot read table {table}: {exc}")) from None


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
        raise _fail(GatewayError("--date takes FIELD=FORMAT, e.g. ORD-DATE=%Y%m%d"))
    try:
        sys.stdout.write(copybook_mapping(file, encoding, record, transport, dates))
    except CopybookImportError as exc:
        raise _fail(GatewayError(str(exc))) from None


@import_app.command("wsdl")
def import_wsdl_command(
    source: Annotated[str, typer.Argument(help="WSDL file or http(s) URL.")],
    operations: Annotated[
        str | None, typer.Option("--operations", help="Only operations matching this glob.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory of the config.")] = Path("."),
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
    operations: Annotated[
        str | None, typer.Option("--operations", help="Only operations matching this glob.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory of the config.")] = Path("."),
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
        raise _fail(GatewayError(str(exc))) from None
    for line in [*notes, *report.lines()]:
        sys.stdout.write(line + "\n")


@calls_app.command("show")
def calls_show(
    call_id: str, audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None
) -> None:
    """Print the whole record of a call, with every legacy interaction."""
    from gateway.audit.views import call_view

    store = _store_at(audit_db, store_url)
    try:
        records = store.records_of(call_id)
        where = store.display
    finally:
        store.close()
    if not records:
        raise _fail(GatewayError(f"no call with id '{call_id}' in {where}"))
    _print_json(call_view(call_id, records))


@calls_app.command("unresolved")
def calls_unresolved(
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None
) -> None:
    """Calls a stopped gateway left in flight (outcome_unknown: check the legacy system),
    and calls still running; JSON, oldest first."""
    from gateway.recovery import unresolved

    store = _store_at(audit_db, store_url)
    try:
        _print_json(unresolved(store))
    finally:
        store.close()


KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The log's public key (a note verifier key line); default: the .pub file beside "
        "the signing key, or the bundle's own.",
    ),
]
KeptCheckpoints = Annotated[
    list[Path] | None,
    typer.Option(
        "--checkpoint",
        help="A signed checkpoint kept from earlier (e.g. from /v1/audit/checkpoint): the log "
        "must still contain it. Repeatable.",
    ),
]


def _store_at(audit_db: Path, url: str | None = None) -> Any:
    from gateway.audit.stores import open_store

    _check_store_url(url)
    path: Path | None = audit_db
    if url:  # a SQLite URL (or path) names a file that must exist; PostgreSQL says itself
        path = None if url.startswith(STORE_SCHEMES[:2]) else Path(url.removeprefix("sqlite:///"))
    if path is not None and not path.exists():
        raise _fail(GatewayError(f"no audit store at {path} (set --audit-db or --store)"))
    try:
        return open_store(audit_db, url)
    except GatewayError as exc:
        raise _fail(exc) from None


Fingerprint = Annotated[
    str | None,
    typer.Option(
        "--fingerprint",
        help="The fingerprint (sha256:...) of the log's key, as its operator read it to you: "
        "the key the bundle carries must have it.",
    ),
]
VerifyRetention = Annotated[
    int | None,
    typer.Option(
        "--retention-days",
        help="The retention minimum a prune must have kept (default 183, "
        "LEGACY_GATEWAY_AUDIT_RETENTION_DAYS).",
    ),
]


@audit_app.command("verify")
def audit_verify(
    bundle: Annotated[
        Path | None, typer.Argument(help="An exported bundle; without it, the store.")
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
    key: KeyFile = None,
    fingerprint: Fingerprint = None,
    checkpoint: KeptCheckpoints = None,
    retention_days: VerifyRetention = None,
) -> None:
    """Recompute every leaf and root, check every checkpoint against a trusted key; name the
    first record that fails. Exit 0 ok, 1 failed, 3 consistent but no trusted key given."""
    from gateway.audit.bundle import BundleError, verify_bundle, verify_store
    from gateway.audit.checkpoint import CheckpointError, VerifierKey
    from gateway.audit.log import AuditSettings
    from gateway.audit.retention import retention_days as default_retention
    from gateway.audit.trust import choose_anchor, pinned_keys
    from gateway.audit.verdict import verdict

    kept = [path.read_text() for path in checkpoint or []]
    minimum = default_retention() if retention_days is None else retention_days
    try:
        trusted = VerifierKey.parse(key.read_text()) if key else None
        pinned = pinned_keys()
        if bundle is not None:
            report = verify_bundle(
                bundle, trusted, kept, fingerprint=fingerprint, pinned=pinned,
                key_source=f"--key {key}", minimum_days=minimum,
            )  # fmt: skip
            what = f"bundle {bundle}"
        else:
            settings = AuditSettings.from_environment(audit_db)
            public = settings.key_path.with_name(settings.key_path.name + ".pub")
            if trusted is None and not public.exists():
                raise _fail(GatewayError(f"no public key at {public} (set --key)"))
            offered = trusted or VerifierKey.parse(public.read_text())
            anchor = choose_anchor(
                offered, key=trusted, key_source=f"--key {key}", fingerprint=fingerprint,
                pinned=pinned,
            )  # fmt: skip
            source = anchor.source or f"the configured signing key's public half, {public}"
            store = _store_at(audit_db, store_url)
            try:
                report = verify_store(store, anchor.key, kept, anchor=source, minimum_days=minimum)
                what = store.display
            finally:
                store.close()
    except (BundleError, CheckpointError, OSError) as exc:
        raise _fail(GatewayError(str(exc))) from None
    answer = verdict(report, what)
    for line in answer.out:
        typer.echo(line)
    for line in answer.err:
        typer.echo(line, err=True)
    if answer.status:
        raise typer.Exit(answer.status)


@audit_app.command("trust")
def audit_trust(
    public: Annotated[Path, typer.Argument(help="The log's verifier key (a .pub file).")],
    yes: Annotated[bool, typer.Option("--yes", help="Pin without asking.")] = False,
) -> None:
    """Pin a log's key: later verifications of that log need no --key, and fail if it
    was signed by another. Check the printed fingerprint with the log's operator first."""
    from gateway.audit.checkpoint import CheckpointError, VerifierKey
    from gateway.audit.trust import pin, pinned_keys_file

    try:
        key = VerifierKey.parse(public.read_text())
    except (CheckpointError, OSError) as exc:
        raise _fail(GatewayError(f"{public}: {exc}")) from None
    typer.echo(f"key {key.key_id}, fingerprint {key.fingerprint}")
    if not yes and not typer.confirm(
        f"Is this the fingerprint the log's operator gave you? Pin it in {pinned_keys_file()}"
    ):
        raise typer.Exit(1)
    typer.echo(f"pinned in {pin(key)}")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the bundle to.")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="First record: an index, a date or an ISO time."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="End (excluded): an index, a date or an ISO time."),
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Write a self-contained bundle of records, checkpoints and key for offline audit."""
    from gateway.audit.bundle import BundleError, export_bundle
    from gateway.audit.log import AuditLog, AuditSettings

    store = _store_at(audit_db, store_url)
    try:
        log = AuditLog(store, AuditSettings.from_environment(audit_db))
        summary = export_bundle(store, log, out, start, end)
    except BundleError as exc:
        raise _fail(GatewayError(str(exc))) from None
    finally:
        store.close()
    public = log.signer.verifier
    typer.echo(
        f"exported records {summary.first} to {summary.end - 1} into {summary.path}, with "
        f"the checkpoints up to size {summary.checkpoint_size}.\n"
        f"Its log.pub is only a claim: check it anywhere against the log's key, obtained "
        f"separately (the .pub beside the signing key, or pinned with audit trust):\n"
        f"  legacy-gateway audit verify {summary.path} --key {log.settings.key_path}.pub\n"
        f"  or: legacy-gateway audit verify {summary.path} --fingerprint {public.fingerprint}\n"
        f"key {public.key_id}, fingerprint {public.fingerprint}"
    )


@audit_app.command("prune")
def audit_prune(
    out: Annotated[Path, typer.Option("--out", help="Directory for the bundle of what goes.")],
    before: Annotated[
        str, typer.Option("--before", help="Prune only records older than this date or time.")
    ],
    retention_days: Annotated[
        int | None,
        typer.Option(
            "--retention-days",
            help="Minimum age of what may go (default 183, LEGACY_GATEWAY_AUDIT_RETENTION_DAYS).",
        ),
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Export, verify, then delete old records as one checkpointed range; leaves stay."""
    import datetime as dt

    from gateway.audit.bundle import BundleError
    from gateway.audit.log import AuditLog, AuditSettings
    from gateway.audit.retention import prune

    try:
        moment = dt.datetime.fromisoformat(before)
    except ValueError:
        raise _bad_input(f"--before takes an ISO date or time, not {before!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    store = _store_at(audit_db, store_url)
    try:
        log = AuditLog(store, AuditSettings.from_environment(audit_db))
        pruned = prune(store, log, out, moment, retention_days)
    except BundleError as exc:
        raise _fail(GatewayError(str(exc))) from None
    finally:
        store.close()
    if pruned is None:
        typer.echo("nothing to prune: no checkpointed range is older than the cut-off yet")
        return
    typer.echo(
        f"pruned records {pruned.start} to {pruned.end - 1}; they are in {pruned.bundle} "
        "(verified), and their leaf hashes stay in the log"
    )


@audit_app.command("checkpoint")
def audit_checkpoint(
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None
) -> None:
    """Integrate new records, sign a checkpoint if the log grew, and print the latest."""
    from gateway.audit.log import AuditLog, AuditSettings

    store = _store_at(audit_db, store_url)
    try:
        latest = AuditLog(store, AuditSettings.from_environment(audit_db)).latest()
    finally:
        store.close()
    sys.stdout.write(latest["note"])


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
    from gateway.audit.stores import open_store
    from gateway.policy.auth import new_key

    _check_store_url(store_url)
    store = open_store(audit_db, store_url)
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
        raise _fail(exc) from None
    finally:
        store.close()
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

    store = _store_at(audit_db, store_url)
    try:
        revoked = store.revoke_key(key_id, now())
        if revoked is None:
            raise _fail(GatewayError(f"no key with id {key_id}"))
        body = {"key_id": key_id, "agent": revoked.agent}
        store.append("key.revoked", None, body, RecordContext(principal="cli"))
    finally:
        store.close()
    typer.echo(f"revoked key {key_id} of {revoked.agent} ({revoked.revoked_at})")


@keys_app.command("list")
def keys_list(audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None) -> None:
    """The keys: id, agent, scopes, created, revoked (never the secrets)."""
    store = _store_at(audit_db, store_url)
    try:
        keys = store.list_keys()
    finally:
        store.close()
    _print_json(
        [
            {"key_id": k.key_id, "agent": k.agent, "scopes": list(k.scopes),
             "created_at": k.created_at, "revoked_at": k.revoked_at}
            for k in keys
        ]
    )  # fmt: skip


@config_app.command("history")
def config_history(audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None) -> None:
    """The configurations the log has served, and the changes it refused, oldest first."""
    from gateway.config.history import history

    store = _store_at(audit_db, store_url)
    try:
        records = history(store)
    finally:
        store.close()
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

    store = _store_at(audit_db, store_url)
    try:
        changes = diff(find_version(store, before), find_version(store, after))
    except HistoryError as exc:
        raise _fail(GatewayError(str(exc))) from None
    finally:
        store.close()
    for change in changes:
        typer.echo(str(change))
    if not changes:
        typer.echo("no differences")


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the YAML config files (for editors)."""
    from gateway.config.schema import config_json_schema

    _print_json(config_json_schema())


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", help="Config directory.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the agent API for a config directory."""
    _check_store_url(store_url)
    _registry(config)  # fail fast, with every config issue, before binding a port
    from gateway.serving import run_server

    run_server(config, host, port, audit_db, log_level, store_url)


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


def main() -> None:  # pragma: no cover - console script entry
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
