"""Starting the estate and the gateway as separate processes for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The process id behind each base URL started here (benchmarks read their CPU time), and
# when it was launched (``time.perf_counter``; start-up times count from it).
PIDS: dict[str, int] = {}
LAUNCHED: dict[str, float] = {}
# How long each stopped process took from SIGTERM to its exit, in seconds.
STOPPED: dict[str, float] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not come up within {seconds} s")


@contextmanager
def _running(
    command: list[str], base: str, env: dict[str, str] | None = None, seconds: float = 30
) -> Iterator[str]:
    """Run a server process until the block ends; yield its base URL once /healthz answers."""
    LAUNCHED[base] = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    PIDS[base] = proc.pid
    try:
        wait_http(f"{base}/healthz", seconds)
        yield base
    finally:
        PIDS.pop(base, None)
        LAUNCHED.pop(base, None)
        stopping = time.perf_counter()
        proc.terminate()
        proc.wait(30)  # a stopping gateway drains its calls in flight (20 s at most)
        STOPPED[base] = time.perf_counter() - stopping


@contextmanager
def estate_process() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "estate", "--port", str(port)]
    with _running(command, f"http://127.0.0.1:{port}") as base:
        yield base


@contextmanager
def pg_schema(server: str, prefix: str) -> Iterator[str]:
    """A store URL on a schema of its own on the PostgreSQL ``server``, dropped afterwards."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        yield f"{server}?schema={schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def bench_server(script: str, *args: str) -> Iterator[str]:
    """One of the benchmarks' own servers (``_bare_asgi.py``, ``_bare_proxy.py``) on a free
    port, given its arguments after the port: its base URL; its process id is ``PIDS[base]``."""
    port = free_port()
    command = [sys.executable, str(Path(__file__).parent / script), str(port), *args]
    with _running(command, f"http://127.0.0.1:{port}") as base:
        yield base


@contextmanager
def gateway_process(
    config: Path,
    env: dict[str, str],
    scopes: str,
    *,
    workers: int = 0,
    audit_db: Path | None = None,
    launcher: list[str] | None = None,
) -> Iterator[tuple[str, str]]:
    """``serve`` as a user runs it by default (API keys, full log on SQLite): its base URL,
    and a key for ``scopes``; its process id is ``PIDS[base]``. The log is ``audit_db`` (a
    file in a directory of its own otherwise); ``launcher`` replaces the ``legacy-gateway``
    command (the soak's traced one); ``workers`` is ``serve --workers``."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = str(audit_db or Path(tmp) / "audit.sqlite")
        environment = {
            **os.environ, "LEGACY_GATEWAY_AUTH": "keys", **env, "LEGACY_GATEWAY_AUDIT_DB": log,
        }  # fmt: skip
        key = subprocess.run(
            [str(BIN / "legacy-gateway"), "keys", "create", "--agent", "bench", "--scopes", scopes,
             "--audit-db", log],
            capture_output=True, text=True, check=True, env=environment,
        ).stdout.strip()  # fmt: skip
        command = [*(launcher or [str(BIN / "legacy-gateway")]), "serve", "--config", str(config),
                   "--port", str(port), "--log-level", "warning",
                   *(["--workers", str(workers)] if workers else [])]  # fmt: skip
        # Spawned workers import slowly.
        with _running(command, f"http://127.0.0.1:{port}", environment, 90) as base:
            yield base, key


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) spent so far by a process and every live descendant of it."""
    return sum(cpu_times(pid))


def _process_stats() -> Iterator[tuple[int, str, list[str]]]:
    """Every process's id, command name and the ``/proc/PID/stat`` fields after the name."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name may itself hold spaces and parentheses.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        yield int(entry.name), name, stat[stat.rindex(")") + 2 :].split()


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time spent so far by a process and every live descendant of it:
    system time is the kernel's work for it (socket and file syscalls, page faults)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, tuple[float, float]] = {}
    for child, _, fields in _process_stats():
        children.setdefault(int(fields[1]), []).append(child)
        times[child] = (int(fields[11]) / tick, int(fields[12]) / tick)
    user, system, pending = 0.0, 0.0, [pid]
    while pending:
        current = pending.pop()
        spent = times.get(current, (0.0, 0.0))
        user, system = user + spent[0], system + spent[1]
        pending.extend(children.get(current, []))
    return user, system


def command_cpu_seconds(name: str) -> float:
    """CPU time spent so far by every process running ``name`` (a server's, e.g.
    ``postgres``), with its children that have exited: theirs is their parent's once it
    reaps them."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum(
        sum(int(value) for value in fields[11:15]) / tick
        for _, command, fields in _process_stats()
        if command == name
    )


@contextmanager
def order_host(url: str, exchange: str) -> Iterator[None]:
    """The order-processing host on the broker, answering at once, on an exchange of its own."""
    host = subprocess.Popen(
        [sys.executable, "-m", "estate.orders", "--url", url, "--exchange", exchange,
         "--delay", "0", "--transient"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert host.stdout is not None
        line = host.stdout.readline()
        if "consuming" not in line:
            raise SystemExit(f"the order host did not start: {line.strip()}")
        yield
    finally:
        host.terminate()
        host.wait(10)
