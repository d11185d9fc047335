"""Audit bundles: a range of the log that an auditor verifies on another machine.

A bundle is a directory:

- ``records.jsonl``: the records of the range, one JSON object a line, as logged;
- ``leaves.txt``: the base64 leaf hash of every record of the log up to the last checkpoint
  (the range's own are recomputed from its records and must match), so that the signed
  roots can be recomputed without the records outside the range;
- ``checkpoints.jsonl``: every signed checkpoint up to the one that covers the range;
- ``log.pub``: the verifier key (C2SP note key) of the log;
- ``manifest.json``: origin, range, counts and when it was made.

``legacy-gateway audit verify BUNDLE`` needs nothing else: no database, no gateway.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.audit.checkpoint import VerifierKey
from gateway.audit.log import AuditLog
from gateway.audit.store import AuditStore
from gateway.audit.verify import NoteIn, Report, verify_log

FORMAT = "legacy-gateway-audit-bundle/1"
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
            handle.write(data + b"\n")
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
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return ExportSummary(out, first, stop, size)


def verify_bundle(
    path: Path, key: VerifierKey | None = None, kept: list[str] | None = None
) -> Report:
    """Verify a bundle (a directory, or the .tar.gz ``GET /v1/audit/export`` gives);
    ``key`` overrides (and is checked against) the bundle's own."""
    if path.is_file():
        return _verify_archive(path, key, kept)
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        bundled = VerifierKey.parse((path / "log.pub").read_text())
        leaves = [
            base64.b64decode(line, validate=True)
            for line in (path / "leaves.txt").read_text().split()
        ]
        notes = [
            NoteIn(item["note"], item.get("size"), None, item.get("at", ""))
            for item in map(json.loads, (path / "checkpoints.jsonl").read_text().splitlines())
        ]
        lines = (path / "records.jsonl").read_bytes().splitlines()
    except FileNotFoundError as exc:
        raise BundleError(f"not a complete bundle: {exc.filename} is missing") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"a file of the bundle {path} is malformed: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path} is not a {FORMAT} bundle")
    report = Report()
    if key is not None and str(key) != str(bundled):
        report.fail("the bundle's log.pub is not the key you trust: its checkpoints are not "
                    "signed by that key")  # fmt: skip
    first = int(manifest["first_index"])
    checked = verify_log(
        ((first + offset, line) for offset, line in enumerate(lines)),
        notes,
        key or bundled,
        first_index=first,
        outside_leaves=leaves,
        kept=kept,
    )
    checked.problems[:0] = report.problems
    if len(lines) != int(manifest["records"]):
        checked.fail(
            f"the manifest lists {manifest['records']} records but records.jsonl holds {len(lines)}"
        )
    return checked


def verify_store(store: AuditStore, key: VerifierKey, kept: list[str] | None = None) -> Report:
    """Verify a live store; records it pruned are covered by their kept leaf hashes."""
    count = store.count()
    pruned = store.pruned_before()
    leaves = store.leaves()
    known = dict(enumerate(leaves))
    notes = [NoteIn(c.note, c.size, c.root, c.at) for c in store.checkpoints()]
    return verify_log(
        _records(store, pruned, count),
        notes,
        key,
        known_leaves=known,
        first_index=pruned,
        pruned_leaves=leaves[:pruned],
        kept=kept,
    )


def _verify_archive(path: Path, key: VerifierKey | None, kept: list[str] | None) -> Report:
    try:
        with tarfile.open(path, "r:gz") as archive, tempfile.TemporaryDirectory() as tmp:
            archive.extractall(tmp, filter="data")  # no links, no paths outside tmp
            inner = [p for p in Path(tmp).iterdir() if p.is_dir()]
            if len(inner) != 1:
                raise BundleError(f"{path} does not hold one bundle directory")
            return verify_bundle(inner[0], key, kept)
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{path} is not a bundle archive: {exc}") from None
