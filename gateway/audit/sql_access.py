"""What the SQL parts of the audit store share: one connection at a time, one parameter mark.

The SQL is written once with ``?`` marks; PostgreSQL stores set ``_mark = "%s"`` (psycopg).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any


class SqlAccess(ABC):
    _mark = "?"
    # What follows ``records`` in a query that looks a call's records up by its id. SQLite,
    # without statistics, takes the kind's index for ``call_id = ? AND kind = ?`` and reads
    # every record of that kind (every outcome ever written) under the log's write lock;
    # its store names the call's index here. PostgreSQL's planner has statistics.
    _by_call = ""

    def _sql(self, text: str) -> str:
        return text if self._mark == "?" else text.replace("?", self._mark)

    @abstractmethod
    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        """A connection whose ``execute`` returns a cursor; store errors become
        ``AuditUnavailable``."""
