"""The mutation suite: every way of tampering with the log is caught, and located.

A log of 30 records over 10 calls is checkpointed every few records; then the SQLite file
(or an exported bundle) is edited behind the gateway's back, as an attacker with write
access to the disk would, triggers dropped where needed.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.audit import sql_store
from gateway.audit.bundle import export_bundle, verify_bundle, verify_store
from gateway.audit.checkpoint import Checkpoint, Signer, VerifierKey
from gateway.audit.log import AuditLog
from gateway.audit.merkle import MerkleTree, verify_inclusion
from gateway.audit.records import canonical, record_leaf
from gateway.audit.retention import prune
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.verify import Report
from tests.security.tamper_store import fill


@dataclass
class Log:
    path: Path
    store: SQLiteStore
    audit: AuditLog

    @property
    def key(self) -> VerifierKey:
        return self.audit.signer.verifier

    def verify(self, kept: list[str] | None = None) -> Report:
        return verify_store(self.store, self.key, kept)

    def sql(self, *statements: str) -> None:
        raw = sqlite3.connect(self.path)
        triggers = raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for (name,) in triggers.fetchall():
            raw.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            raw.execute(statement)
        raw.commit()
        raw.close()

    def data(self, index: int) -> bytes:
        ((_, data),) = self.store.read(index, index + 1)
        return data

    def replace(self, index: int, data: bytes) -> None:
        raw = sqlite3.connect(self.path)
        raw.execute("DROP TRIGGER IF EXISTS records_no_update")
        raw.execute("UPDATE records SET data = ? WHERE idx = ?", (data, index))
        raw.commit()
        raw.close()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    path = tmp_path / "audit.sqlite"
    store = SQLiteStore(path)
    audit = fill(store, tmp_path / "keys")  # checkpoints at 9, 18, 27 and 30 records
    yield Log(path, store, audit)
    store.close()


def test_an_untouched_log_verifies(log: Log) -> None:
    report = log.verify()
    assert report.ok, report.problems
    assert (report.records, report.checkpoints, report.latest_size) == (30, 4, 30)


def test_checkpoints_are_signed_notes_of_the_tree(log: Log) -> None:
    checkpoints = log.store.checkpoints()
    assert [c.size for c in checkpoints] == [9, 18, 27, 30]
    latest = checkpoints[-1]
    origin, size, root, blank, signature = latest.note.split("\n")[:5]
    assert (origin, size, blank) == ("example.org/log", "30", "")
    leaves = [record_leaf(data) for _, data in log.store.read(0, 30)]
    assert base64.b64decode(root) == MerkleTree(leaves).root()
    assert signature.startswith("\u2014 example.org/log ")
    public = (log.path.parent / "keys" / "signing.key.pub").read_text().strip()
    assert public == str(log.key)
    assert (log.path.parent / "keys" / "signing.key").stat().st_mode & 0o777 == 0o600


def test_a_changed_byte_is_found_at_its_record(log: Log) -> None:
    log.replace(12, log.data(12).replace(b'"n":4', b'"n":5'))
    report = log.verify()
    assert not report.ok
    assert report.first_bad_index == 12
    assert "record 12 was changed after it was logged" in report.problems[0]


def test_a_change_that_also_rewrites_the_leaf_is_caught_by_the_signed_root(log: Log) -> None:
    forged = log.data(12).replace(b'"n":4', b'"n":5')
    assert forged != log.data(12)
    log.replace(12, forged)
    log.sql(f"UPDATE leaves SET hash = x'{record_leaf(forged).hex()}' WHERE idx = 12")
    report = log.verify()
    assert not report.ok
    assert report.first_bad_index == 9  # within the records the checkpoint of 18 added
    assert "records 9 to 17 do not hash to the root signed" in report.problems[0]


def test_a_deleted_record_is_named(log: Log) -> None:
    log.sql("DELETE FROM records WHERE idx = 20")
    report = log.verify()
    assert report.first_bad_index == 20
    assert "record 20 is missing" in report.problems[0]


def test_an_inserted_record_is_named(log: Log) -> None:
    log.sql(
        "UPDATE records SET idx = idx + 1000 WHERE idx >= 5",
        "UPDATE records SET idx = idx - 999 WHERE idx >= 1000",
    )
    forged = log.data(0).replace(b'"index":0', b'"index":5')
    log.sql(f"INSERT INTO records VALUES (5, 'x', 'call.intent', 'forged', x'{forged.hex()}')")
    report = log.verify()
    assert report.first_bad_index == 5  # the forged record is not the one logged at 5
    assert "record 5 was changed after it was logged" in report.problems[0]
    assert "record at position 6 says it is record 5" in " ".join(report.problems)


def test_reordered_records_are_named(log: Log) -> None:
    seven, eight = log.data(7), log.data(8)
    log.replace(7, eight)
    log.replace(8, seven)
    report = log.verify()
    assert report.first_bad_index == 7
    assert "records were deleted, inserted or reordered" in report.problems[0]


def test_a_truncated_log_is_caught(log: Log) -> None:
    log.sql("DELETE FROM records WHERE idx >= 25", "DELETE FROM leaves WHERE idx >= 25")
    report = log.verify()
    assert report.first_bad_index == 25
    assert "the log holds 25 records but a checkpoint signed" in report.problems[0]
    assert "covers 27" in report.problems[0]


def test_a_rolled_back_log_is_caught_by_a_checkpoint_kept_earlier(log: Log) -> None:
    kept = log.store.latest_checkpoint()
    assert kept is not None
    log.sql(
        "DELETE FROM records WHERE idx >= 18",
        "DELETE FROM leaves WHERE idx >= 18",
        "DELETE FROM checkpoints WHERE size > 18",
    )
    assert log.verify().ok  # consistent in itself: only an outside checkpoint can tell
    report = log.verify(kept=[kept.note])
    assert not report.ok
    assert "covers 30: records 18 to 29 were removed" in report.problems[0]


def test_two_checkpoints_of_one_size_with_different_roots_are_a_fork(
    log: Log, tmp_path: Path
) -> None:
    signer = Signer.load_or_create(tmp_path / "keys" / "signing.key", "example.org/log")
    fork = signer.sign(Checkpoint("example.org/log", 30, b"\x07" * 32))
    report = log.verify(kept=[fork])
    assert "two checkpoints of size 30 with different roots" in " ".join(report.problems) or (
        "do not hash to the root" in " ".join(report.problems)
    )
    assert not report.ok


def test_a_checkpoint_under_another_key_is_refused(log: Log, tmp_path: Path) -> None:
    other = Signer.load_or_create(tmp_path / "other.key", "example.org/log")
    report = verify_store(log.store, other.verifier)
    assert not report.ok
    assert "carries no signature of key example.org/log" in report.problems[0]


def test_a_forged_signature_is_refused(log: Log) -> None:
    latest = log.store.latest_checkpoint()
    assert latest is not None
    forged = latest.note.replace("\n30\n", "\n31\n")
    log.sql(f"UPDATE checkpoints SET note = '{forged}' WHERE size = 30")
    report = log.verify()
    assert "does not verify" in report.problems[0]


def test_a_missing_field_is_named(log: Log) -> None:
    record = orjson.loads(log.data(4))
    del record["principal"]
    log.replace(4, orjson.dumps(record))
    report = log.verify()
    assert report.first_bad_index == 4
    assert "record 4: missing field(s): principal" in report.problems[0]


def test_the_leaf_is_over_the_rfc8785_form(log: Log) -> None:
    data = log.data(1)  # holds 0.0 and 1.5: JCS writes 0 and 1.5
    assert b'"x":0.0' in data
    assert b'"x":0,' in canonical(data) or b'"x":0}' in canonical(data)


# ------------------------------------------------------------------ bundles


def test_an_exported_bundle_verifies_without_the_store(log: Log, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    summary = export_bundle(log.store, log.audit, out, "6", "15")
    assert (summary.first, summary.end, summary.checkpoint_size) == (6, 15, 30)
    moved = shutil.copytree(out, tmp_path / "elsewhere" / "bundle")
    report = verify_bundle(moved)
    assert report.ok, report.problems
    assert report.records == 9
    lines = (moved / "records.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["index"] for line in lines] == list(range(6, 15))


def test_a_tampered_bundle_is_caught(log: Log, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    export_bundle(log.store, log.audit, out, None, None)
    records = out / "records.jsonl"
    records.write_bytes(records.read_bytes().replace(b'"n":7', b'"n":8', 1))
    report = verify_bundle(out)
    assert not report.ok
    assert report.first_bad_index == 21
    assert "record 21 does not match the leaf hash the bundle lists" in report.problems[0]


def test_a_bundle_checked_against_the_wrong_key_fails(log: Log, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    export_bundle(log.store, log.audit, out, None, None)
    other = Signer.load_or_create(tmp_path / "other.key", "example.org/log").verifier
    report = verify_bundle(out, other)
    assert not report.ok
    assert "not the key you trust" in report.problems[0]


def test_a_record_of_the_log_has_a_proof_against_a_checkpoint(log: Log) -> None:
    proof = log.audit.proof_of_call("call-4")
    checkpoint = proof["checkpoint"]
    assert checkpoint["size"] == 30
    for item in proof["records"]:
        leaf = record_leaf(orjson.dumps(item["record"]))
        assert base64.b64encode(leaf).decode() == item["leaf_hash"]
        verify_inclusion(
            item["index"],
            checkpoint["size"],
            leaf,
            [base64.b64decode(node) for node in item["inclusion_proof"]],
            base64.b64decode(checkpoint["root"]),
        )
    assert [item["index"] for item in proof["records"]] == [12, 13, 14]


# ------------------------------------------------------------------ retention


def test_young_records_are_never_pruned(log: Log, tmp_path: Path) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert prune(log.store, log.audit, tmp_path / "gone", later) is None  # 183 days minimum
    assert log.store.count() == 30 and log.store.pruned_before() == 0


def test_old_records_leave_as_a_verified_checkpointed_range(log: Log, tmp_path: Path) -> None:
    ((_, data),) = log.store.read(20, 21)
    cutoff = dt.datetime.fromisoformat(orjson.loads(data)["at"])
    pruned = prune(log.store, log.audit, tmp_path / "gone", cutoff, minimum_days=0)
    assert pruned is not None
    assert (pruned.start, pruned.end) == (0, 18)  # the last checkpoint before record 20
    assert log.store.read(0, 18) == []
    assert log.store.records_of("call-0") == []
    assert log.store.pruned_before() == 18
    (note,) = log.store.records_of_kind("log.pruned")
    assert (note.body["from_index"], note.body["to_index"]) == (0, 18)

    bundle = verify_bundle(tmp_path / "gone")
    assert bundle.ok and bundle.records == 18
    log.audit.sync()
    report = log.verify()
    assert report.ok, report.problems
    assert report.records == 13  # 18 to 29, and the record of the pruning
    # Proofs of what stayed still verify against the old checkpoints' tree.
    assert log.audit.proof_of_call("call-9")["records"][0]["index"] == 27
    assert prune(log.store, log.audit, tmp_path / "again", cutoff, minimum_days=0) is None
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        sqlite3.connect(log.path).execute("DELETE FROM records WHERE idx = 20")


def test_a_prune_deletes_a_batch_a_transaction_and_one_stopped_halfway_is_finished_later(
    log: Log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway appending beside ``audit prune`` waits for one batch's lock, not the range's."""
    monkeypatch.setattr(sql_store, "PRUNE_BATCH", 5)
    statements: list[str] = []
    log.store._db.set_trace_callback(statements.append)
    ((_, data),) = log.store.read(20, 21)
    cutoff = dt.datetime.fromisoformat(orjson.loads(data)["at"])
    opened = log.store._transaction
    transactions = iter(range(100))

    def killed_in_the_third(*args: Any, **kwargs: Any) -> Any:
        if next(transactions) == 2:  # the mark, one batch, then the process dies
            raise KeyboardInterrupt
        return opened(*args, **kwargs)

    monkeypatch.setattr(log.store, "_transaction", killed_in_the_third)
    with pytest.raises(KeyboardInterrupt):
        prune(log.store, log.audit, tmp_path / "gone", cutoff, minimum_days=0)
    assert log.store.pruned_before() == 18
    assert log.store.first_index() == 5
    log.audit.sync()
    assert log.verify().ok

    monkeypatch.setattr(log.store, "_transaction", opened)
    statements.clear()
    log.store.prune(18)
    # SQLite traces a statement again for each row its triggers run on: one of each here.
    deletes = list(dict.fromkeys(x for x in statements if x.startswith("DELETE")))
    assert deletes == [f"DELETE FROM records WHERE idx < {end}" for end in (10, 15, 18)]
    assert statements.count("COMMIT") == 4  # the mark, then each batch on its own
    assert log.store.first_index() == 18
    report = log.verify()
    assert report.ok, report.problems


def test_unicode_digits_are_not_indexes(log: Log, tmp_path: Path) -> None:
    from gateway.audit.bundle import BundleError

    with pytest.raises(BundleError, match="neither a record index"):
        export_bundle(log.store, log.audit, tmp_path / "x", "\u00b2", None)
