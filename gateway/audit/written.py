"""The records this process just committed, kept for its own readers of the log.

The tree builder and the console read every record soon after it is written. Reading back
from the store what this process has just written cost a query, a copy of every record and
the store connection's lock, contended with the call path's commits, for nothing new. A
writer hands the bytes of what it committed to this bounded buffer, and the store's
``read_new`` takes records from it first: only what it does not hold (written by another
process or worker, or already evicted) is read from the store, so records appended by
others are picked up in log order as before.

Only committed records are added (after the transaction that wrote them), so an answer
from here is what the store held when it was written. Checking that the store still holds
it is verification's job, which reads the store itself (``read``). Pruning clears it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

# Enough for the readers' lag (they poll a few times a second) at thousands of records a
# second, and at most a few MB of record bytes.
LIMIT_RECORDS = 16_384
LIMIT_BYTES = 16 << 20


class Written:
    def __init__(self, records: int = LIMIT_RECORDS, size: int = LIMIT_BYTES) -> None:
        self._records, self._size = records, size
        self._held: dict[int, bytes] = {}
        self._order: deque[int] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, rows: Iterable[tuple[int, bytes]]) -> None:
        """Records committed by this process, (index, bytes as stored)."""
        with self._lock:
            for index, data in rows:
                if index in self._held:
                    continue
                self._held[index] = data
                self._order.append(index)
                self._bytes += len(data)
            while self._order and (len(self._order) > self._records or self._bytes > self._size):
                self._bytes -= len(self._held.pop(self._order.popleft()))

    def get(self, start: int, stop: int) -> dict[int, bytes]:
        """Those of records ``start`` to ``stop - 1`` held here."""
        with self._lock:
            held = self._held
            if len(held) >= stop - start:
                return {i: held[i] for i in range(start, stop) if i in held}
            return {i: data for i, data in held.items() if start <= i < stop}

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._order.clear()
            self._bytes = 0
