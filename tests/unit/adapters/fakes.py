"""Stand-ins for the drivers under the adapters, and a config loaded from YAML text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import CallContext, Interaction
from adapters.installed import INSTALLED
from gateway.config.loader import LoadedConfig, load_config


def loaded(tmp_path: Path, text: str) -> LoadedConfig:
    (tmp_path / "config.yaml").write_text(text)
    return load_config(tmp_path / "config.yaml", INSTALLED)


def context(recorded: list[Interaction], cursor: str | None = None) -> CallContext:
    return CallContext(
        "call-1", "0af7651916cd43dd8448eb211c80319c", "tool", 5.0, recorded.append, cursor=cursor
    )


class FakeDriverError(Exception):
    """pyodbc.Error: args are (SQLSTATE, message)."""


class FakeInterfaceError(FakeDriverError):
    pass


@dataclass
class FakeCursor:
    connection: FakeConnection
    description: list[tuple[str]] | None = None
    rowcount: int = -1
    _rows: list[tuple[Any, ...]] = field(default_factory=list)

    def execute(self, sql: str, values: list[Any] | None = None) -> None:
        self.connection.executed.append((sql, list(values or [])))
        outcome = self.connection.outcomes.pop(0) if self.connection.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, int):
            self.rowcount, self.description = outcome, None
        elif outcome is not None:
            columns, rows = outcome
            self.description = [(name,) for name in columns]
            self._rows = list(rows)

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        batch, self._rows = self._rows[:size], self._rows[size:]
        return batch

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.fetchmany(len(self._rows))

    def nextset(self) -> bool:
        return False

    def close(self) -> None:
        return


@dataclass
class FakeConnection:
    """Answers statements in order from ``outcomes``: an int is a row count, a
    (columns, rows) pair a result, an exception is raised."""

    outcomes: list[Any] = field(default_factory=list)
    executed: list[tuple[str, list[Any]]] = field(default_factory=list)
    commits: int = 0
    rollbacks: int = 0
    closed: bool = False
    timeout: int = 0

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def getinfo(self, what: int) -> str:
        return "SQLite"

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        self.rollbacks += 1

    def close(self) -> None:
        self.closed = True


class FakePyodbc:
    """The parts of the pyodbc module the adapter uses; every connect gets ``connection``."""

    SQL_DBMS_NAME = 17
    Error = FakeDriverError
    InterfaceError = FakeInterfaceError

    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.connects = 0

    def connect(self, text: str, autocommit: bool, timeout: int) -> FakeConnection:
        self.connects += 1
        return self.connection


@dataclass
class FakeResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeHTTPClient:
    """The adapter's HTTP/1.1 client: answers from ``responses`` in order, keeps requests."""

    responses: list[FakeResponse | Exception]
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        *,
        timeout: float,
        max_bytes: int,
    ) -> FakeResponse:
        self.requests.append({"method": method, "target": target, "headers": headers, "body": body})
        outcome = self.responses.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def close(self) -> None:
        return
