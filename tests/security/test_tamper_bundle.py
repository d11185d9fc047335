"""Tampering with an exported bundle: every file is the attacker's to edit, and the bundle's
own key is the attacker's to replace. Verified against the log's real key, every mutation is
caught and located (the first record at fault, or the file where no record is); without a
trusted key a consistent forgery is never reported as trusted."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from gateway.audit.bundle import BundleError, export_bundle, verify_bundle
from gateway.audit.bundle_files import HASHED, file_digest, manifest_note_text
from gateway.audit.checkpoint import Checkpoint, Signer, VerifierKey
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.merkle import MerkleTree
from gateway.audit.records import record_leaf
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.verdict import EXIT_FAILED, EXIT_OK, EXIT_UNTRUSTED, checked_range, verdict
from tests.security.tamper_store import ORIGIN, RawSQLite, fill, q


@dataclass
class Bundle:
    path: Path
    key: VerifierKey
    other: Signer

    def lines(self, name: str) -> list[bytes]:
        return (self.path / name).read_bytes().splitlines()

    def write_lines(self, name: str, lines: list[bytes]) -> None:
        (self.path / name).write_bytes(b"".join(line + b"\n" for line in lines))

    def edit_line(self, name: str, number: int, edit: Callable[[bytes], bytes]) -> None:
        lines = self.lines(name)
        changed = edit(lines[number])
        assert changed != lines[number]
        lines[number] = changed
        self.write_lines(name, lines)

    def manifest(self) -> dict[str, object]:
        value: dict[str, object] = json.loads((self.path / "manifest.json").read_text())
        return value

    def write_manifest(self, manifest: dict[str, object], signer: Signer | None = None) -> None:
        text = (json.dumps(manifest, indent=2) + "\n").encode()
        (self.path / "manifest.json").write_bytes(text)
        if signer is not None:
            note = signer.sign_text(manifest_note_text(ORIGIN, text))
            (self.path / "manifest.sig").write_text(note)

    def resign(self, records: list[bytes]) -> None:
        """Rewrite the bundle around ``records`` (the whole log from 0) under another key:
        leaves, checkpoints, manifest, signature and log.pub all consistent again."""
        leaves = [record_leaf(line) for line in records]
        tree = MerkleTree(leaves)
        self.write_lines("records.jsonl", records)
        self.write_lines("leaves.txt", [base64.b64encode(leaf) for leaf in leaves])
        sizes = [size for size in (9, 18, 27, 30) if size < len(leaves)] + [len(leaves)]
        checkpoints = [
            orjson.dumps({"size": size, "at": "2026-01-01T00:00:00+00:00",
                          "note": self.other.sign(Checkpoint(ORIGIN, size, tree.root(size)))})
            for size in sizes
        ]  # fmt: skip
        self.write_lines("checkpoints.jsonl", checkpoints)
        (self.path / "log.pub").write_text(f"{self.other.verifier}\n")
        manifest = self.manifest()
        manifest["files"] = {name: file_digest((self.path / name).read_bytes()) for name in HASHED}
        manifest.update(end_index=len(records), records=len(records),
                        checkpoint_size=len(records))  # fmt: skip
        self.write_manifest(manifest, self.other)


@pytest.fixture
def bundle(tmp_path: Path) -> Iterator[Bundle]:
    store = SQLiteStore(tmp_path / "audit.sqlite")
    audit = fill(store, tmp_path / "keys")
    export_bundle(store, audit, tmp_path / "bundle", None, None)
    store.close()
    other = Signer.load_or_create(tmp_path / "other" / "signing.key", ORIGIN)
    yield Bundle(tmp_path / "bundle", audit.signer.verifier, other)


def _swap(lines: list[bytes], a: int, b: int) -> list[bytes]:
    lines[a], lines[b] = lines[b], lines[a]
    return lines


def _rewrite_record_and_leaf(b: Bundle) -> None:
    b.edit_line("records.jsonl", 21, lambda line: line.replace(b'"n":7', b'"n":8'))
    leaf = record_leaf(b.lines("records.jsonl")[21])
    b.edit_line("leaves.txt", 21, lambda _: base64.b64encode(leaf))


def _resign_changed(b: Bundle) -> None:
    records = b.lines("records.jsonl")
    records[12] = records[12].replace(b'"n":4', b'"n":5')
    b.resign(records)


@dataclass(frozen=True)
class Mutation:
    name: str
    mutate: Callable[[Bundle], None]
    located: int | None
    file: str | None
    says: str


RECORDS = "records.jsonl"
MUTATIONS = [
    Mutation("rewrite a record", lambda b: b.edit_line(
        RECORDS, 21, lambda line: line.replace(b'"n":7', b'"n":8')), 21, None,
        "record 21 does not match the leaf hash the bundle lists"),
    Mutation("rewrite a record and its leaf", _rewrite_record_and_leaf, 18, None,
             "records 18 to 26 do not hash to the root signed"),
    Mutation("forge a leaf", lambda b: b.edit_line(
        "leaves.txt", 3, lambda _: base64.b64encode(b"\x01" * 32)), 3, None,
        "record 3 does not match the leaf hash"),
    Mutation("delete a record", lambda b: b.write_lines(
        RECORDS, b.lines(RECORDS)[:10] + b.lines(RECORDS)[11:]), 10, None,
        "record at position 10 says it is record 11"),
    Mutation("insert a record", lambda b: b.write_lines(
        RECORDS, b.lines(RECORDS)[:6] + b.lines(RECORDS)[5:]), 6, None,
        "record at position 6 says it is record 5"),
    Mutation("reorder records", lambda b: b.write_lines(RECORDS, _swap(b.lines(RECORDS), 7, 8)),
             7, None, "record at position 7 says it is record 8"),
    Mutation("duplicate JSON keys", lambda b: b.edit_line(
        RECORDS, 12, lambda line: line.replace(b'"body":{', b'"body":{"n":999,')), 12, None,
        "record 12: duplicate key 'n'"),
    Mutation("keys out of canonical order", lambda b: b.edit_line(
        RECORDS, 12, lambda line: line.replace(b'{"n":4,"tool":"t"}', b'{"tool":"t","n":4}')),
        12, None, "record 12: not encoded as RFC 8785 canonical JSON"),
    Mutation("a number not in canonical form", lambda b: b.edit_line(
        RECORDS, 10, lambda line: line.replace(b'"x":4.5', b'"x":4.50')), 10, None,
        "record 10: not encoded as RFC 8785 canonical JSON"),
    Mutation("an unknown field", lambda b: b.edit_line(
        RECORDS, 12, lambda line: line[:-1] + b',"zz":1}'), 12, None,
        "record 12: unknown field(s): zz"),
    Mutation("drop the tail", lambda b: b.write_lines(RECORDS, b.lines(RECORDS)[:25]), 25, None,
             "records 25 to 29 are missing"),
    Mutation("drop the tail and fix the manifest", lambda b: (
        b.write_lines(RECORDS, b.lines(RECORDS)[:25]),
        b.write_manifest({**b.manifest(), "end_index": 25, "records": 25})), None,
        "manifest.json", "manifest.json: changed since it was signed"),
    Mutation("drop the tail and re-sign with another key",
             lambda b: b.resign(b.lines(RECORDS)[:25]), 0, "log.pub",
             "the bundle's log.pub (example.org/log+"),
    Mutation("rewrite a record and re-sign with another key", _resign_changed, 0, "log.pub",
             "is not the key you trust"),
    Mutation("replace log.pub", lambda b: (b.path / "log.pub").write_text(
        f"{b.other.verifier}\n"), None, "log.pub", "is not the key you trust"),
    Mutation("edit the manifest", lambda b: b.write_manifest(
        {**b.manifest(), "exported_at": "2020-01-01T00:00:00+00:00"}), None, "manifest.json",
        "manifest.json: changed since it was signed"),
    Mutation("shift the manifest's range", lambda b: b.write_manifest(
        {**b.manifest(), "first_index": 1, "records": 29}), 1, "manifest.json",
        "manifest.json: changed since it was signed"),
    Mutation("duplicate keys in the manifest", lambda b: (b.path / "manifest.json").write_text(
        (b.path / "manifest.json").read_text().replace(
            '"records": 30', '"records": 29, "records": 30')), None, "manifest.json",
        "manifest.json: duplicate key 'records'"),
    Mutation("an unknown field in the manifest", lambda b: b.write_manifest(
        {**b.manifest(), "verified_by": "auditor"}), None, "manifest.json",
        "unknown field(s) ['verified_by']"),
    Mutation("an extra file", lambda b: (b.path / "README").write_text("all fine\n"), None,
             "README", "not a file a bundle holds"),
    Mutation("a missing file", lambda b: (b.path / "leaves.txt").unlink(), None, "leaves.txt",
             "missing"),
    Mutation("duplicate keys in a checkpoint line", lambda b: b.edit_line(
        "checkpoints.jsonl", 1, lambda line: b'{"size":9,' + line[1:]), None,
        "checkpoints.jsonl", "duplicate key 'size'"),
    Mutation("drop the last checkpoint", lambda b: b.write_lines(
        "checkpoints.jsonl", b.lines("checkpoints.jsonl")[:-1]), None, "checkpoints.jsonl",
        "do not end at the manifest's size 30"),
    Mutation("an extra leaf", lambda b: b.write_lines(
        "leaves.txt", [*b.lines("leaves.txt"), base64.b64encode(b"\x02" * 32)]), None,
        "leaves.txt", "holds 31 leaf hashes"),
    Mutation("a record file without its last newline", lambda b: (b.path / RECORDS).write_bytes(
        (b.path / RECORDS).read_bytes()[:-1]), None, RECORDS, "does not end with a newline"),
    Mutation("edit a checkpoint's unsigned time", lambda b: b.edit_line(
        "checkpoints.jsonl", 0, lambda line: line.replace(b'"at":"', b'"at":"1', 1)), None,
        "checkpoints.jsonl", "checkpoints.jsonl: changed since the manifest was signed"),
    Mutation("carriage returns", lambda b: (b.path / RECORDS).write_bytes(
        (b.path / RECORDS).read_bytes().replace(b"\n", b"\r\n")), None, RECORDS,
        "carriage return"),
]  # fmt: skip


def test_the_untouched_bundle_verifies_against_its_key(bundle: Bundle) -> None:
    report = verify_bundle(bundle.path, bundle.key)
    assert report.trusted, report.problems
    assert (
        checked_range(report) == f"records 0\u201329 of a log of 30 signed by {bundle.key.key_id}"
    )
    assert verdict(report, "b").status == EXIT_OK


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_a_mutation_is_caught_and_located(mutation: Mutation, bundle: Bundle) -> None:
    mutation.mutate(bundle)
    report = verify_bundle(bundle.path, bundle.key)
    assert not report.ok
    assert (report.first_bad_index, report.first_bad_file) == (mutation.located, mutation.file), (
        report.problems
    )
    assert mutation.says in report.problems[0], report.problems
    assert verdict(report, "b").status == EXIT_FAILED


def test_a_forgery_re_signed_with_another_key_is_never_trusted(bundle: Bundle) -> None:
    _resign_changed(bundle)
    alone = verify_bundle(bundle.path)
    assert alone.ok and not alone.trusted  # consistent in itself, nothing more
    answer = verdict(alone, "b")
    assert answer.status == EXIT_UNTRUSTED
    assert "only its internal consistency was checked" in answer.out[0]
    assert bundle.other.verifier.fingerprint in answer.out[1]
    pinned = verify_bundle(bundle.path, pinned=[bundle.key])
    assert pinned.first_bad_index == 0 and "is not the key you trust" in pinned.problems[0]
    told = verify_bundle(bundle.path, fingerprint=bundle.key.fingerprint)
    assert (told.first_bad_index, told.first_bad_file) == (0, "log.pub")
    assert f"not {bundle.key.fingerprint}" in told.problems[0]


def test_a_fingerprint_or_a_pinned_key_anchors_the_real_bundle(bundle: Bundle) -> None:
    told = verify_bundle(bundle.path, fingerprint=bundle.key.fingerprint)
    assert told.trusted and told.anchor.startswith("fingerprint sha256:")
    assert verify_bundle(bundle.path, pinned=[bundle.key]).trusted


def test_a_bundle_of_a_rolled_back_log_fails_against_a_checkpoint_kept_earlier(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "log.sqlite")
    audit = fill(store, tmp_path / "keys")
    kept = store.latest_checkpoint()
    assert kept is not None
    raw = RawSQLite(tmp_path / "log.sqlite")
    raw.drop_triggers()
    raw.run(
        q("DELETE FROM records WHERE idx >= 18"),
        q("DELETE FROM leaves WHERE idx >= 18"),
        q("DELETE FROM checkpoints WHERE size > 18"),
    )
    restarted = AuditLog(store, AuditSettings(tmp_path / "keys" / "signing.key", ORIGIN))
    export_bundle(store, restarted, tmp_path / "rolled-back", None, None)
    store.close()
    alone = verify_bundle(tmp_path / "rolled-back", audit.signer.verifier)
    assert alone.trusted  # signed by the real key: only the range shows the cut
    assert checked_range(alone).startswith("records 0\u201317 of a log of 18 ")
    report = verify_bundle(tmp_path / "rolled-back", audit.signer.verifier, [kept.note])
    assert report.first_bad_index == 18
    assert "covers 30: records 18 to 29 were removed" in report.problems[0]


def test_an_archive_with_anything_beside_the_bundle_is_refused(bundle: Bundle) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(bundle.path, arcname="audit-bundle")
        archive.addfile(tarfile.TarInfo("extra.txt"), io.BytesIO(b""))
    path = bundle.path.parent / "bundle.tar.gz"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(BundleError, match="one bundle directory and nothing else"):
        verify_bundle(path, bundle.key)


def test_the_mutation_kinds_are_counted() -> None:
    from tests.security.tamper_store import ATTACKS

    print(f"mutation kinds: {len(ATTACKS)} on each store, {len(MUTATIONS)} on bundles")
    assert len(ATTACKS) + len(MUTATIONS) >= 40
