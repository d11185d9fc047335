"""Reading a window of the record store: the records of some kinds from a moment on.

An audit store answers from its (kind, time) index; a store without one (the in-memory
store of the unit tests) is filtered in full.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from gateway.audit.records import StoredRecord


class RecordReader(Protocol):
    def records_of_kind(self, *kinds: str) -> list[StoredRecord]: ...


def stamp(moment: datetime) -> str:
    """``moment`` as the store writes record times (UTC, microseconds), to compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def records_since(store: RecordReader, since: str | None, *kinds: str) -> list[StoredRecord]:
    """Records of ``kinds`` written at or after ``since`` (all of them without it)."""
    if since is None:
        return store.records_of_kind(*kinds)
    indexed = getattr(store, "records_since", None)
    if indexed is not None:
        found: list[StoredRecord] = indexed(since, *kinds)
        return found
    return [record for record in store.records_of_kind(*kinds) if record.at >= since]
