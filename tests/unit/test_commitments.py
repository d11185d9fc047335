"""Sensitive values become salted SHA-256 commitments that the salt's holder can open."""

from __future__ import annotations

import hashlib
from pathlib import Path

from gateway.mapping.redaction import commitment, load_or_create_salt


def test_the_salt_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-commit.key"
    salt = load_or_create_salt(path)
    assert len(salt) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_salt(path) == salt


def test_a_commitment_opens_with_the_salt_and_the_value(tmp_path: Path) -> None:
    salt = load_or_create_salt(tmp_path / "audit-commit.key")
    committed = commitment("4111111111111111")
    assert committed == "sha256:" + hashlib.sha256(salt + b"4111111111111111").hexdigest()
    assert committed != commitment("4111111111111112")
    # Values other than text commit to their compact JSON.
    assert commitment(1234) == "sha256:" + hashlib.sha256(salt + b"1234").hexdigest()
    assert commitment({"a": [1]}) == "sha256:" + hashlib.sha256(salt + b'{"a":[1]}').hexdigest()


def test_another_installation_commits_differently(tmp_path: Path) -> None:
    load_or_create_salt(tmp_path / "one.key")
    first = commitment("secret")
    load_or_create_salt(tmp_path / "two.key")
    assert commitment("secret") != first
