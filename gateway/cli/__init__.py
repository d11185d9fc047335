"""The ``legacy-gateway`` command: one module a command group, all on one root ``app``.

Importing the modules registers their commands; the order here is the order ``--help``
lists the top-level commands in.
"""

from __future__ import annotations

import os

# isort: off
# The config commands (validate, tools, call, map) register before serve and demo.
from gateway.cli import tools, serving
from gateway.cli import calls, imports, audit, keys, config, experiments

# isort: on
from gateway.cli.common import app

__all__ = ["app", "main"]

# Registered for their side effect on ``app``; named so that linters see them used.
_COMMAND_GROUPS = (tools, calls, imports, audit, keys, config, experiments, serving)


def main() -> None:  # pragma: no cover - console script entry
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
