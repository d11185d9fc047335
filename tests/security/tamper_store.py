"""What a person with write access to an audit store can do to it, as a table of mutations.

Each mutation edits the store's tables directly (SQLite file or PostgreSQL schema), the way
someone with the database's credentials or the file's write permission would, and says where
``audit verify`` must locate it and which words its first finding must hold. The suites for
SQLite and PostgreSQL run every mutation twice: with the triggers in place (those they can
refuse are refused, and the log still verifies) and with the triggers dropped (verify finds
it, at the right record).

The log under attack: 30 records over 10 calls, checkpointed at 9, 18, 27 and 30 records.
"""

from __future__ import annotations

import base64
import datetime as dt
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.audit.bundle import verify_store
from gateway.audit.checkpoint import Checkpoint, Signer, VerifierKey
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.merkle import MerkleTree
from gateway.audit.pruning import PruneStatement
from gateway.audit.records import RecordContext, record_leaf
from gateway.audit.retention import prune
from gateway.audit.store import AuditStore
from gateway.audit.tree_store import STRIDE
from gateway.audit.verdict import checked_range
from gateway.audit.verify import Report

ORIGIN = "example.org/log"
SIZES = [9, 18, 27, 30]


def fill(store: AuditStore, key_dir: Path) -> AuditLog:
    """Ten calls of three records, checkpointed at 9, 18, 27 and 30."""
    audit = AuditLog(store, AuditSettings(key_dir / "signing.key", ORIGIN))
    for call in range(10):
        context = RecordContext(f"{call:032x}", f"{call:016x}", "agent", "sha256:v1")
        store.append("call.intent", f"call-{call}", {"tool": "t", "n": call}, context)
        store.append_many(
            [
                ("interaction", f"call-{call}", {"request": {"x": call * 1.5}}),
                ("call.outcome", f"call-{call}", {"status": "ok", "result": {"n": call}}),
            ],
            context,
        )
        if call % 3 == 2:
            audit.sync()
    audit.sync()
    assert [c.size for c in store.checkpoints()] == SIZES
    return audit


def prune_to_18(store: AuditStore, audit: AuditLog, archive: Path) -> None:
    """Prunes a filled log by age up to record 20: the first 18 (the checkpoint below) go."""
    ((_, data),) = store.read(20, 21)
    cutoff = dt.datetime.fromisoformat(orjson.loads(data)["at"])
    pruned = prune(store, audit, archive, cutoff, minimum_days=0)
    assert pruned is not None and (pruned.start, pruned.end) == (0, 18)
    audit.sync()


def pruned_and_verified(store: AuditStore, audit: AuditLog, archive: Path) -> Report:
    """``prune_to_18``, then the store verified under no retention minimum: it checks out."""
    prune_to_18(store, audit, archive)
    report = verify_store(store, audit.signer.verifier, minimum_days=0)
    assert report.ok, report.problems
    assert checked_range(report).startswith("records 18\u201330 of a log of 31 signed by ")
    return report


class Raw(ABC):
    """Direct access to a store's tables, beside the gateway, as an attacker has it."""

    @abstractmethod
    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Execute statements (``?`` marks) in one transaction."""

    @abstractmethod
    def drop_triggers(self) -> None: ...

    @abstractmethod
    def one(self, sql: str, *params: Any) -> Any: ...

    def data(self, index: int) -> bytes:
        return bytes(self.one("SELECT data FROM records WHERE idx = ?", index))

    def leaf(self, index: int) -> bytes:
        return bytes(self.one("SELECT hash FROM leaves WHERE idx = ?", index))

    def set_head(self, size: int) -> tuple[str, tuple[Any, ...]] | None:
        """The statement that moves the store's own count, where it keeps one."""
        return None


class RawSQLite(Raw):
    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        raw = sqlite3.connect(self.path, isolation_level=None)
        try:
            raw.execute("BEGIN")
            for sql, params in statements:
                raw.execute(sql, params)
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        finally:
            raw.close()

    def drop_triggers(self) -> None:
        raw = sqlite3.connect(self.path)
        for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            raw.execute(f"DROP TRIGGER {name}")
        raw.commit()
        raw.close()

    def one(self, sql: str, *params: Any) -> Any:
        raw = sqlite3.connect(self.path)
        try:
            return raw.execute(sql, params).fetchone()[0]
        finally:
            raw.close()


Statement = tuple[str, tuple[Any, ...]]


def q(sql: str, *params: Any) -> Statement:
    return (sql, params)


@dataclass(frozen=True)
class Attack:
    """Where the first finding must be, and words it must hold."""

    name: str
    mutate: Callable[[Raw, Signer], list[Statement]]
    located: int
    says: str
    triggers_refuse: bool = True


