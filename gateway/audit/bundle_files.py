"""Reading a bundle's files as untrusted input: exact names, exact shapes, exact bytes.

Nothing in a bundle is believed because it is there: the set of files is fixed, every JSON
line is parsed strictly (a duplicate key is an error, not a choice between two values) and
must be in the bytes its writer makes, every count is checked against the others, and the
manifest, signed by the log's key (``manifest.sig``, a signed note of its SHA-256), holds the
SHA-256 of every other file: no byte of a bundle escapes the signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gateway.audit.checkpoint import VerifierKey
from gateway.audit.records import RecordError, strict_json

FORMAT = "legacy-gateway-audit-bundle/2"
FILES = ("manifest.json", "manifest.sig", "records.jsonl", "leaves.txt", "checkpoints.jsonl",
         "log.pub")  # fmt: skip
MANIFEST_FIELDS = {
    "format": str,
    "origin": str,
    "first_index": int,
    "end_index": int,
    "records": int,
    "checkpoint_size": int,
    "exported_at": str,
    "files": dict,
}
HASHED = ("records.jsonl", "leaves.txt", "checkpoints.jsonl", "log.pub")


class BundleFileError(ValueError):
    """A bundle file that is missing, extra or malformed; ``file`` names it."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file


def file_digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def manifest_note_text(origin: str, manifest: bytes) -> str:
    """What ``manifest.sig`` signs: no checkpoint or prune statement reads like it."""
    return f"{origin}\nbundle-manifest sha256:{hashlib.sha256(manifest).hexdigest()}\n"


def check_file_set(path: Path) -> None:
    present = sorted(item.name for item in path.iterdir())
    extra = sorted(set(present) - set(FILES))
    missing = [name for name in FILES if name not in present]
    if missing:
        raise BundleFileError(missing[0], "missing: not a complete bundle")
    if extra:
        raise BundleFileError(extra[0], "not a file a bundle holds (extra files are refused)")
    for name in FILES:
        item = path / name
        if item.is_symlink() or not item.is_file():
            raise BundleFileError(name, "not a regular file")


def lines_of(data: bytes, name: str) -> list[bytes]:
    """Lines each ending in a newline: no blank line, no carriage return, no missing end."""
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise BundleFileError(name, "the last line does not end with a newline")
    lines = data[:-1].split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line or b"\r" in line:
            raise BundleFileError(name, f"line {number} is blank or holds a carriage return")
    return lines


@dataclass(frozen=True)
class Manifest:
    origin: str
    first_index: int
    end_index: int
    records: int
    checkpoint_size: int
    files: dict[str, str]


def read_manifest(data: bytes) -> Manifest:
    try:
        value = strict_json(data)
    except RecordError as exc:
        raise BundleFileError("manifest.json", str(exc)) from None
    if not isinstance(value, dict):
        raise BundleFileError("manifest.json", "not a JSON object")
    _exact_fields(value, MANIFEST_FIELDS, "manifest.json")
    if value["format"] != FORMAT:
        raise BundleFileError("manifest.json", f"format {value['format']!r} is not {FORMAT}")
    try:
        dt.datetime.fromisoformat(value["exported_at"])
    except ValueError:
        raise BundleFileError("manifest.json", "exported_at is not an ISO time") from None
    files = value["files"]
    if sorted(files) != sorted(HASHED) or not all(
        isinstance(digest, str) and len(digest) == 71 and digest.startswith("sha256:")
        for digest in files.values()
    ):
        raise BundleFileError("manifest.json", f"files must give the sha256 of {', '.join(HASHED)}")
    manifest = Manifest(value["origin"], value["first_index"], value["end_index"],
                        value["records"], value["checkpoint_size"], files)  # fmt: skip
    if not 0 <= manifest.first_index <= manifest.end_index <= manifest.checkpoint_size:
        raise BundleFileError(
            "manifest.json", "first_index, end_index and checkpoint_size are out of order"
        )
    if manifest.records != manifest.end_index - manifest.first_index:
        raise BundleFileError(
            "manifest.json", f"records is {manifest.records}, but the range holds "
            f"{manifest.end_index - manifest.first_index}",
        )  # fmt: skip
    return manifest


def read_leaves(data: bytes, expected: int) -> list[bytes]:
    leaves = []
    for number, line in enumerate(lines_of(data, "leaves.txt"), 1):
        try:
            leaf = base64.b64decode(line, validate=True)
        except ValueError:
            raise BundleFileError("leaves.txt", f"line {number} is not base64") from None
        if len(leaf) != 32 or base64.b64encode(leaf) != line:
            raise BundleFileError("leaves.txt", f"line {number} is not one SHA-256 hash")
        leaves.append(leaf)
    if len(leaves) != expected:
        raise BundleFileError(
            "leaves.txt", f"holds {len(leaves)} leaf hashes; the manifest's checkpoint size "
            f"is {expected}",
        )  # fmt: skip
    return leaves


def read_checkpoints(data: bytes) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(lines_of(data, "checkpoints.jsonl"), 1):
        try:
            value = strict_json(line)
        except RecordError as exc:
            raise BundleFileError("checkpoints.jsonl", f"line {number}: {exc}") from None
        if not isinstance(value, dict):
            raise BundleFileError("checkpoints.jsonl", f"line {number} is not an object")
        _exact_fields(value, {"size": int, "at": str, "note": str}, "checkpoints.jsonl")
        if orjson.dumps(value) != line:
            raise BundleFileError(
                "checkpoints.jsonl", f"line {number} is not in the form the log writes"
            )
        items.append(value)
    return items


def read_key(data: bytes) -> VerifierKey:
    try:
        (line,) = lines_of(data, "log.pub")
        return VerifierKey.parse(line.decode("ascii"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleFileError("log.pub", f"not one verifier key line: {exc}") from None


def _exact_fields(value: dict[str, Any], fields: dict[str, type], name: str) -> None:
    unknown = sorted(set(value) - set(fields))
    missing = sorted(set(fields) - set(value))
    if unknown or missing:
        raise BundleFileError(name, f"unknown field(s) {unknown}, missing field(s) {missing}")
    for field, kind in fields.items():
        item = value[field]
        if not isinstance(item, kind) or isinstance(item, bool):
            raise BundleFileError(name, f"{field} is not a {kind.__name__}")
