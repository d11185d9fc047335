"""Several serving processes on one port: one per CPU the container may use.

The parent opens the listening sockets and starts the workers (spawned, so each imports the
gateway afresh); each worker is a whole gateway (its adapters, its audit log) sharing the
store, as replicas do. On Linux each worker has a listening socket of its own on the port
(``SO_REUSEPORT``), all listening before any worker starts: the kernel spreads new connections
over them by their addresses, and a connection to a worker still starting waits in its
socket's queue. On one shared socket, connections go to whichever worker accepts first: an
agent framework that opens its pool of keep-alive connections as soon as the port answers
keeps them all on the first worker up (in a soak of 10 callers, all 10 connections, and 86 %
of the CPU, on one of two workers). Elsewhere the workers share one listening socket.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import NoReturn

from gateway.serving import ServeOptions, check_port_free, serve

log = logging.getLogger("legacy_gateway")

# Where the kernel spreads connections over the sockets of one port (Linux 3.9 on); BSD and
# macOS accept SO_REUSEPORT but give each connection to one socket.
BALANCED = sys.platform == "linux"
BACKLOG = 2048  # uvicorn's
# prometheus_client's multiprocess directory (``gateway.metrics.MULTIPROCESS_ENV``; the
# supervisor does not import the gateway's metrics, nor prometheus_client).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def run_workers(options: ServeOptions, count: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    if BALANCED:
        check_port_free(options.host, options.port)
        try:
            sockets = _listening_sockets(options.host, options.port, count)
        except OSError as exc:
            raise SystemExit(f"cannot listen on {options.host}:{options.port}: {exc}") from None
        options = dataclasses.replace(options, port=sockets[0].getsockname()[1])
    else:
        import uvicorn

        shared = uvicorn.Config(app="", host=options.host, port=options.port).bind_socket()
        sockets = [shared] * count
    # Where the workers keep their metrics, for whichever answers a scrape to add them up
    # (gateway.metrics): set before they start, so before they import prometheus_client.
    os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="legacy-gateway-metrics-")
    try:
        _supervise(options, sockets, count)
    finally:
        shutil.rmtree(os.environ.pop(METRICS_DIR_ENV), ignore_errors=True)


def _supervise(options: ServeOptions, sockets: list[socket.socket], count: int) -> None:
    context = multiprocessing.get_context("spawn")
    workers: list[BaseProcess] = [
        context.Process(target=_worker, args=(options, sockets[n], n), name=f"worker-{n}")
        for n in range(count)
    ]
    stopping = False

    def on_signal(sig: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        # A terminal's Ctrl-C reaches every process of the group already; SIGTERM only us.
        if sig == signal.SIGTERM:
            for worker in workers:
                if worker.pid is not None and worker.is_alive():
                    worker.terminate()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for worker in workers:
        worker.start()
    log.warning(
        "serving with %d worker processes on %s:%d; each keeps its own backends' "
        "max_concurrency and rate_limit (up to %d times them in all)",
        count, options.host, options.port, count,
    )  # fmt: skip
    while not stopping and all(worker.is_alive() for worker in workers):
        time.sleep(0.2)
    if not stopping:
        dead = [w for w in workers if not w.is_alive()]
        log.error("%s exited (%s): stopping the others", dead[0].name, dead[0].exitcode)
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
    for worker in workers:
        worker.join()
    for listening in set(sockets):
        listening.close()
    failed = [w for w in workers if w.exitcode != 0]
    if failed or not stopping:
        sys.exit(1)


def _listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on one port (the first picks it when ``port`` is 0)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sockets.append(listening)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listening.bind((host, sockets[0].getsockname()[1] if len(sockets) > 1 else port))
            listening.listen(BACKLOG)
    except OSError:
        for listening in sockets:
            listening.close()
        raise
    return sockets


def _worker(options: ServeOptions, listening: socket.socket, number: int) -> None:
    serve(options, [listening], number)


def become_supervisor(options: ServeOptions, count: int) -> NoReturn:
    """Replace this process (``os.execv``: the same pid, its environment) with a fresh
    interpreter that runs ``run_workers`` and imports only this module: ``serve`` loaded the
    whole gateway to check the config before starting, and the supervisor would otherwise
    hold it (about 140 MB) for as long as the workers run."""
    fields = {**dataclasses.asdict(options), "config": str(options.config)}
    fields["audit_db"] = str(options.audit_db)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", __name__, json.dumps(fields), str(count)])


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants, read from /proc (Linux): a supervisor and its
    workers, for what measures or stops them as one gateway."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended while the list was read
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def main() -> None:
    fields = json.loads(sys.argv[1])
    fields["config"], fields["audit_db"] = Path(fields["config"]), Path(fields["audit_db"])
    run_workers(ServeOptions(**fields), int(sys.argv[2]))


if __name__ == "__main__":
    main()