def _replace(raw: Raw, index: int, data: bytes) -> Statement:
    return q("UPDATE records SET data = ? WHERE idx = ?", data, index)


def _forge(raw: Raw, index: int) -> bytes:
    return raw.data(index).replace(b'"n":4', b'"n":5')


def _forged_prune(raw: Raw, signer: Signer | None, end: int) -> list[Statement]:
    """A log.pruned record appended at the tail, its pruned row, and the head deleted."""
    leaves = [raw.leaf(i) for i in range(end)]
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    statement = PruneStatement(ORIGIN, 0, end, MerkleTree(leaves).root(), old, old, 183,
                               dt.datetime.now(dt.UTC))  # fmt: skip
    body: dict[str, Any] = {"from_index": 0, "to_index": end}
    if signer is not None:
        body = statement.body(signer)
    record = {
        "index": 30, "at": "2026-01-01T00:00:00+00:00", "kind": "log.pruned", "call_id": None,
        "trace_id": None, "span_id": None, "principal": None, "config_version": None,
        "body": body,
    }  # fmt: skip
    return [
        q("INSERT INTO records VALUES (30, ?, 'log.pruned', NULL, ?)", record["at"],
          orjson.dumps(record)),
        q("INSERT INTO pruned VALUES (?, 'now')", end),
        q("DELETE FROM records WHERE idx < ?", end),
    ]  # fmt: skip


def resign(raw: Raw, signer: Signer) -> list[Statement]:
    """Record 12 rewritten, its leaf and the stored subtree hashes over it too, and every
    checkpoint signed again by ``signer``."""
    forged = _forge(raw, 12)
    leaves = [raw.leaf(i) for i in range(30)]
    leaves[12] = record_leaf(forged)
    tree = MerkleTree(leaves)
    statements = [
        _replace(raw, 12, forged),
        q("UPDATE leaves SET hash = ? WHERE idx = 12", leaves[12]),
    ]
    for level in range(STRIDE, len(leaves).bit_length(), STRIDE):  # the subtrees over it
        index = 12 >> level
        if (index + 1) << level <= len(leaves):
            statements.append(
                q("UPDATE nodes SET hash = ? WHERE level = ? AND idx = ?",
                  tree.complete(level, index), level, index)
            )  # fmt: skip
    for size in SIZES:
        note = signer.sign(Checkpoint(ORIGIN, size, tree.root(size)))
        statements.append(
            q("UPDATE checkpoints SET root = ?, note = ? WHERE size = ?", tree.root(size), note,
              size)
        )  # fmt: skip
    return statements


def _dup_key(raw: Raw) -> list[Statement]:
    # The same leaf for a lenient parser that keeps the last value; another keeps the first.
    data = raw.data(12).replace(b'"body":{', b'"body":{"n":999,', 1)
    return [_replace(raw, 12, data)]


def _non_canonical(raw: Raw) -> list[Statement]:
    data = raw.data(12).replace(b'"tool":"t"', b'"tool":"\\u0074"')
    return [_replace(raw, 12, data)]


def _unknown_field(raw: Raw) -> list[Statement]:
    data = raw.data(12)[:-1] + b',"approved_by":"ceo"}'
    return [_replace(raw, 12, data)]


def _insert_middle(raw: Raw) -> list[Statement]:
    forged = raw.data(0).replace(b'"index":0', b'"index":5')
    return [
        q("UPDATE records SET idx = idx + 1000 WHERE idx >= 5"),
        q("UPDATE records SET idx = idx - 999 WHERE idx >= 1000"),
        q("INSERT INTO records VALUES (5, 'x', 'call.intent', 'forged', ?)", forged),
    ]


def _truncate(raw: Raw, size: int, checkpoints_too: bool) -> list[Statement]:
    statements = [
        q("DELETE FROM records WHERE idx >= ?", size),
        q("DELETE FROM leaves WHERE idx >= ?", size),
    ]
    if checkpoints_too:
        statements.append(q("DELETE FROM checkpoints WHERE size > ?", size))
    head = raw.set_head(size)
    return statements + ([head] if head else [])


def _other_checkpoint(signer: Signer) -> list[Statement]:
    note = signer.sign(Checkpoint(ORIGIN, 29, b"\x07" * 32))
    return [q("INSERT INTO checkpoints VALUES (29, ?, 'now', ?)", b"\x07" * 32, note)]


