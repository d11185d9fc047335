"""Audit bundles: a range of the log that an auditor verifies on another machine.

A bundle is a directory of exactly these files:

- ``records.jsonl``: the records of the range, one a line, in RFC 8785 canonical form (the
  bytes each leaf hashes);
- ``leaves.txt``: the base64 leaf hash of every record of the log up to the last checkpoint
  (the range's own are recomputed from its records and must match), so that the signed
  roots can be recomputed without the records outside the range;
- ``checkpoints.jsonl``: every signed checkpoint up to the one that covers the range;
- ``log.pub``: the verifier key (C2SP note key) of the log;
- ``manifest.json``: origin, range, counts and when it was made;
- ``manifest.sig``: a signed note of the manifest's SHA-256, by the log's key.

``legacy-gateway audit verify BUNDLE --key KEY`` needs nothing else: no database, no
gateway. Every file is untrusted input (``gateway.audit.bundle_files``), and the bundle's own
``log.pub`` is only a claim: a trust anchor (``gateway.audit.trust``) says which key counts.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.audit.bundle_files import (
    FORMAT,
    HASHED,
    BundleFileError,
    check_file_set,
    file_digest,
    lines_of,
    manifest_note_text,
    read_checkpoints,
    read_key,
    read_leaves,
    read_manifest,
)
from gateway.audit.checkpoint import CheckpointError, VerifierKey, open_signed
from gateway.audit.log import AuditLog
from gateway.audit.pruning import check_prunes
from gateway.audit.records import canonical
from gateway.audit.store import AuditStore, MissingLeaf
from gateway.audit.trust import Anchor, UntrustedKey, choose_anchor
from gateway.audit.verify import NoteIn, Report, check_subtrees, locate, verify_log

READ_CHUNK = 5_000


class BundleError(ValueError):
    """A bundle that cannot be made or read; the message names the file."""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    first: int
    end: int
    checkpoint_size: int


def _records(store: AuditStore, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    for chunk in range(start, stop, READ_CHUNK):
        yield from store.read(chunk, min(stop, chunk + READ_CHUNK))


def index_at(store: AuditStore, when: str, count: int, low: int = 0) -> int:
    """The first record logged at or after ``when`` (an index, a date or an ISO time),
    searching the records from ``low`` (the first one a store still holds) on."""
    if when.isascii() and when.isdigit():
        return min(int(when), count)
    try:
        moment = dt.datetime.fromisoformat(when)
    except ValueError:
        raise BundleError(f"'{when}' is neither a record index nor an ISO date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    high = count
    while low < high:  # records are in time order: binary search on their time
        middle = (low + high) // 2
        (_, data), *_ = store.read(middle, middle + 1)
        at = dt.datetime.fromisoformat(orjson.loads(data)["at"])
        if at < moment:
            low = middle + 1
        else:
            high = middle
    return low


def export_bundle(
    store: AuditStore, log: AuditLog, out: Path, start: str | None, end: str | None
) -> ExportSummary:
    checkpoint = log.sync()
    if checkpoint is None:
        raise BundleError("the log is empty: there is nothing to export")
    size = checkpoint.size
    pruned = store.pruned_before()
    first = max(index_at(store, start, size, pruned) if start else 0, pruned)
    stop = index_at(store, end, size, pruned) if end else size
    if first >= stop:
        raise BundleError(f"no records between {start or 'the start'} and {end or 'the end'}")
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not empty; pick a new directory")
    out.mkdir(parents=True, exist_ok=True)
    with (out / "records.jsonl").open("wb") as handle:
        for _, data in _records(store, first, stop):
            handle.write(canonical(data) + b"\n")
    (out / "leaves.txt").write_text(
        "".join(base64.b64encode(leaf).decode() + "\n" for leaf in store.leaves()[:size])
    )
    with (out / "checkpoints.jsonl").open("wb") as handle:
        for item in store.checkpoints():
            if item.size <= size:
                line = {"size": item.size, "at": item.at, "note": item.note}
                handle.write(orjson.dumps(line) + b"\n")
    (out / "log.pub").write_text(f"{log.signer.verifier}\n")
    manifest = {
        "format": FORMAT,
        "origin": log.origin,
        "first_index": first,
        "end_index": stop,
        "records": stop - first,
        "checkpoint_size": size,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": {name: file_digest((out / name).read_bytes()) for name in HASHED},
    }
    text = (json.dumps(manifest, indent=2) + "\n").encode()
    (out / "manifest.json").write_bytes(text)
    (out / "manifest.sig").write_text(log.signer.sign_text(manifest_note_text(log.origin, text)))
    return ExportSummary(out, first, stop, size)


def verify_bundle(
    path: Path,
    key: VerifierKey | None = None,
    kept: list[str] | None = None,
    *,
    fingerprint: str | None = None,
    pinned: list[VerifierKey] | None = None,
    key_source: str = "--key",
    minimum_days: int = 0,
) -> Report:
    """Verify a bundle (a directory, or the .tar.gz ``GET /v1/audit/export`` gives).

    ``key``, ``fingerprint`` or ``pinned`` keys anchor trust (``gateway.audit.trust``); with
    none, the report is consistent at best, and its ``anchor`` is empty. A problem with a
    file rather than a record names the file in ``first_bad_file``.
    """
    if path.is_file():
        return _verify_archive(path, key, kept, fingerprint, pinned, key_source, minimum_days)
    report = Report()
    try:
        check_file_set(path)
        offered = read_key((path / "log.pub").read_bytes())
        report.key_id = offered.key_id
        report.offered_fingerprint = offered.fingerprint
        try:
            anchor = choose_anchor(offered, key=key, key_source=key_source,
                                   fingerprint=fingerprint, pinned=pinned)  # fmt: skip
        except UntrustedKey as exc:
            report.fail(str(exc), 0)
            report.first_bad_file = "log.pub"
            return report
        checked = _verify_files(path, anchor, kept, minimum_days)
        checked.offered_fingerprint = offered.fingerprint
    except BundleFileError as exc:
        report.fail(str(exc))
        report.first_bad_file = exc.file
        return report
    except OSError as exc:
        raise BundleError(f"cannot read the bundle {path}: {exc}") from None
    if str(anchor.key) != str(offered):
        checked.fail(
            f"the bundle's log.pub ({offered.key_id}) is not the key you trust "
            f"({anchor.key.key_id}): its checkpoints are not signed by that key",
        )
        checked.problems.insert(0, checked.problems.pop())
        checked.first_bad_file = "log.pub"
        locate(checked)
    return checked


def _verify_files(path: Path, anchor: Anchor, kept: list[str] | None, minimum_days: int) -> Report:
    manifest_bytes = (path / "manifest.json").read_bytes()
    unsigned: BundleFileError | None = None
    try:
        signed = open_signed((path / "manifest.sig").read_text(), anchor.key)
    except (CheckpointError, UnicodeDecodeError) as exc:
        unsigned = BundleFileError("manifest.sig", f"the manifest's signature: {exc}")
    else:
        if signed != manifest_note_text(anchor.key.name, manifest_bytes):
            unsigned = BundleFileError("manifest.json", "changed since it was signed")
    # An unsigned manifest is still read (strictly), so the records can say where it breaks.
    manifest = read_manifest(manifest_bytes)
    if manifest.origin != anchor.key.name:
        raise BundleFileError("manifest.json", f"origin {manifest.origin!r} is not the key's")
    leaves = read_leaves((path / "leaves.txt").read_bytes(), manifest.checkpoint_size)
    items = read_checkpoints((path / "checkpoints.jsonl").read_bytes())
    if max((item["size"] for item in items), default=0) != manifest.checkpoint_size:
        raise BundleFileError(
            "checkpoints.jsonl", f"the checkpoints do not end at the manifest's size "
            f"{manifest.checkpoint_size}",
        )  # fmt: skip
    lines = lines_of((path / "records.jsonl").read_bytes(), "records.jsonl")
    first = manifest.first_index
    report = verify_log(
        ((first + offset, line) for offset, line in enumerate(lines)),
        [NoteIn(item["note"], item["size"], None, item["at"]) for item in items],
        anchor.key,
        first_index=first,
        outside_leaves=leaves,
        kept=kept,
        form="canonical",
    )
    if len(lines) < manifest.records:
        report.fail(
            f"records.jsonl holds {len(lines)} records; the manifest lists {manifest.records}: "
            f"records {first + len(lines)} to {manifest.end_index - 1} are missing",
            first + len(lines),
        )
    elif len(lines) > manifest.records:
        report.fail(
            f"records.jsonl holds {len(lines)} records; the manifest lists {manifest.records}: "
            f"record {manifest.end_index} on are extra",
            manifest.end_index,
        )
    check_prunes(report, anchor.key, leaves, first_present=None, minimum_days=minimum_days)
    report.anchor = anchor.source
    for name in HASHED:
        if file_digest((path / name).read_bytes()) != manifest.files[name]:
            report.fail(f"{name}: changed since the manifest was signed")
            if report.first_bad_index is None and report.first_bad_file is None:
                report.first_bad_file = name
    if unsigned is not None:
        report.problems.insert(0, str(unsigned))
        report.first_bad_file = unsigned.file
    locate(report)
    return report


def verify_store(
    store: AuditStore,
    key: VerifierKey,
    kept: list[str] | None = None,
    *,
    anchor: str = "the key given",
    minimum_days: int = 0,
) -> Report:
    """Verify a live store. Records missing at its head must have left through a prune
    statement signed by ``key``; their kept leaf hashes stand in for them."""
    count = store.count()
    first = store.first_index()
    try:
        leaves = store.leaves()
    except MissingLeaf as exc:
        report = Report(first_index=first, end=count, key_id=key.key_id)
        report.fail(f"the leaf hash of record {exc.index} was deleted from the store", exc.index)
        return report
    notes = [NoteIn(c.note, c.size, c.root, c.at) for c in store.checkpoints()]
    report = verify_log(
        _records(store, first, count),
        notes,
        key,
        known_leaves=dict(enumerate(leaves)),
        first_index=first,
        pruned_leaves=leaves[:first],
        kept=kept,
    )
    check_prunes(
        report, key, leaves, first_present=first, minimum_days=minimum_days,
        marked=store.pruned_before(),
    )  # fmt: skip
    check_subtrees(report, leaves, store.subtree_hashes())
    report.anchor = anchor
    locate(report)
    return report


def _verify_archive(
    path: Path,
    key: VerifierKey | None,
    kept: list[str] | None,
    fingerprint: str | None,
    pinned: list[VerifierKey] | None,
    key_source: str,
    minimum_days: int,
) -> Report:
    try:
        with tarfile.open(path, "r:gz") as archive, tempfile.TemporaryDirectory() as tmp:
            archive.extractall(tmp, filter="data")  # no links, no paths outside tmp
            inner = os.listdir(tmp)
            if len(inner) != 1 or not (Path(tmp) / inner[0]).is_dir():
                raise BundleError(f"{path} does not hold one bundle directory and nothing else")
            return verify_bundle(
                Path(tmp) / inner[0], key, kept, fingerprint=fingerprint, pinned=pinned,
                key_source=key_source, minimum_days=minimum_days,
            )  # fmt: skip
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{path} is not a bundle archive: {exc}") from None
