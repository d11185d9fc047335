"""The one way CLI commands open the audit store."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from gateway.audit.records import RecordContext
from gateway.cli.store import audit_store
from gateway.errors import AuditUnavailable


def test_a_reading_command_names_a_missing_store_and_makes_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.sqlite"

    with pytest.raises(typer.Exit) as stopped, audit_store(missing):
        pass

    assert stopped.value.exit_code == 2
    assert capsys.readouterr().err == (
        f"error [gateway_error]: no audit store at {missing} (set --audit-db or --store)\n"
    )
    assert not missing.exists()


def test_a_sqlite_url_names_the_file_that_must_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    present, missing = tmp_path / "present.sqlite", tmp_path / "missing.sqlite"

    with pytest.raises(typer.Exit), audit_store(present, f"sqlite:///{missing}"):
        pass

    assert f"no audit store at {missing}" in capsys.readouterr().err


def test_a_url_of_no_known_kind_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as stopped, audit_store(Path("x"), "mysql://root@db/x"):
        pass

    assert stopped.value.exit_code == 2
    assert "--store takes postgresql://" in capsys.readouterr().err


def test_a_writing_command_makes_the_store_and_it_is_closed_after(tmp_path: Path) -> None:
    path = tmp_path / "new" / "audit.sqlite"
    path.parent.mkdir()

    with audit_store(path, create=True) as store:
        store.append("test.made", None, {"n": 1}, RecordContext(principal="cli"))
    with audit_store(path) as again:
        assert [r.kind for r in again.records_of_kind("test.made")] == ["test.made"]

    with pytest.raises(AuditUnavailable, match="closed database"):
        store.count()


def test_the_store_is_closed_when_the_command_fails_inside(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"

    with pytest.raises(RuntimeError), audit_store(path, create=True) as store:
        raise RuntimeError("the command's own failure")

    with pytest.raises(AuditUnavailable, match="closed database"):
        store.count()
