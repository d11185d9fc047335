"""Workers and replicas starting together on a fresh volume all end up with one signing key
and one commitment salt, whole, and none of them fails for coming second."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from gateway.audit.checkpoint import Signer
from gateway.mapping.redaction import Commitments
from gateway.secret_files import create_once

RACERS = 8


def _race(make: object, rounds: int = 20) -> None:
    """Run ``make(i)`` on ``RACERS`` threads released at once, ``rounds`` times."""
    assert callable(make)
    for number in range(rounds):
        barrier = threading.Barrier(RACERS)
        failures: list[BaseException] = []

        def run(
            index: int,
            number: int = number,
            barrier: threading.Barrier = barrier,
            failures: list[BaseException] = failures,
        ) -> None:
            barrier.wait()
            try:
                make(number, index)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures


def test_processes_starting_together_share_one_signing_key(tmp_path: Path) -> None:
    keys: dict[int, set[str]] = {}

    def make(number: int, index: int) -> None:
        signer = Signer.load_or_create(tmp_path / str(number) / "audit-signing.key", "gw")
        keys.setdefault(number, set()).add(str(signer.verifier))

    _race(make)
    assert all(len(found) == 1 for found in keys.values()) and len(keys) == 20
    key = tmp_path / "0" / "audit-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert set(os.listdir(key.parent)) == {"audit-signing.key", "audit-signing.key.pub"}


def test_processes_starting_together_share_one_salt(tmp_path: Path) -> None:
    ids: dict[int, set[str]] = {}

    def make(number: int, index: int) -> None:
        commitments = Commitments.load_or_create(tmp_path / str(number) / "commitment.salt")
        ids.setdefault(number, set()).add(commitments.installation_id())

    _race(make)
    assert all(len(found) == 1 for found in ids.values()) and len(ids) == 20


def test_a_file_already_there_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    create_once(path, b"first")
    create_once(path, b"second")
    assert path.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["secret"]  # no draft left behind
