"""Tampering with the SQLite store: every mutation refused by the triggers where they can
refuse it, and caught and located by ``audit verify`` once they are dropped."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.audit.bundle import verify_store
from gateway.audit.checkpoint import Signer
from gateway.audit.log import AuditLog
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.verdict import checked_range
from tests.security.tamper_store import (
    ATTACKS,
    ORIGIN,
    Attack,
    RawSQLite,
    fill,
    prune_to_18,
    pruned_and_verified,
    q,
    refused_or_located,
    verify,
)


@dataclass
class Log:
    store: SQLiteStore
    audit: AuditLog
    raw: RawSQLite


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    store = SQLiteStore(tmp_path / "audit.sqlite")
    audit = fill(store, tmp_path / "keys")
    yield Log(store, audit, RawSQLite(tmp_path / "audit.sqlite"))
    store.close()


@pytest.fixture
def other(tmp_path: Path) -> Signer:
    return Signer.load_or_create(tmp_path / "other" / "signing.key", ORIGIN)


def test_the_untouched_log_verifies(log: Log) -> None:
    report = verify(log.store, log.audit.signer.verifier)
    assert report.ok, report.problems
    assert checked_range(report).startswith("records 0\u201329 of a log of 30 signed by ")


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_a_mutation_is_refused_or_caught_and_located(
    attack: Attack, log: Log, other: Signer
) -> None:
    refused_or_located(attack, log.store, log.audit, log.raw, other, sqlite3.DatabaseError)


def test_a_legitimate_prune_verifies_and_names_its_range(log: Log, tmp_path: Path) -> None:
    report = pruned_and_verified(log.store, log.audit, tmp_path / "gone")
    key = log.audit.signer.verifier
    (statement,) = report.prunes
    assert statement.body["to_index"] == 18 and "statement" in statement.body
    # A verifier that demands the 183-day minimum refuses a prune made under 0 days.
    strict = verify(log.store, key)
    assert strict.first_bad_index == 0
    assert "records 0 to 17 are missing from the store" in strict.problems[0]
    assert strict.problems[1] == (
        "record 30 (log.pruned): it pruned under a retention minimum of 0 days, below the "
        "183 required"
    )


def test_deleting_past_a_legitimate_prune_is_caught_where_it_starts(
    log: Log, tmp_path: Path
) -> None:
    prune_to_18(log.store, log.audit, tmp_path / "gone")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        log.raw.run(q("DELETE FROM records WHERE idx < 21"))
    log.raw.drop_triggers()
    log.raw.run(q("DELETE FROM records WHERE idx < 21"))
    report = verify_store(log.store, log.audit.signer.verifier, minimum_days=0)
    assert report.first_bad_index == 18
    assert "records 18 to 20 are missing from the store" in report.problems[0]


def test_a_rolled_back_log_shows_its_range_and_fails_against_a_kept_checkpoint(
    log: Log,
) -> None:
    kept = log.store.latest_checkpoint()
    assert kept is not None
    log.raw.drop_triggers()
    log.raw.run(
        q("DELETE FROM records WHERE idx >= 18"),
        q("DELETE FROM leaves WHERE idx >= 18"),
        q("DELETE FROM checkpoints WHERE size > 18"),
    )
    key = log.audit.signer.verifier
    alone = verify(log.store, key)
    assert alone.ok  # consistent in itself, but the range shows the cut
    assert checked_range(alone).startswith("records 0\u201317 of a log of 18 ")
    report = verify(log.store, key, [kept.note])
    assert report.first_bad_index == 18
    assert "covers 30: records 18 to 29 were removed" in report.problems[0]


def test_a_record_appended_by_hand_is_shown_unsigned(log: Log) -> None:
    forged = log.raw.data(29).replace(b'"index":29', b'"index":30')
    log.raw.run(q("INSERT INTO records VALUES (30, 'x', 'call.outcome', 'call-9', ?)", forged))
    report = verify(log.store, log.audit.signer.verifier)
    assert report.ok and report.latest_size == 30 and report.end == 31
    assert "(1 newer record(s) not checkpointed yet)" in checked_range(report)


def test_the_triggers_guard_every_log_table(log: Log, tmp_path: Path) -> None:
    prune_to_18(log.store, log.audit, tmp_path / "gone")
    for sql in (
        "UPDATE pruned SET end_idx = 1",
        "DELETE FROM pruned",
        "INSERT INTO leaves VALUES (40, x'00')",
        "INSERT INTO checkpoints VALUES (40, x'00', 'now', 'note')",
        "INSERT INTO records VALUES (40, 'x', 'k', NULL, x'7b7d')",
        "INSERT INTO records VALUES (3, 'x', 'k', NULL, x'7b7d')",
        "INSERT INTO pruned VALUES (25, 'now')",
        "DELETE FROM records WHERE idx = 18",
    ):
        with pytest.raises(sqlite3.IntegrityError):
            log.raw.run(q(sql))


def test_a_prune_interrupted_after_its_statement_still_verifies(
    log: Log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(end: int) -> None:
        raise OSError("killed before the deletion")

    monkeypatch.setattr(log.store, "prune", crash)
    with pytest.raises(OSError, match="killed"):
        prune_to_18(log.store, log.audit, tmp_path / "gone")
    monkeypatch.undo()
    (statement,) = log.store.records_of_kind("log.pruned")
    assert statement.body["to_index"] == 18 and log.store.read(0, 1) != []
    report = verify_store(log.store, log.audit.signer.verifier, minimum_days=0)
    assert report.ok, report.problems  # a statement with nothing gone yet is no harm
