"""Several serving processes on one port: one per CPU the container may use.

The parent binds the listening socket and starts the workers (spawned, so each imports the
gateway afresh); each worker is a whole gateway (its adapters, its audit log) sharing the
store, as replicas do. SIGTERM to the parent (``docker stop``, Kubernetes) is passed to every
worker, which drains as a single process would (``gateway.lifecycle``); the parent exits 0 when
they all did. A worker that dies on its own stops the others: the container restarts whole.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from gateway.serving import ServeOptions, serve

log = logging.getLogger("legacy_gateway")


def run_workers(options: ServeOptions, count: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    listening = uvicorn.Config(app="", host=options.host, port=options.port).bind_socket()
    context = multiprocessing.get_context("spawn")
    workers: list[BaseProcess] = [
        context.Process(target=_worker, args=(options, listening, n), name=f"worker-{n}")
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
    log.warning("serving with %d worker processes on %s:%d", count, options.host, options.port)
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
    listening.close()
    failed = [w for w in workers if w.exitcode != 0]
    if failed or not stopping:
        sys.exit(1)


def _worker(options: ServeOptions, listening: socket.socket, number: int) -> None:
    serve(options, [listening], number)
