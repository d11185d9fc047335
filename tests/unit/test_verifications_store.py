"""The outcomes of ``audit verify`` kept beside the log: the latest is read back whole, and
no row is changed or deleted afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.verifications_store import Verification

OK = Verification("2026-11-30T01:00:00.000000+00:00", "ok", 0, 30, 30, 4, None, None,
                  "ops@host", "--key log.pub")  # fmt: skip
PROBLEM = "record 4 was changed after it was logged"
FAILED = Verification("2026-11-30T02:00:00.000000+00:00", "failed", 0, 30, 30, 4, 4, PROBLEM,
                      "ops@host", "--key log.pub")  # fmt: skip


def test_the_latest_verification_is_read_back_and_rows_stay(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "audit.sqlite")
    try:
        assert store.latest_verification() is None
        store.add_verification(FAILED)
        store.add_verification(OK)  # an earlier one, written late: by its time, not its row
        assert store.latest_verification() == FAILED
        assert FAILED.as_dict()["first_bad_index"] == 4
    finally:
        store.close()
    raw = sqlite3.connect(tmp_path / "audit.sqlite")
    try:
        for statement in ("UPDATE verifications SET result = 'ok'", "DELETE FROM verifications"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(statement)
        assert raw.execute("SELECT count(*) FROM verifications").fetchone() == (2,)
    finally:
        raw.close()
