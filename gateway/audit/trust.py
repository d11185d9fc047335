"""Which key a verification trusts: the anchor without which a bundle proves nothing.

A bundle carries its own ``log.pub``, but anyone who rewrites the records can re-sign the
checkpoints with a key of their own and put that key there: checked against itself, such a
bundle is consistent. Only a key the auditor got another way makes verification mean
something. In order:

1. ``--key FILE``: a note verifier key line;
2. ``--fingerprint sha256:...``: the fingerprint of the log's key, read out by its operator
   (``audit export`` and ``audit verify`` print it); the bundle's key must have it;
3. a pinned key: ``legacy-gateway audit trust FILE`` adds a verifier key to the pinned keys
   file (``LEGACY_GATEWAY_TRUSTED_KEYS``, else ``$XDG_CONFIG_HOME/legacy-gateway/trusted-keys``,
   else ``~/.config/legacy-gateway/trusted-keys``), one key a line; a bundle whose log has
   a pinned key must be signed by it.

With none of these, verification checks internal consistency only, and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.checkpoint import CheckpointError, VerifierKey

UNANCHORED = ""


class UntrustedKey(CheckpointError):
    """The log's key is not the one the auditor was told to expect."""


def pinned_keys_file() -> Path:
    explicit = os.environ.get("LEGACY_GATEWAY_TRUSTED_KEYS")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "legacy-gateway" / "trusted-keys"


def pinned_keys(path: Path | None = None) -> list[VerifierKey]:
    """The pinned verifier keys; a line that is not one is an error naming its line."""
    where = path or pinned_keys_file()
    if not where.exists():
        return []
    keys = []
    for number, line in enumerate(where.read_text().splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                keys.append(VerifierKey.parse(line))
            except CheckpointError as exc:
                raise CheckpointError(f"{where} line {number}: {exc}") from None
    return keys


def pin(key: VerifierKey, path: Path | None = None) -> Path:
    """Add ``key`` to the pinned keys (once); returns the file."""
    where = path or pinned_keys_file()
    if any(str(known) == str(key) for known in pinned_keys(where)):
        return where
    where.parent.mkdir(parents=True, exist_ok=True)
    with where.open("a") as handle:
        handle.write(f"{key}\n")
    return where


@dataclass(frozen=True)
class Anchor:
    """The key to check with, and where trust in it comes from (empty: nowhere)."""

    key: VerifierKey
    source: str = UNANCHORED


def choose_anchor(
    offered: VerifierKey,
    *,
    key: VerifierKey | None = None,
    key_source: str = "--key",
    fingerprint: str | None = None,
    pinned: list[VerifierKey] | None = None,
) -> Anchor:
    """The anchor for a log whose own copy of its key is ``offered``.

    A given key or fingerprint that does not match ``offered`` is still the anchor: the
    checkpoints are then checked against it, and fail.
    """
    if key is not None:
        return Anchor(key, key_source)
    if fingerprint is not None:
        if offered.fingerprint.lower() == fingerprint.strip().lower():
            return Anchor(offered, f"fingerprint {offered.fingerprint}")
        raise UntrustedKey(
            f"the log's key {offered.key_id} has fingerprint {offered.fingerprint}, "
            f"not {fingerprint.strip()}: it is not the key you were given"
        )
    same_name = [known for known in pinned or [] if known.name == offered.name]
    for known in same_name:
        if str(known) == str(offered):
            return Anchor(known, f"pinned in {pinned_keys_file()}")
    if same_name:  # the log's name is pinned to another key: check against that one
        return Anchor(same_name[0], f"pinned in {pinned_keys_file()}")
    return Anchor(offered, UNANCHORED)
