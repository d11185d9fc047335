"""No false accepts: any one byte of any record changed, in a bundle or in the store, fails
verification at that record (hypothesis picks the record, the byte and its new value)."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit.bundle import export_bundle, verify_bundle
from gateway.audit.checkpoint import VerifierKey
from gateway.audit.sqlite_store import SQLiteStore
from tests.security.tamper_store import fill, verify

# A record (of the 30), a place in it (a fraction of its length) and the byte to put there.
one_byte_changed = given(st.integers(0, 29), st.floats(0, 1, exclude_max=True), st.integers(0, 255))
examples = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def changed(data: bytes, where: float, value: int) -> tuple[bytes, int]:
    """``data`` with the byte at ``where`` set to ``value`` (or the next one, if it held it)."""
    out = bytearray(data)
    position = int(where * len(out))
    if out[position] == value:
        value = (value + 1) % 256
    out[position] = value
    return bytes(out), value


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, VerifierKey]:
    base = tmp_path_factory.mktemp("log")
    store = SQLiteStore(base / "audit.sqlite")
    audit = fill(store, base / "keys")
    export_bundle(store, audit, base / "bundle", None, None)
    store.close()
    return base / "audit.sqlite", base / "bundle", audit.signer.verifier


@examples
@one_byte_changed
def test_one_byte_changed_in_a_bundle_record_is_caught_there(
    made: tuple[Path, Path, VerifierKey], record: int, where: float, value: int
) -> None:
    _, original, key = made
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(shutil.copytree(original, Path(tmp) / "bundle"))
        lines = (bundle / "records.jsonl").read_bytes().split(b"\n")
        lines[record], value = changed(lines[record], where, value)
        (bundle / "records.jsonl").write_bytes(b"\n".join(lines))
        report = verify_bundle(bundle, key)
    assert not report.ok
    if value not in (0x0A, 0x0D):  # a new line break is the file's fault, not the record's
        assert report.first_bad_index == record, report.problems


@examples
@one_byte_changed
def test_one_byte_changed_in_a_stored_record_is_caught_there(
    made: tuple[Path, Path, VerifierKey], record: int, where: float, value: int
) -> None:
    original, _, key = made
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(shutil.copy(original, Path(tmp) / "audit.sqlite"))
        raw = sqlite3.connect(path)
        for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            raw.execute(f"DROP TRIGGER {name}")
        data = raw.execute("SELECT data FROM records WHERE idx = ?", (record,)).fetchone()[0]
        data, value = changed(data, where, value)
        raw.execute("UPDATE records SET data = ? WHERE idx = ?", (data, record))
        raw.commit()
        raw.close()
        store = SQLiteStore(path)
        try:
            report = verify(store, key)
        finally:
            store.close()
    assert not report.ok
    assert report.first_bad_index == record, report.problems
