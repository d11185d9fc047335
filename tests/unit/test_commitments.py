"""Sensitive values become salted SHA-256 commitments that the salt's holder can open."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from lxml import etree

from gateway.mapping.redaction import Commitments


def test_the_salt_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-commit.key"
    first = Commitments.load_or_create(path)
    salt = path.read_bytes()
    assert len(salt) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert Commitments.load_or_create(path).commit("x") == first.commit("x")
    assert path.read_bytes() == salt


def test_a_commitment_opens_with_the_salt_and_the_value(tmp_path: Path) -> None:
    commitments = Commitments.load_or_create(tmp_path / "audit-commit.key")
    salt = (tmp_path / "audit-commit.key").read_bytes()
    committed = commitments.commit("4111111111111111")
    assert committed == "sha256:" + hashlib.sha256(salt + b"4111111111111111").hexdigest()
    assert committed != commitments.commit("4111111111111112")
    # Values other than text commit to their compact JSON.
    assert commitments.commit(1234) == "sha256:" + hashlib.sha256(salt + b"1234").hexdigest()
    expected = "sha256:" + hashlib.sha256(salt + b'{"a":[1]}').hexdigest()
    assert commitments.commit({"a": [1]}) == expected


def test_another_installation_commits_differently(tmp_path: Path) -> None:
    first = Commitments.load_or_create(tmp_path / "one.key").commit("secret")
    assert Commitments.load_or_create(tmp_path / "two.key").commit("secret") != first
    assert Commitments.throwaway().commit("secret") != Commitments.throwaway().commit("secret")


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Commitments(b"short")


def test_elements_and_keys_are_blanked_by_name() -> None:
    commitments = Commitments(b"k" * 32)
    names = frozenset({"PIN"})
    root = etree.fromstring(b"<r><a:PIN xmlns:a='urn:a'>1234</a:PIN><PIN><x/></PIN><N>1</N></r>")
    commitments.blank_elements(root, names)
    assert root[0].text == commitments.commit("1234")
    assert root[1].text is None  # not a leaf: left alone
    assert root[2].text == "1"
    data = {"PIN": 1, "list": [{"PIN": "9"}, {"PIN": None}], "N": 2}
    assert commitments.blank_keys(data, names) == {
        "PIN": commitments.commit(1),
        "list": [{"PIN": commitments.commit("9")}, {"PIN": None}],
        "N": 2,
    }
