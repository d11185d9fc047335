"""Following the audit log as it grows: every record, once, in index order.

Any replica or worker can tail the one shared store, so each builds the same aggregates
without the call path doing anything for the console. Reads run in a worker thread in
batches; a gap in the indices (a transaction of another process not yet committed) is
waited for briefly, then passed (a rolled-back insert leaves a hole for good).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway.audit.records import RecordError, StoredRecord, decode
from gateway.audit.store import AuditStore

log = logging.getLogger("legacy_gateway.console")

BATCH = 2000
GAP_GRACE_S = 5.0


class Tailer:
    def __init__(
        self, store: AuditStore, backfill: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.backfill = backfill
        self.clock = clock
        self.position: int | None = None
        self._gap_since: float | None = None
        self.last_error: str | None = None

    def read(self) -> list[StoredRecord]:
        """The next records after the last ones read (blocking: call it off the event loop)."""
        end = self.store.count()
        if self.position is None:
            # The recent past too, so a restarted console has its windows back.
            self.position = max(self.store.first_index(), end - self.backfill)
        if end <= self.position:
            return []
        rows = self.store.read_new(self.position, min(end, self.position + BATCH))
        records: list[StoredRecord] = []
        for index, data in rows:
            if index != self.position:
                if self._gap_since is None:
                    self._gap_since = self.clock()
                if self.clock() - self._gap_since < GAP_GRACE_S:
                    break
                log.info("audit records %d to %d never came; passed", self.position, index - 1)
            self._gap_since = None
            self.position = index + 1
            try:
                records.append(decode(data))
            except RecordError as exc:
                log.warning("audit record %d is unreadable for the console: %s", index, exc)
        if not rows:
            self._skip_if_gone(end)
        return records

    def _skip_if_gone(self, end: int) -> None:
        """Nothing readable between here and the end: wait for it, then move past."""
        if self._gap_since is None:
            self._gap_since = self.clock()
        elif self.clock() - self._gap_since >= GAP_GRACE_S:
            self.position, self._gap_since = end, None
