"""Running the API under uvicorn."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import uvicorn

from gateway.api import create_app
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.stores import open_store
from gateway.limits import limits
from gateway.policy.auth import Mode
from gateway.runtime import Gateway
from gateway.trace import configure_from_environment

log = logging.getLogger("legacy_gateway")


def _auth_mode() -> Mode:
    value = os.environ.get("LEGACY_GATEWAY_AUTH", "keys")
    if value not in ("keys", "open"):
        raise SystemExit(f"LEGACY_GATEWAY_AUTH must be 'keys' or 'open', not {value!r}")
    return "open" if value == "open" else "keys"


def _watch_interval() -> float:
    raw = os.environ.get("LEGACY_GATEWAY_WATCH_CONFIG_S", "2")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"LEGACY_GATEWAY_WATCH_CONFIG_S takes seconds, not {raw!r}") from None
    if not value >= 0:
        raise ValueError(f"LEGACY_GATEWAY_WATCH_CONFIG_S takes seconds >= 0, not {raw!r}")
    return value


def quiet_protocol_libraries() -> None:
    """pika logs each step of each (re)connection attempt, with tracebacks, at INFO to ERROR.

    The AMQP adapter logs the state changes of its links itself, once each, and readiness
    and every call's error say the rest; pika's own account would bury the operator's log.
    """
    logging.getLogger("pika").setLevel(logging.CRITICAL)


def run_server(
    config: Path,
    host: str,
    port: int,
    audit_db: Path,
    log_level: str = "info",
    store_url: str | None = None,
    auth: Mode | None = None,
) -> None:
    mode = auth or _auth_mode()

    def build() -> Gateway:
        store = open_store(audit_db, store_url)
        audit_log = AuditLog(store, AuditSettings.from_environment(audit_db))
        gateway = Gateway.from_directory(config, store, audit_log, mode)
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

    configure_from_environment()  # OpenTelemetry export, when an OTLP endpoint is set
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    # Per-request client logs would drown the operator's log; calls are in the record.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quiet_protocol_libraries()
    # Everything that can fail at start-up (the store, the keys, the config, the settings)
    # fails here, as one line, before uvicorn would wrap it in its own traceback.
    try:
        # A changed config directory is validated and served without a restart (0: never).
        watch = _watch_interval()
        limits()
        first: list[Gateway] = [build()]
    except Exception as exc:
        raise SystemExit(f"legacy-gateway cannot start: {' '.join(str(exc).split())}") from None

    def gateway() -> Gateway:
        return first.pop() if first else build()

    uvicorn.run(
        create_app(gateway, watch or None),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        server_header=False,
    )
