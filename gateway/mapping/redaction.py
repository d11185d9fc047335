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
import secrets
from pathlib import Path
from typing import Any

import orjson
from lxml import etree

from gateway.config.models import ToolConfig
from gateway.mapping.xml import local_name
from gateway.secret_files import create_once

PREFIX = "sha256:"
SALT_BYTES = 32


class Commitments:
    """Commits values with one installation's salt, and names the installation by it.

    The audit settings load it (``AuditSettings.commitments``) and the registry hands it to
    every adapter and tool; whatever has none of its own (unit tests, offline mapping) gets
    a ``throwaway`` one: its commitments are as safe, but nobody can open them.
    """

    def __init__(self, salt: bytes) -> None:
        if len(salt) < 16:
            raise ValueError("a commitment salt has at least 16 bytes")
        self._salt = salt

    @classmethod
    def throwaway(cls) -> Commitments:
        """Commitments with a random salt that nobody holds."""
        return cls(secrets.token_bytes(SALT_BYTES))

    @classmethod
    def load_or_create(cls, path: Path) -> Commitments:
        """With the salt at ``path``, made there (mode 0600) on first use."""
        if not path.exists():
            create_once(path, secrets.token_bytes(SALT_BYTES))
        return cls(path.read_bytes())

    def installation_id(self) -> str:
        """This installation's public name: a one-way derivation of its salt, so the same for
        every replica that shares the salt (and the store), and different for any other."""
        return hashlib.sha256(b"legacy-gateway/installation\n" + self._salt).hexdigest()[:16]

    def commit(self, value: Any) -> str:
        """``sha256:<hex>`` of the salt and the value (UTF-8 text, or compact JSON)."""
        data = value.encode() if isinstance(value, str) else orjson.dumps(value, default=str)
        return PREFIX + hashlib.sha256(self._salt + data).hexdigest()

    def blank_elements(self, root: etree._Element, names: frozenset[str]) -> None:
        """Replace the text of every leaf element with one of these local names by its
        commitment."""
        if not names:
            return
        for node in root.iter():
            if isinstance(node.tag, str) and local_name(node.tag) in names and len(node) == 0:
                node.text = self.commit(node.text or "")

    def blank_keys(self, value: Any, names: frozenset[str]) -> Any:
        """A copy of JSON data with the values of these keys, at any depth, as commitments."""
        if not names:
            return value
        if isinstance(value, dict):
            return {
                key: self.commit(item)
                if key in names and item is not None
                else self.blank_keys(item, names)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.blank_keys(item, names) for item in value]
        return value


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
