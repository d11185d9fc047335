"""Sensitive values in records: salted SHA-256 commitments instead of the values.

A field marked ``sensitive: true``, and every secret of a backend's config, is recorded as
``sha256:<hex>`` = SHA-256(salt || value) in every record: the agent's arguments and mapped
results (``InputMapper.redact``, ``OutputMapper.redact``) and the legacy payloads adapters
record (SOAP elements, bind values, message body fields), found by the legacy names the
tool's mapping reads and writes. The record never holds the value, and its proofs stay valid;
whoever holds the salt (the operator, under ``audit-commit.key`` beside the signing key) can
show that a record committed to a given value, when an inquiry needs it. A string commits to
its UTF-8 bytes, any other value to its compact JSON. One salt per installation: equal values
give equal commitments, so records stay comparable without being readable.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import orjson
from lxml import etree

from gateway.config.models import ToolConfig
from gateway.mapping.xml import local_name

PREFIX = "sha256:"
SALT_BYTES = 32
# Until an installation's salt is loaded (unit tests, offline mapping), a random one: the
# commitments are then as safe, but nobody can open them.
_salt = [secrets.token_bytes(SALT_BYTES)]


def use_salt(salt: bytes) -> None:
    """Commit with this installation's salt from now on."""
    if len(salt) < 16:
        raise ValueError("a commitment salt has at least 16 bytes")
    _salt[0] = salt


def load_or_create_salt(path: Path) -> bytes:
    """The salt at ``path``, made there (mode 0600) on first use; and commit with it."""
    if path.exists():
        salt = path.read_bytes()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_bytes(SALT_BYTES)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(salt)
    use_salt(salt)
    return salt


def installation_id() -> str:
    """This installation's public name: a one-way derivation of its salt, so the same for
    every replica that shares the salt (and the store), and different for any other."""
    return hashlib.sha256(b"legacy-gateway/installation\n" + _salt[0]).hexdigest()[:16]


def commitment(value: Any, salt: bytes | None = None) -> str:
    """``sha256:<hex>`` of the salt and the value (UTF-8 text, or compact JSON)."""
    data = value.encode() if isinstance(value, str) else orjson.dumps(value, default=str)
    return PREFIX + hashlib.sha256((salt or _salt[0]) + data).hexdigest()


def sensitive_names(tool: ToolConfig) -> frozenset[str]:
    """Last path segment (element, key or column name) of every sensitive field of a tool."""
    names = {
        (spec.to or name).replace("/", ".").split(".")[-1].split(":")[-1]
        for name, spec in tool.input.items()
        if spec.sensitive
    }
    names |= {
        (spec.source or name).replace("/", ".").split(".")[-1].split(":")[-1]
        for name, spec in tool.output.fields.items()
        if spec.sensitive
    }
    return frozenset(names)


def blank_elements(root: etree._Element, names: frozenset[str]) -> None:
    """Replace the text of every leaf element with one of these local names by its commitment."""
    if not names:
        return
    for node in root.iter():
        if isinstance(node.tag, str) and local_name(node.tag) in names and len(node) == 0:
            node.text = commitment(node.text or "")


def blank_keys(value: Any, names: frozenset[str]) -> Any:
    """A copy of JSON data with the values of these keys, at any depth, as commitments."""
    if not names:
        return value
    if isinstance(value, dict):
        return {
            key: commitment(item) if key in names and item is not None else blank_keys(item, names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [blank_keys(item, names) for item in value]
    return value
