"""Running the API under uvicorn.

The gateway itself (the app, the adapters, the audit log) is imported by ``serve``, in the
process that serves: the parent of ``serve --workers`` imports only this module and
``gateway.workers``, and stays small while its workers run.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config.directory import ConfigDirectory
    from gateway.policy.auth import Mode
    from gateway.runtime import Gateway

log = logging.getLogger("legacy_gateway")


def _auth_mode() -> Mode:
    value = os.environ.get("LEGACY_GATEWAY_AUTH", "keys")
    if value not in ("keys", "open"):
        raise SystemExit(f"LEGACY_GATEWAY_AUTH must be 'keys' or 'open', not {value!r}")
    return "open" if value == "open" else "keys"


def quiet_protocol_libraries() -> None:
    """pika logs each step of each (re)connection attempt, with tracebacks, at INFO to ERROR.

    The AMQP adapter logs the state changes of its links itself, once each, and readiness
    and every call's error say the rest; pika's own account would bury the operator's log.
    The MCP SDK's stateless transport logs "Terminating session: None" at INFO after every
    request to /mcp, which says nothing (there are no sessions) once per agent message, and
    its session manager that it started, when the first agent message loads it.
    """
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
    logging.getLogger("mcp.server.streamable_http_manager").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ServeOptions:
    """What ``legacy-gateway serve`` was asked for; picklable, for worker processes."""

    config: Path
    host: str
    port: int
    audit_db: Path
    log_level: str
    store_url: str | None
    auth: Mode


def run_server(
    config: Path,
    host: str,
    port: int,
    audit_db: Path,
    log_level: str = "info",
    store_url: str | None = None,
    auth: Mode | None = None,
    loaded: ConfigDirectory | None = None,
) -> None:
    """Serve ``config``; ``loaded``, when the caller has loaded it already (to fail fast),
    is served as it is rather than loaded again. Workers load their own: a caller that loaded
    it becomes their supervisor afresh (``become_supervisor``) rather than keep it."""
    options = ServeOptions(config, host, port, audit_db, log_level, store_url, auth or _auth_mode())
    workers = workers_from_environment()
    if workers == 1:
        check_port_free(host, port)
        serve(options, loaded=loaded)
        return
    from gateway.workers import become_supervisor, run_workers

    if loaded is not None:
        become_supervisor(options, workers)
    run_workers(options, workers)


def workers_from_environment() -> int:
    """``LEGACY_GATEWAY_WORKERS``: serving processes on the one port (Kubernetes sets it from
    the CPU limit, which it rounds up to whole CPUs)."""
    value = os.environ.get("LEGACY_GATEWAY_WORKERS", "1")
    try:
        workers = int(value)
    except ValueError:
        raise SystemExit(f"LEGACY_GATEWAY_WORKERS must be a whole number, not {value!r}") from None
    if not 1 <= workers <= 64:
        raise SystemExit(f"LEGACY_GATEWAY_WORKERS must be between 1 and 64, not {workers}")
    return workers


def serve(
    options: ServeOptions,
    sockets: list[socket.socket] | None = None,
    worker: int | None = None,
    loaded: ConfigDirectory | None = None,
) -> None:
    """One serving process; with ``sockets``, on a listening socket its parent bound.

    ``worker`` numbers the processes sharing one port, so each holds a lease of its own name
    and none takes another's calls in flight for a crash's leftovers. The config directory
    is loaded (its registry built) once, here at the start unless ``loaded`` is given, and
    that is what the first gateway serves and watches.
    """
    import uvicorn

    from adapters.installed import INSTALLED
    from gateway.api import create_app
    from gateway.audit.log import AuditLog, AuditSettings
    from gateway.audit.open_store import open_store
    from gateway.config.directory import ConfigDirectory
    from gateway.lifecycle import Drain, DrainGuard, DrainingServer, grace_from_environment
    from gateway.limits import env_seconds, limits
    from gateway.recovery import Lifetimes, Recovery, instance_name
    from gateway.runtime import Gateway

    _prepare_process()
    config, audit_db, store_url, mode = (
        options.config, options.audit_db, options.store_url, options.auth
    )  # fmt: skip
    try:
        lifetimes = Lifetimes.from_environment()
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    name = instance_name(options.port) + ("" if worker is None else f"/worker-{worker}")

    def build(directory: ConfigDirectory | None = None) -> Gateway:
        store = open_store(audit_db, store_url)
        audit_log = AuditLog(store, AuditSettings.from_environment(audit_db))
        recovery = Recovery(store, name, lifetimes)
        source = (
            directory
            if directory is not None
            else ConfigDirectory.load(config, INSTALLED, audit_log.commitments)
        )
        gateway = Gateway(source, store, audit_log, mode, recovery)
        if mode == "open":
            log.warning(
                "OPEN MODE: no API keys are checked; anyone who reaches this port can call "
                "every tool. For a local demo only (LEGACY_GATEWAY_AUTH=keys turns keys on)."
            )
        elif not any(key.revoked_at is None for key in store.list_keys()):
            log.warning(
                "no API key exists yet: every call is refused with 401. Create one with "
                "`legacy-gateway keys create --agent NAME --scopes 'TOOL_GLOB,...'`"
            )
        log.warning(
            "serving %d tool(s) from %s (config %s); calls recorded in %s",
            len(gateway.tools),
            config,
            gateway.config.version[:19],
            store.display,
        )
        return gateway

    # Everything that can fail at start-up (the store, the keys, the config, the settings)
    # fails here, as one line, before uvicorn would wrap it in its own traceback.
    try:
        # A changed config directory is validated and served without a restart (0: never).
        watch = env_seconds("LEGACY_GATEWAY_WATCH_CONFIG_S", 2)
        limits()
        first: list[Gateway] = [build(loaded)]
    except Exception as exc:
        raise SystemExit(f"legacy-gateway cannot start: {' '.join(str(exc).split())}") from None

    def gateway() -> Gateway:
        return first.pop() if first else build()

    drain = Drain(grace_from_environment())
    server = DrainingServer(
        uvicorn.Config(
            DrainGuard(create_app(gateway, watch or None), drain),
            host=options.host,
            port=options.port,
            log_level=options.log_level,
            access_log=False,
            server_header=False,
            # The drain has already waited for calls in flight; this is for the stragglers.
            timeout_graceful_shutdown=2,
        ),
        drain,
    )
    server.run(sockets)
    if not server.started:
        sys.exit(3)  # as uvicorn.run: the app failed to start (the log says why)


def _prepare_process() -> None:
    """What a serving process sets up before its gateway: memory, tracing, logging."""
    from gateway.memory import limit_malloc_arenas, start_trimming
    from gateway.trace import configure_from_environment

    # Before the serving threads start: arenas already made are not given back.
    limit_malloc_arenas()
    try:
        start_trimming()
    except ValueError as exc:
        raise SystemExit(f"legacy-gateway cannot start: {exc}") from None
    configure_from_environment()  # OpenTelemetry export, when an OTLP endpoint is set
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    # Per-request client logs would drown the operator's log; calls are in the record.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quiet_protocol_libraries()


def check_port_free(host: str, port: int) -> None:
    """Refuse to start when the port is taken: the instance name is host:port, and a second
    process of one name would take the first one's calls in flight for a crash's leftovers."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: connections of a previous life in TIME_WAIT do not hold the port,
        # while a process listening on it still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"cannot listen on {host}:{port}: {exc}") from None
