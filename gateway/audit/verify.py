"""Checking a log offline: every record, every leaf, every checkpoint and its signature.

The same checks run on a live store and on an exported bundle, with nothing but the records,
the checkpoints and the public key:

1. each checkpoint is a well-formed signed note, signed by the given key, for the log's
   origin; no two checkpoints of one size carry different roots;
2. each record is a complete audit record (every field present) and says it is the record
   at its position, so a deleted, inserted or moved record is named where it happens;
3. each record's leaf (SHA-256 over its RFC 8785 form) matches the leaf integrated when it
   was logged, where that is known, so a changed byte is named at its record;
4. the tree of all leaves has, at every checkpoint's size, the signed root, so a change that
   also rewrote the stored leaves is caught within the records that checkpoint added;
5. no checkpoint (nor one an auditor kept from earlier, ``--checkpoint``) covers more
   records than the log holds: a truncated or rolled-back log is caught;
6. each record is strict JSON (no duplicate keys) in the exact bytes of its form, so no two
   readers can see two different records behind one leaf.

A problem is located at the first record it touches; one that no record shows (a signature
that does not verify) is located at the first record no trusted checkpoint covers.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.audit.checkpoint import CheckpointError, VerifierKey, open_note
from gateway.audit.merkle import MerkleTree, leaf_hash
from gateway.audit.records import Form, RecordError, StoredRecord, decode_strict, record_leaf
from gateway.audit.tree_store import Node

PRUNE_KIND = "log.pruned"


@dataclass(frozen=True)
class NoteIn:
    """A checkpoint as a store or bundle holds it: its note, and what it says it covers."""

    note: str
    size: int | None = None
    root: bytes | None = None
    at: str = ""


@dataclass
class Report:
    records: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_index: int | None = None
    latest_size: int = 0
    first_index: int = 0  # the range of records checked: first_index to end - 1
    end: int = 0
    proven: int = 0  # records 0 to proven - 1 hash to a checkpoint of the trusted key
    key_id: str = ""
    anchor: str = ""  # where the trusted key came from; empty: none, only consistency checked
    prunes: list[StoredRecord] = field(default_factory=list)
    offered_fingerprint: str = ""  # of the key the log itself carries
    first_bad_file: str | None = None  # a bundle file at fault, where no record is

    @property
    def ok(self) -> bool:
        """Consistent in itself under the key it was checked with."""
        return not self.problems

    @property
    def trusted(self) -> bool:
        """Consistent, and signed by a key the verifier trusts."""
        return self.ok and bool(self.anchor)

    def fail(self, problem: str, index: int | None = None, *, exact: bool = True) -> None:
        """Note a problem; ``index`` is the record it is at (or, not exact, near). The
        problem at the first bad record leads the list."""
        if index is not None and (
            self.first_bad_index is None or (exact and index < self.first_bad_index)
        ):
            self.first_bad_index = index
            self.problems.insert(0, problem)
        else:
            self.problems.append(problem)


def verify_log(
    records: Iterable[tuple[int, bytes]],
    notes: list[NoteIn],
    key: VerifierKey,
    *,
    known_leaves: dict[int, bytes] | None = None,
    first_index: int = 0,
    outside_leaves: list[bytes] | None = None,
    pruned_leaves: list[bytes] | None = None,
    kept: list[str] | None = None,
    form: Form = "stored",
) -> Report:
    """Check a log (or a range of it, with the leaf hashes of the rest given).

    ``records`` are (position, stored bytes) from ``first_index`` on; ``known_leaves`` the
    leaf hashes the log integrated; ``outside_leaves`` every leaf hash of the whole log, for
    a bundle that holds only part of the records; ``pruned_leaves`` the leaf hashes of the
    records a store pruned (those before ``first_index``); ``kept`` checkpoints an auditor
    saved; ``form`` the exact encoding records must have (see ``decode_strict``).
    """
    report = Report(first_index=first_index, end=first_index, key_id=key.key_id)
    checkpoints = _open_checkpoints(notes, key, report)
    for note in kept or []:
        try:
            checkpoint = open_note(note, key)
        except CheckpointError as exc:
            report.fail(f"the kept checkpoint does not verify: {exc}")
            continue
        checkpoints.append((checkpoint.size, checkpoint.root, "kept by the auditor"))

    if outside_leaves is not None:
        leaves = list(outside_leaves)
    else:
        leaves = list(pruned_leaves or [])
        if len(leaves) != first_index:
            report.fail(f"the leaves of the {first_index} pruned records are not all kept")
    count = first_index
    for position, data in records:
        if position != count:
            report.fail(f"record {count} is missing (the next one is at {position})", count)
        count = position + 1
        report.records += 1
        try:
            record = decode_strict(data, form)
        except RecordError as exc:
            report.fail(f"record {position}: {exc}", position)
            leaf = _leaf_of_whatever(data)
        else:
            if record.kind == PRUNE_KIND:
                report.prunes.append(record)
            if record.index != position:
                report.fail(
                    f"record at position {position} says it is record {record.index}: "
                    "records were deleted, inserted or reordered",
                    position,
                )
            # Canonical bytes were just checked to be exactly that: they are what is hashed.
            leaf = leaf_hash(data) if form == "canonical" else record_leaf(data)
        logged = (known_leaves or {}).get(position)
        if logged is not None and logged != leaf:
            report.fail(
                f"record {position} was changed after it was logged: its content no longer "
                "matches its leaf hash",
                position,
            )
        if outside_leaves is not None:
            if position >= len(leaves):
                report.fail(f"record {position} lies beyond the leaves the bundle lists", position)
                continue
            if leaves[position] != leaf:
                report.fail(
                    f"record {position} does not match the leaf hash the bundle lists for it",
                    position,
                )
            leaves[position] = leaf
        else:
            leaves.append(leaf)
    report.end = count
    report.proven = _check_roots(MerkleTree(leaves), len(leaves), checkpoints, report)
    locate(report)
    return report


def check_subtrees(report: Report, leaves: list[bytes], stored: Iterable[Node]) -> None:
    """The subtree hashes the live log keeps for its proofs must be those of the leaves.

    A wrong one forges nothing (a proof built from it fails against the signed root), but
    the log would serve proofs that do not verify. Found after the records' own problems,
    so those keep the lead; hashes over leaves no longer there are the truncation's.
    """
    tree = MerkleTree(leaves)
    for level, index, digest in stored:
        first, end = index << level, (index + 1) << level
        if end <= len(leaves) and tree.complete(level, index) != digest:
            report.fail(
                f"the stored hash of records {first} to {end - 1} (kept for proofs) does not "
                "match their leaf hashes",
                first,
                exact=False,
            )


def locate(report: Report) -> None:
    """A problem no record shows is placed at the first record no trusted root covers
    (unless a bundle file is to blame and every record is covered)."""
    if report.first_bad_file and report.proven >= report.end:
        return
    if report.problems and report.first_bad_index is None:
        report.first_bad_index = max(report.proven, report.first_index)


def _leaf_of_whatever(data: bytes) -> bytes:
    """A leaf for a malformed record, so the records after it keep their places."""
    try:
        return record_leaf(data)
    except ValueError:  # not JSON at all
        return leaf_hash(data)
    except RecursionError:
        return leaf_hash(data)


def _open_checkpoints(
    notes: list[NoteIn], key: VerifierKey, report: Report
) -> list[tuple[int, bytes, str]]:
    opened: list[tuple[int, bytes, str]] = []
    roots: dict[int, bytes] = {}
    for note in notes:
        where = f"checkpoint of size {note.size}" if note.size is not None else "a checkpoint"
        where += f" (signed {note.at})" if note.at else ""
        try:
            checkpoint = open_note(note.note, key)
        except CheckpointError as exc:
            report.fail(f"{where}: {exc}")
            continue
        if checkpoint.origin != key.name:
            report.fail(f"{where} is for log '{checkpoint.origin}', not '{key.name}'")
            continue
        if (note.size is not None and note.size != checkpoint.size) or (
            note.root is not None and note.root != checkpoint.root
        ):
            report.fail(f"{where}: the stored size or root differ from the signed ones")
            continue
        earlier = roots.get(checkpoint.size)
        if earlier is not None and earlier != checkpoint.root:
            report.fail(
                f"two checkpoints of size {checkpoint.size} with different roots: the log "
                "was forked"
            )
            continue
        roots[checkpoint.size] = checkpoint.root
        report.checkpoints += 1
        report.latest_size = max(report.latest_size, checkpoint.size)
        opened.append((checkpoint.size, checkpoint.root, note.at or "at an unknown time"))
    return opened


def _check_roots(
    tree: MerkleTree, size: int, checkpoints: list[tuple[int, bytes, str]], report: Report
) -> int:
    """The end of the prefix the trusted checkpoints prove."""
    proven = 0
    for checkpoint_size, root, signed in sorted(checkpoints):
        if checkpoint_size > size:
            report.fail(
                f"the log holds {size} records but a checkpoint signed {signed} covers "
                f"{checkpoint_size}: records {size} to {checkpoint_size - 1} were removed "
                "(truncated or rolled back)",
                size,
                exact=False,
            )
            continue
        if tree.root(checkpoint_size) != root:
            report.fail(
                f"records {proven} to {checkpoint_size - 1} do not hash to the root signed "
                f"{signed} for size {checkpoint_size}: one of them was changed",
                proven,
                exact=False,
            )
            continue
        proven = checkpoint_size
    if size and not checkpoints:
        report.fail("no checkpoint signs any of these records")
    return proven


def root_b64(root: bytes) -> str:
    return base64.b64encode(root).decode()
