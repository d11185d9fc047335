"""LEGACY_GATEWAY_AUDIT_DURABILITY chooses how SQLite commits the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit.open_store import open_store
from gateway.audit.sqlite_store import SQLiteStore

# SQLite's PRAGMA synchronous answers 1 for NORMAL and 2 for FULL.
NORMAL, FULL = 1, 2


def synchronous(store: object) -> int:
    assert isinstance(store, SQLiteStore)
    value: int = store._db.execute("PRAGMA synchronous").fetchone()[0]
    return value


@pytest.mark.parametrize(("setting", "expected"), [(None, NORMAL), ("normal", NORMAL),
                                                   ("full", FULL), (" FULL ", FULL)])  # fmt: skip
def test_the_setting_chooses_the_commit_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: int
) -> None:
    if setting is None:
        monkeypatch.delenv("LEGACY_GATEWAY_AUDIT_DURABILITY", raising=False)
    else:
        monkeypatch.setenv("LEGACY_GATEWAY_AUDIT_DURABILITY", setting)
    for store in (
        open_store(tmp_path / "a.sqlite"),
        open_store(tmp_path / "b.sqlite", f"sqlite:///{tmp_path / 'c.sqlite'}"),
    ):
        try:
            assert synchronous(store) == expected
        finally:
            store.close()


def test_an_unknown_mode_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_AUDIT_DURABILITY", "paranoid")
    with pytest.raises(SystemExit, match="normal or full, not 'paranoid'"):
        open_store(tmp_path / "a.sqlite")
    assert not (tmp_path / "a.sqlite").exists()
