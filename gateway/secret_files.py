"""Secrets made on first use (the audit signing key, the commitment salt), safely when many
processes start together on one volume: workers of ``serve --workers``, replicas."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def create_once(path: Path, data: bytes) -> None:
    """``data`` at ``path`` (mode 0600), unless another process puts a file there first.

    It is written whole beside ``path`` and linked into place, which only the first process
    can do: the others keep none of theirs and read the first one's, and nobody reads a file
    half written (creating ``path`` itself exclusively would let another process read it
    before it is whole, or fail the process that came second).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        os.unlink(draft)
