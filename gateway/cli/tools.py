"""Commands on a config's tools: check it, list its tools, call one, run its mappings offline."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from gateway.cli.columns import missing_columns
from gateway.cli.common import (
    DEFAULT_AUDIT_DB,
    AuditDb,
    ConfigDir,
    StoreUrl,
    app,
    bad_input,
    check_store_url,
    fail,
    json_object,
    one_line,
    print_json,
    registry_of,
)
from gateway.cli.store import audit_store
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.audit.store import AuditStore


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
    from gateway.audit.log import AuditSettings

    # Name things per installation (reply queues) as the gateway on this store does: with
    # the salt beside its audit key, read if it exists, never made here.
    registry = registry_of(config, AuditSettings.from_environment(audit_db).existing_commitments())
    if connect:
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
        else:
            problems.extend(await missing_columns(name, tool, config))
    for adapter in registry.adapters.values():
        await adapter.close()
    return problems, warnings


@app.command()
def tools(
    config: ConfigDir,
    format: Annotated[str, typer.Option("--format", help="json, openai or mcp")] = "json",
) -> None:
    """Print the tools a config defines, as agents see them."""
    registry = registry_of(config)
    # In name order, as GET /v1/tools and MCP tools/list give them, not in file order.
    listed = [registry.tools[name] for name in sorted(registry.tools)]
    if format == "openai":
        print_json([tool.openai() for tool in listed])
    elif format == "mcp":
        from gateway.api.mcp import mcp_tool

        print_json(
            [
                mcp_tool(tool).model_dump(mode="json", by_alias=True, exclude_none=True)
                for tool in listed
            ]
        )
    elif format == "json":
        print_json([tool.listing for tool in listed])
    else:
        raise bad_input(f"--format must be json, openai or mcp, not {format!r}")


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
    from gateway.runtime import Gateway

    arguments, call_context = json_object("--args", args), json_object("--context", context)
    check_store_url(store_url)  # before the config: a mistyped URL is the first thing to say
    try:
        commitments = AuditSettings.from_environment(audit_db).commitments()
    except GatewayError as exc:
        raise fail(exc) from None
    registry = registry_of(config, commitments)
    try:
        backend = find_tool(registry, tool).config.backend
        check_cursor(find_tool(registry, tool), cursor)
    except GatewayError as exc:
        raise fail(exc) from None

    async def run(store: AuditStore) -> dict[str, Any]:
        gateway = Gateway(registry, store)
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

    with audit_store(audit_db, store_url, create=True) as store:
        try:
            print_json(asyncio.run(run(store)))
        except GatewayError as exc:
            raise fail(exc) from None


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
        raise bad_input("give exactly one of --output-from FILE or --input-from FILE")
    registry = registry_of(config)
    try:
        selected = find_tool(registry, tool)
        if output_from is not None:
            payload = read_input(output_from)
            try:
                answer = selected.adapter.parse_answer(selected.prepared, payload)
            except GatewayError:
                raise
            except Exception as exc:  # the parser's own error: XML syntax, a record's length
                raise bad_input(
                    f"{output_from} is not an answer that {selected.adapter.name} tool '{tool}' "
                    f"can read: {one_line(exc)}"
                ) from None
            print_json(selected.output(answer))
            return
        assert input_from is not None
        try:
            arguments = orjson.loads(read_input(input_from))
        except orjson.JSONDecodeError as exc:
            raise bad_input(f"{input_from} is not JSON: {exc}") from None
        params = selected.input(arguments)
        print_json(selected.adapter.render(selected.prepared, params))
    except GatewayError as exc:
        raise fail(exc) from None


def find_tool(registry: Any, name: str) -> Any:
    from gateway.errors import ToolNotFound
    from gateway.suggest import did_you_mean

    if name not in registry.tools:
        raise ToolNotFound(f"no tool named '{name}'{did_you_mean(name, registry.tools)}")
    return registry.tools[name]


def read_input(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise bad_input(f"cannot read {path}: {exc.strerror}") from None
