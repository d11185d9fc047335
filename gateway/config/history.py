"""The configurations a log has served: their versions over time, and what changed.

Every configuration a gateway loads is a record (``config.loaded``) holding its version and
its canonical content (``${VAR}`` references, never their values); every change it refused
is a ``config.refused`` record with the issues. ``legacy-gateway config history`` lists them
and ``config diff A B`` compares two versions key by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.audit.records import StoredRecord
from gateway.audit.store import AuditStore


class HistoryError(ValueError):
    """A version that the log does not hold, or names more than one."""


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        if self.before is _ABSENT:
            return f"+ {self.path}: {_short(self.after)}"
        if self.after is _ABSENT:
            return f"- {self.path}: {_short(self.before)}"
        return f"~ {self.path}: {_short(self.before)} -> {_short(self.after)}"


_ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "absent"})()


def history(store: AuditStore) -> list[StoredRecord]:
    return store.records_of_kind("config.loaded", "config.refused")


def find_version(store: AuditStore, wanted: str) -> dict[str, Any]:
    """The content of a version named by a prefix of its hash (``sha256:`` optional)."""
    prefix = wanted if wanted.startswith("sha256:") else f"sha256:{wanted}"
    found: dict[str, dict[str, Any]] = {}
    for record in store.records_of_kind("config.loaded"):
        version = str(record.body.get("config_version", ""))
        if version.startswith(prefix) and "content" in record.body:
            found[version] = record.body["content"]
    if not found:
        raise HistoryError(f"no configuration {wanted} in the log")
    if len(found) > 1:
        raise HistoryError(f"{wanted} names {len(found)} versions; give more of the hash")
    return next(iter(found.values()))


def diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """What changed between two configurations, key by key, in a stable order."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            changes.extend(diff(before.get(key, _ABSENT), after.get(key, _ABSENT), where))
        return changes
    if before == after:
        return []
    return [Change(path, before, after)]


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."
