"""What every ``legacy-gateway`` command shares: the root app and its groups, the common
options, and the one way a problem becomes a line on stderr and an exit status.

Bad input (a missing directory, JSON that is not an object, an answer of the wrong kind, a
store URL of no known kind, a start-up that cannot happen) is one line on stderr naming the
problem, and a non-zero exit: 1 for an invalid config, 2 for everything else.
``LEGACY_GATEWAY_DEBUG=1`` shows the traceback of an unexpected error instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from gateway.errors import ConfigError, GatewayError

if TYPE_CHECKING:
    from gateway.mapping.redaction import Commitments


class _Command(typer.Typer):
    """The command's root: whatever escapes a subcommand ends as one line, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except GatewayError as exc:
            raise fail(exc) from None
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
config_app = typer.Typer(
    help="The config format, and the configurations the log has served.", no_args_is_help=True
)
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


def print_json(value: Any) -> None:
    sys.stdout.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2, default=json_default).decode() + "\n"
    )


def json_default(value: Any) -> Any:
    # Legacy requests may hold exact decimals and raw record bytes; print them faithfully.
    from decimal import Decimal

    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.hex().upper()
    raise TypeError(f"{type(value).__name__} is not JSON")


def fail(error: GatewayError) -> typer.Exit:
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


def bad_input(message: str) -> typer.Exit:
    """A mistake in the command line itself: one line, exit 2."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def json_object(option: str, text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise bad_input(f"{option} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise bad_input(f"{option} takes a JSON object, not {type(value).__name__}")
    return value


STORE_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")


def check_store_url(url: str | None) -> None:
    if url and "://" in url and not url.startswith(STORE_SCHEMES):
        raise bad_input(
            f"--store takes postgresql://user@host/db[?schema=S] or sqlite:///PATH, not {url!r}"
        )


def registry_of(config: Path, commitments: Commitments | None = None) -> Any:
    """The tools and backends of a config, or its every issue and exit 1.

    ``commitments``: the installation's, where what the registry records or names counts (a
    call, its reply queues); without them, a throwaway salt."""
    from adapters.installed import INSTALLED
    from gateway import demo_addresses
    from gateway.config.loader import load_config
    from gateway.demo import DEMO_CONFIG
    from gateway.mapping.redaction import Commitments
    from gateway.tools import build_registry

    state = Path(os.environ.get("LEGACY_GATEWAY_AUDIT_DB", DEFAULT_AUDIT_DB)).parent
    if demo_addresses.use(config, DEMO_CONFIG, state):
        typer.echo(
            f"using the running demo's estate ({state / demo_addresses.FILE_NAME})", err=True
        )
    try:
        return build_registry(
            load_config(config, INSTALLED), commitments or Commitments.throwaway()
        )
    except GatewayError as exc:
        raise fail(exc) from None
