"""Signed checkpoints in the C2SP ``tlog-checkpoint`` signed-note format, with Ed25519 keys.

A checkpoint commits to the whole log at one size::

    legacy-gateway/audit          <- origin: which log
    1042                          <- tree size
    t7XQ...base64 root hash...=   <- RFC 9162 root of the first 1042 records
                                  <- blank line ends the note text
    — legacy-gateway/audit AbCd...base64(key hash || signature)...

The signature line follows C2SP ``signed-note``: an em dash, the key name, and base64 of the
4-byte key hash (SHA-256 of name, newline, 0x01 and the public key) and the Ed25519 signature
of the note text. The verifier key is the one-line ``name+hash+base64(0x01 || key)`` form,
the same that Go's ``golang.org/x/mod/sumdb/note`` and the transparency-dev tools read.

The private key is generated on first start into a file only its owner can read; its public
half is written next to it as ``<key file>.pub`` for auditors.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.secret_files import create_once

ED25519 = 0x01
DASH = "\u2014"


class CheckpointError(ValueError):
    """A checkpoint or key that is malformed, or a signature that does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        root = base64.b64encode(self.root).decode()
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "\n".join(lines) + "\n"


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise CheckpointError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public: bytes

    @property
    def hash(self) -> bytes:
        return key_hash(self.name, self.public)

    @property
    def key_id(self) -> str:
        """Name and key hash, as signature lines name the key: short, for messages."""
        return f"{self.name}+{self.hash.hex()}"

    @property
    def fingerprint(self) -> str:
        """The full SHA-256 of name and key, to compare with the operator's out of band."""
        digest = hashlib.sha256(self.name.encode() + b"\n" + bytes([ED25519]) + self.public)
        return f"sha256:{digest.hexdigest()}"

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.hash.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # base64 may hold '+'; name and hash do not
        if len(parts) != 3:
            raise CheckpointError("a verifier key is name+hash+key, in one line")
        name, hash_hex, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            expected = bytes.fromhex(hash_hex)
        except ValueError as exc:
            raise CheckpointError(f"the verifier key is not well encoded: {exc}") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise CheckpointError("the verifier key is not an Ed25519 key")
        key = cls(name, raw[1:])
        if key.hash != expected:
            raise CheckpointError("the verifier key's hash does not match its name and key")
        return key


class Signer:
    """Signs checkpoints with one Ed25519 key under one name (the log's origin)."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._private = private
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifier = VerifierKey(name, public)

    def sign(self, checkpoint: Checkpoint) -> str:
        return self.sign_text(checkpoint.text())

    def sign_text(self, text: str) -> str:
        """A signed note of ``text`` (lines ending in newline): checkpoints, prune statements
        and bundle manifests, each a text no other kind parses as."""
        signature = self._private.sign(text.encode())
        encoded = base64.b64encode(self.verifier.hash + signature).decode()
        return f"{text}\n{DASH} {self.name} {encoded}\n"

    @classmethod
    def load_or_create(cls, path: Path, name: str) -> Signer:
        """The key at ``path``, made there (mode 0600, public half in ``.pub``) if absent.
        Processes starting together on one volume (workers, replicas) all load the one key
        that the first of them made."""
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            create_once(path, pem)
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError, OSError) as exc:
            raise CheckpointError(f"cannot read the audit signing key {path}: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise CheckpointError(f"the audit signing key {path} is not an Ed25519 key")
        signer = cls(name, private)
        public_file = path.with_name(path.name + ".pub")
        # A key mounted read-only (a Kubernetes secret) comes without its .pub: auditors then
        # take the verifier key from GET /v1/audit/checkpoint.
        with contextlib.suppress(OSError):
            if not public_file.exists() or public_file.read_text().strip() != str(signer.verifier):
                public_file.write_text(f"{signer.verifier}\n")
        return signer


def open_note(note: str, key: VerifierKey) -> Checkpoint:
    """The checkpoint a signed note carries, once ``key``'s signature on it verifies."""
    return parse_checkpoint(open_signed(note, key))


def open_signed(note: str, key: VerifierKey) -> str:
    """The text of a signed note, once ``key``'s signature on it verifies."""
    text, sep, signatures = note.partition("\n\n")
    if not sep or not text:
        raise CheckpointError("a signed note is its text, a blank line, then signatures")
    text += "\n"
    found = False
    for line in signatures.splitlines():
        if not line:
            continue
        prefix = f"{DASH} {key.name} "
        if not line.startswith(prefix):
            continue
        try:
            raw = base64.b64decode(line[len(prefix) :], validate=True)
        except ValueError:
            raise CheckpointError("a signature line is not base64") from None
        if raw[:4] != key.hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key.public).verify(raw[4:], text.encode())
        except InvalidSignature:
            raise CheckpointError(f"the signature of {key.name} does not verify") from None
        found = True
    if not found:
        raise CheckpointError(f"the note carries no signature of key {key.name}")
    return text


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint is origin, size and root, each on its own line")
    origin, size, root, *extensions = lines[:-1]
    if not origin:
        raise CheckpointError("the checkpoint has no origin")
    if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
        raise CheckpointError(f"the checkpoint size {size!r} is not a decimal number")
    try:
        digest = base64.b64decode(root, validate=True)
    except ValueError:
        raise CheckpointError("the checkpoint root is not base64") from None
    if len(digest) != 32:
        raise CheckpointError("the checkpoint root is not a SHA-256 hash")
    return Checkpoint(origin, int(size), digest, tuple(extensions))
