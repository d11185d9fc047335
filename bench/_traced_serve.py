"""``legacy-gateway`` under tracemalloc: the first SIGUSR1 starts tracing, each later one
writes a snapshot of the heap.

``python bench/_traced_serve.py DIR serve ...`` runs the CLI with the arguments after DIR;
the snapshots go to ``DIR/<n>.snapshot`` (the soak's ``--trace`` compares them). Tracing
starts late so that start-up (imports, the config) runs at full speed and is not in the
snapshots. Only single-process serving is traced: spawned workers do not inherit the handler.
"""

from __future__ import annotations

import itertools
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType


def main() -> None:
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    counter = itertools.count()

    def dump(signum: int, frame: FrameType | None) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(10)
            return
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(directory / f"{next(counter):04d}.snapshot"))

    signal.signal(signal.SIGUSR1, dump)
    from gateway.cli import app

    sys.argv = ["legacy-gateway", *sys.argv[2:]]
    app()


if __name__ == "__main__":
    main()
