"""Prune statements: the only authority under which records may leave a store.

``audit prune`` signs, with the log's own key, a statement naming the range it removes, the
signed checkpoint that covered it, the age of its newest record and the retention minimum::

    legacy-gateway/audit                     <- origin
    prune 0 18                               <- records 0 to 17 leave the store
    checkpoint 18 t7XQ...base64 root...=     <- the signed root they hash to
    last-record-at 2026-01-02T03:04:05+00:00 <- the newest of them
    older-than 2026-05-29T00:00:00+00:00     <- the cut-off the range is older than
    retention-days 183                       <- the minimum age that was in force
    signed-at 2026-11-29T12:00:00+00:00

and writes it in a ``log.pruned`` record before deleting anything. Its second line is not a
number, so no checkpoint reads as a statement or the other way round. Verification accepts
a store whose first records are missing only when such a record, still in the store, carries
a statement of the trusted key ending exactly there: a row slipped into the ``pruned`` table,
or a log.pruned record written by anyone without the key, authorizes nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from gateway.audit.checkpoint import CheckpointError, Signer, VerifierKey, open_signed
from gateway.audit.merkle import MerkleTree
from gateway.audit.verify import Report

_WORDS = ("prune", "checkpoint", "last-record-at", "older-than", "retention-days", "signed-at")


@dataclass(frozen=True)
class PruneStatement:
    origin: str
    start: int
    end: int
    root: bytes  # of the checkpoint of size ``end``
    last_record_at: dt.datetime
    older_than: dt.datetime
    retention_days: int
    signed_at: dt.datetime

    def text(self) -> str:
        root = base64.b64encode(self.root).decode()
        return (
            f"{self.origin}\nprune {self.start} {self.end}\ncheckpoint {self.end} {root}\n"
            f"last-record-at {self.last_record_at.isoformat()}\n"
            f"older-than {self.older_than.isoformat()}\n"
            f"retention-days {self.retention_days}\nsigned-at {self.signed_at.isoformat()}\n"
        )

    def sign(self, signer: Signer) -> str:
        return signer.sign_text(self.text())

    def body(self, signer: Signer, **extra: Any) -> dict[str, Any]:
        """The ``log.pruned`` record's body: the statement, and its fields to read."""
        return {
            "from_index": self.start,
            "to_index": self.end,
            "checkpoint_size": self.end,
            "checkpoint_root": base64.b64encode(self.root).decode(),
            "last_record_at": self.last_record_at.isoformat(),
            "older_than": self.older_than.isoformat(),
            "retention_days": self.retention_days,
            **extra,
            "statement": self.sign(signer),
        }

    @classmethod
    def parse(cls, text: str) -> PruneStatement:
        lines = text.split("\n")
        if len(lines) != 8 or lines[-1] != "":
            raise ValueError("a prune statement has seven lines")
        origin, *rest = lines[:-1]
        fields: list[list[str]] = []
        for word, line in zip(_WORDS, rest, strict=True):
            name, *values = line.split(" ")
            if name != word:
                raise ValueError(f"line {line!r} should start with {word!r}")
            fields.append(values)
        (start, end), (size, root), (last,), (older,), (days,), (signed,) = fields
        if size != end:
            raise ValueError("the checkpoint named is not the one at the range's end")
        return cls(
            origin,
            _number(start),
            _number(end),
            base64.b64decode(root, validate=True),
            _moment(last),
            _moment(older),
            _number(days),
            _moment(signed),
        )


def _number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or (text != "0" and text.startswith("0")):
        raise ValueError(f"{text!r} is not a decimal number")
    return int(text)


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


def check_prunes(
    report: Report,
    key: VerifierKey,
    leaves: list[bytes],
    *,
    first_present: int | None,
    minimum_days: int,
    marked: int = 0,
) -> None:
    """Every ``log.pruned`` record must carry a valid statement of ``key``; and when the
    store's first records are missing (``first_present`` > 0), one of them must end there,
    as must the store's own pruned mark (``marked``). A prune deletes its range a batch at a
    time from the bottom up, so one stopped partway leaves the store starting inside it."""
    tree = MerkleTree(leaves)
    ranges: set[tuple[int, int]] = set()
    for record in report.prunes:
        where = f"record {record.index} (log.pruned)"
        try:
            statement = _valid_statement(record.body, key)
        except (CheckpointError, ValueError, KeyError, TypeError) as exc:
            report.fail(f"{where} does not carry a valid prune statement: {exc}", record.index)
            continue
        problem = _statement_problem(statement, record.index, tree, minimum_days)
        if problem:
            report.fail(f"{where}: {problem}", record.index)
            continue
        ranges.add((statement.start, statement.end))
    ends = {end for _, end in ranges}
    if first_present and not any(start < first_present <= end for start, end in ranges):
        since = max((end for end in ends if end < first_present), default=0)
        report.fail(
            f"records {since} to {first_present - 1} are missing from the store and no prune "
            f"statement signed by {key.key_id} removed them: they were deleted by hand",
            since,
        )
    if marked and marked not in ends:
        report.fail(
            f"the store marks records below {marked} as pruned, but no prune statement "
            f"signed by {key.key_id} ends there",
            min(marked, first_present or marked),
        )


def _valid_statement(body: dict[str, Any], key: VerifierKey) -> PruneStatement:
    statement = PruneStatement.parse(open_signed(str(body["statement"]), key))
    if statement.origin != key.name:
        raise ValueError(f"it is for log {statement.origin!r}, not {key.name!r}")
    root = base64.b64encode(statement.root).decode()
    said = (body.get("from_index"), body.get("to_index"), body.get("checkpoint_root"))
    if said != (statement.start, statement.end, root):
        raise ValueError("the record's range or root differ from the signed statement's")
    return statement


def _statement_problem(
    statement: PruneStatement, index: int, tree: MerkleTree, minimum_days: int
) -> str:
    if not statement.start < statement.end <= index:
        return f"the range {statement.start} to {statement.end - 1} is not before the record"
    if statement.end > len(tree) or tree.root(statement.end) != statement.root:
        return (
            f"the kept leaves of records 0 to {statement.end - 1} do not hash to the "
            "checkpoint root the statement names"
        )
    if statement.retention_days < minimum_days:
        return (
            f"it pruned under a retention minimum of {statement.retention_days} days, "
            f"below the {minimum_days} required"
        )
    age = dt.timedelta(days=statement.retention_days)
    if not (
        statement.last_record_at < statement.older_than
        and statement.older_than <= statement.signed_at - age
    ):
        return "its records were not older than the retention minimum when they were pruned"
    return ""