ATTACKS = [
    Attack(
        "rewrite a record",
        lambda r, s: [_replace(r, 12, _forge(r, 12))],
        12,
        "record 12 was changed after it was logged",
    ),
    Attack(
        "rewrite a record and its leaf",
        lambda r, s: [
            _replace(r, 12, _forge(r, 12)),
            q("UPDATE leaves SET hash = ? WHERE idx = 12", record_leaf(_forge(r, 12))),
        ],
        9,
        "records 9 to 17 do not hash to the root signed",
    ),
    Attack(
        "forge a leaf",
        lambda r, s: [q("UPDATE leaves SET hash = ? WHERE idx = 12", b"\x01" * 32)],
        12,
        "record 12 was changed",
    ),
    Attack(
        "delete a leaf",
        lambda r, s: [q("DELETE FROM leaves WHERE idx = 12")],
        12,
        "leaf hash of record 12 was deleted",
    ),
    Attack(
        "delete a record",
        lambda r, s: [q("DELETE FROM records WHERE idx = 20")],
        20,
        "record 20 is missing",
    ),
    Attack(
        "insert a record",
        lambda r, s: _insert_middle(r),
        5,
        "record 5 was changed after it was logged",
    ),
    Attack(
        "reorder records",
        lambda r, s: [_replace(r, 7, r.data(8)), _replace(r, 8, r.data(7))],
        7,
        "records were deleted, inserted or reordered",
    ),
    Attack("duplicate JSON keys", lambda r, s: _dup_key(r), 12, "duplicate key 'n'"),
    Attack(
        "non-canonical encoding",
        lambda r, s: _non_canonical(r),
        12,
        "not encoded as the form the log writes",
    ),
    Attack("unknown field", lambda r, s: _unknown_field(r), 12, "unknown field(s): approved_by"),
    Attack(
        "delete the head",
        lambda r, s: [q("DELETE FROM records WHERE idx < 9")],
        0,
        "records 0 to 8 are missing from the store and no prune statement",
    ),
    Attack(
        "fake a prune with a pruned row",
        lambda r, s: [
            q("INSERT INTO pruned VALUES (9, 'now')"),
            q("DELETE FROM records WHERE idx < 9"),
        ],
        0,
        "records 0 to 8 are missing from the store and no prune statement",
    ),
    Attack(
        "mark records pruned without deleting",
        lambda r, s: [q("INSERT INTO pruned VALUES (9, 'now')")],
        9,
        "marks records below 9 as pruned",
    ),
    Attack(
        "fake a prune with an unsigned log.pruned record",
        lambda r, s: _forged_prune(r, None, 9),
        0,
        "records 0 to 8 are missing",
        triggers_refuse=False,
    ),
    Attack(
        "fake a prune signed by another key",
        lambda r, s: _forged_prune(r, s, 9),
        0,
        "records 0 to 8 are missing",
        triggers_refuse=False,
    ),
    Attack(
        "drop the tail, keep its checkpoints",
        lambda r, s: _truncate(r, 25, False),
        25,
        "the log holds 25 records but a checkpoint signed",
    ),
    Attack(
        "forge a checkpoint's signature",
        lambda r, s: [
            q(
                "UPDATE checkpoints SET note = replace(note, ?, ?) WHERE size = 30",
                "\n30\n",
                "\n31\n",
            )
        ],
        27,
        "does not verify",
    ),
    Attack(
        "re-sign every checkpoint with another key",
        resign,
        0,
        "carries no signature of key example.org/log",
    ),
    Attack(
        "add a checkpoint signed by another key",
        lambda r, s: _other_checkpoint(s),
        30,
        "checkpoint of size 29",
        triggers_refuse=False,
    ),
]


def refused_or_located(
    attack: Attack,
    store: AuditStore,
    audit: AuditLog,
    raw: Raw,
    other: Signer,
    refusal: type[BaseException],
) -> None:
    """The attack is refused whole by the store's append-only triggers where it sets them off
    (``refusal``: what the driver raises then), and, once run past them, caught by the
    verifier at the record the attack names."""
    key = audit.signer.verifier
    statements = attack.mutate(raw, other)
    if attack.triggers_refuse:
        with pytest.raises(refusal, match="append-only"):
            raw.run(*statements)
        assert verify(store, key).ok  # refused whole: nothing changed
        raw.drop_triggers()
    raw.run(*statements)
    report = verify(store, key)
    assert not report.ok
    assert report.first_bad_index == attack.located, report.problems
    assert attack.says in report.problems[0], report.problems


def verify(store: AuditStore, key: VerifierKey, kept: list[str] | None = None) -> Report:
    return verify_store(store, key, kept, anchor="test key", minimum_days=183)


def leaf_b64(leaf: bytes) -> str:
    return base64.b64encode(leaf).decode()
