"""ODBC: legacy databases (DB2, AS/400, old SQL servers, and anything with a driver) as tools.

A tool declares one fixed statement with named parameters (``:account``), which the adapter
rewrites to ``?`` markers in order when the config loads; agents fill typed arguments and
never send SQL. pyodbc is blocking, so statements run on a thread pool of the backend's
size, each on a connection from the adapter's own pool (connecting to PostgreSQL costs
about 11 ms, reusing a connection nothing). Every statement runs in a transaction:
reads are rolled back, writes committed only when their row count is what the tool
expects.

Reads fetch in batches and stop at the tool's row or byte cap: the answer is a ``Page`` whose
token lets the agent ask for the next one, so a million-row table never sits in memory.
SQLSTATEs become the gateway's errors in one place (``translate_error``): class 08 (the
connection) is a retryable 503 and the connection is dropped, 23 (integrity) a 409, 42
(syntax, unknown table) a statement error that ``validate --connect`` finds before agents do,
HYT00 a timeout.

Why one module of this size: the connection pool, the statement rewriting, paging and the
SQLSTATE translation all act on the same pooled connections and their failure states; the
rows go to the mapping as fetched (``gateway.mapping.rows.FetchedRows``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Literal

import orjson
from pydantic import Field, SecretStr

from adapters.base import (
    Adapter,
    BackendSetupError,
    CallContext,
    CallRecord,
    Health,
    Interaction,
    Page,
)
from gateway.config.models import BackendConfig, ToolConfig, ToolSettings
from gateway.errors import (
    BackendUnavailable,
    DependencyMissing,
    GatewayError,
    InvalidArguments,
    LegacyConflict,
    LegacyFault,
    LegacyTimeout,
    StatementInvalid,
    UnexpectedRowCount,
)
from gateway.mapping.redaction import Commitments
from gateway.mapping.rows import FetchedRows, rows_within

WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "CALL", "EXEC", "EXECUTE"})
READ_VERBS = frozenset({"SELECT", "WITH", "VALUES"})
# :name outside quotes; '::' (PostgreSQL casts) is left alone.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|(?<!:):([A-Za-z_][A-Za-z0-9_]*)")
# Query timeout (ODBC), statement cancelled (PostgreSQL), interrupted (MariaDB, MySQL).
TIMEOUT_STATES = frozenset({"HYT00", "HYT01", "57014", "70100"})
# The connection is gone: class 08, and PostgreSQL's shutdown and restart states.
LOST_STATES = ("08", "57P01", "57P02", "57P03")
# Some drivers say HY000 for everything; these words in their messages say what happened.
LOST_WORDS = (
    "connection has been lost",
    "connection is down",
    "server has gone away",
    "server closed the connection",
    "lost connection",
)
TIMEOUT_WORDS = ("timeout", "timed out", "max_statement_time")
_DRIVER = re.compile(r"DRIVER\s*=\s*\{?([^};]+)\}?", re.IGNORECASE)


class OdbcBackendConfig(BackendConfig):
    """A database reached through an ODBC driver."""

    connection: SecretStr = Field(
        description="ODBC connection string; put passwords in ${VAR}s. Never recorded."
    )
    read_only: bool = Field(False, description="Refuse write tools for this backend at load.")
    max_rows: int = Field(500, ge=1, description="Default cap of rows a call returns.")
    max_bytes: int = Field(1_048_576, ge=1024, description="Default cap of bytes of rows.")
    fetch_batch: int = Field(200, ge=1, le=100_000, description="Rows fetched at a time.")
    on_connect: list[str] = Field(
        default_factory=list,
        description="Statements run on each new connection (SET SCHEMA, session options).",
    )
    column_case: Literal["as_is", "upper", "lower"] = Field(
        "as_is",
        description="Case of the column names mappings see: databases fold unquoted names "
        "differently (PostgreSQL to lower, DB2 and Oracle to upper).",
    )


class OdbcToolSettings(ToolSettings):
    """The keys of an ODBC tool beyond the shared ones."""

    expect_rows: int | None = Field(
        None, ge=0, description="Rows a write must touch; any other count is rolled back."
    )


@dataclass(frozen=True)
class PreparedStatement:
    text: str
    sql: str
    parameters: tuple[str, ...]
    kind: Literal["read", "write"]
    max_rows: int
    max_bytes: int
    expect_rows: int | None
    # Positions of bind values from fields marked sensitive: recorded as commitments.
    sensitive: frozenset[int] = frozenset()
    # Rows are rows: a captured answer is never kept as an XML element.
    xml_answer: bool = False

    def recordable(self, values: list[Any], commitments: Commitments) -> list[Any]:
        return [
            commitments.commit(value) if index in self.sensitive else _recordable(value)
            for index, value in enumerate(values)
        ]


def bind_parameters(statement: str) -> tuple[str, tuple[str, ...]]:
    """``SELECT .. WHERE A = :a AND B = :b`` -> (``.. A = ? AND B = ?``, (a, b))."""
    names: list[str] = []

    def marker(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)  # a quoted literal or identifier: untouched
        names.append(match.group(1))
        return "?"

    return _TOKENS.sub(marker, statement), tuple(names)


def statement_kind(statement: str) -> str:
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", statement, flags=re.DOTALL).strip()
    verb = text.split(None, 1)[0].upper().lstrip("{") if text else ""
    if verb in READ_VERBS:
        return "read"
    if verb in WRITE_VERBS:
        return "write"
    return verb or "empty"


def _driver_name(connection: str) -> str | None:
    match = _DRIVER.search(connection)
    return match.group(1).strip() if match else None


class _Cursor:
    """The page token: where the next page starts, bound to the arguments it pages."""

    @staticmethod
    def digest(prepared: PreparedStatement, values: list[Any]) -> str:
        material = orjson.dumps([prepared.text, values], default=str)
        return hashlib.sha256(material).hexdigest()[:16]

    @staticmethod
    def make(offset: int, digest: str) -> str:
        raw = orjson.dumps({"offset": offset, "of": digest})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def read(token: str, digest: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = orjson.loads(raw)
            offset, of = int(data["offset"]), str(data["of"])
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise InvalidArguments(
                [{"field": "cursor", "message": "not a cursor this gateway gave out"}]
            ) from None
        if of != digest or offset < 0:
            raise InvalidArguments(
                [{"field": "cursor", "message": "the cursor belongs to other arguments"}]
            )
        return offset


class _Pool:
    """Idle connections of one backend, opened on demand, at most ``size`` in all."""

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect = connect
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self.size = size

    def take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def give(self, connection: Any) -> None:
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(connection)
                return
        _close_quietly(connection)

    def drop(self, connection: Any) -> None:
        _close_quietly(connection)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            _close_quietly(connection)


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # a connection that is already gone has nothing to close
        return


class OdbcAdapter(Adapter[OdbcBackendConfig, PreparedStatement]):
    name: ClassVar[str] = "odbc"
    config_model: ClassVar[type[BackendConfig]] = OdbcBackendConfig
    tool_model: ClassVar[type[ToolSettings]] = OdbcToolSettings
    pages: ClassVar[bool] = True

    def __init__(
        self, backend: str, config: OdbcBackendConfig, commitments: Commitments | None = None
    ) -> None:
        super().__init__(backend, config, commitments)
        self._pyodbc: Any = None
        self._pool: _Pool | None = None
        self._threads: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ metadata

    def load(self) -> None:
        try:
            import pyodbc
        except ImportError as exc:
            raise DependencyMissing(
                f"ODBC needs pyodbc and unixODBC (Debian: apt-get install unixodbc): {exc}"
            ) from exc
        self._pyodbc = pyodbc
        pyodbc.pooling = False  # the adapter pools connections itself
        driver = _driver_name(self.config.connection.get_secret_value())
        installed = pyodbc.drivers()
        if driver is not None and driver not in installed:
            listing = ", ".join(installed) or "none"
            raise BackendSetupError(
                "connection", f"ODBC driver '{driver}' is not installed (installed: {listing})"
            )

    def operations(self) -> list[str]:
        return []  # any statement: tools declare their own

    def prepare(self, tool: ToolConfig) -> PreparedStatement:
        text = tool.operation.strip()
        kind = statement_kind(text)
        if kind not in ("read", "write"):
            verbs = ", ".join(sorted(READ_VERBS | WRITE_VERBS))
            raise BackendSetupError(
                "operation", f"the statement starts with '{kind}'; expected one of {verbs}"
            )
        if kind == "write" and tool.effect != "write":
            raise BackendSetupError(
                "effect", "the statement writes; declare effect: write (and review it)"
            )
        if kind == "write" and self.config.read_only:
            raise BackendSetupError(
                "operation", f"backend {self.backend} is read_only; it takes no writes"
            )
        sql, parameters = bind_parameters(text)
        targets = {(spec.to or field).split(".")[0] for field, spec in tool.input.items()}
        missing = [name for name in dict.fromkeys(parameters) if name not in targets]
        if missing:
            raise BackendSetupError(
                "operation",
                f"no input field is mapped to :{missing[0]} (to: {missing[0]})",
            )
        unused = sorted(targets - set(parameters))
        if unused:
            raise BackendSetupError(
                "input", f"input mapped to {unused[0]}, which the statement does not use"
            )
        secret = {(spec.to or f).split(".")[0] for f, spec in tool.input.items() if spec.sensitive}
        expect_rows = OdbcToolSettings.of(tool).expect_rows
        if expect_rows is not None and kind != "write":
            raise BackendSetupError("expect_rows", "expect_rows applies to writes")
        if kind == "read" and tool.output.fields and not tool.output.list:
            raise BackendSetupError(
                ("output", "list"), "a query answers rows: declare output list: true"
            )
        return PreparedStatement(
            text=text,
            sql=sql,
            parameters=parameters,
            kind="read" if kind == "read" else "write",
            max_rows=tool.max_rows or self.config.max_rows,
            max_bytes=tool.max_bytes or self.config.max_bytes,
            expect_rows=expect_rows,
            sensitive=frozenset(i for i, name in enumerate(parameters) if name in secret),
        )

    # ------------------------------------------------------------------ life cycle

    def _connect(self) -> Any:
        seconds = max(1, int(self.config.timeout_s))
        connection = self._pyodbc.connect(
            self.config.connection.get_secret_value(), autocommit=False, timeout=seconds
        )
        try:
            self._limit_statements(connection, seconds)
            cursor = connection.cursor()
            for statement in self.config.on_connect:
                cursor.execute(statement)
            cursor.close()
            connection.commit()
        except Exception:
            _close_quietly(connection)
            raise
        return connection

    def _limit_statements(self, connection: Any, seconds: int) -> None:
        """A time limit on every statement of the connection: the server's own setting where
        the driver's query timeout is refused (psqlODBC) or ignored (MariaDB's driver), the
        driver's otherwise."""
        dbms = str(connection.getinfo(self._pyodbc.SQL_DBMS_NAME)).lower()
        self.db_system = _db_system(dbms)
        server_side = {
            "postgres": f"SET statement_timeout = {seconds * 1000}",
            "mysql": f"SET SESSION max_statement_time = {seconds}",
            "maria": f"SET SESSION max_statement_time = {seconds}",
        }
        for name, statement in server_side.items():
            if name in dbms:
                cursor = connection.cursor()
                cursor.execute(statement)
                cursor.close()
                return
        connection.timeout = seconds

    async def open(self) -> None:
        size = self.config.max_concurrency
        self._pool = _Pool(self._connect, size)
        self._threads = ThreadPoolExecutor(size, thread_name_prefix=f"odbc-{self.backend}")

    async def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def _run(self, work: Callable[[], Any]) -> Any:
        if self._threads is None:
            raise BackendUnavailable(f"backend {self.backend} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    async def check(self) -> Health:
        started = time.perf_counter()
        try:
            await self._run(self._ping)
            ok, detail = True, "connected"
        except Exception as exc:
            ok, detail = False, self.translate_error(exc).message
        return Health(ok, detail, (time.perf_counter() - started) * 1000)

    def _ping(self) -> None:
        assert self._pool is not None
        connection = self._pool.take()
        try:
            connection.getinfo(self._pyodbc.SQL_DBMS_NAME)
        except Exception:
            self._pool.drop(connection)
            raise
        self._pool.give(connection)

    async def verify(self, prepared: PreparedStatement) -> None:
        """Run the statement with every parameter NULL inside a transaction, and roll back.

        The database parses and plans it, so an unknown table or column, a syntax error or
        a wrong number of markers is found here (SQLSTATE 42 and the like). A constraint
        refusing the NULLs (SQLSTATE 23) means the statement itself is fine. Stored
        procedures are not run: their effects may reach beyond the transaction.
        """
        if statement_kind(prepared.text) == "write" and prepared.text.split(None, 1)[
            0
        ].upper().lstrip("{") in ("CALL", "EXEC", "EXECUTE"):
            return
        values = [None] * len(prepared.parameters)

        def attempt(connection: Any) -> None:
            cursor = connection.cursor()
            try:
                cursor.execute(prepared.sql, values)
                if cursor.description:
                    cursor.fetchmany(1)
            finally:
                cursor.close()
                connection.rollback()

        try:
            await self._run(lambda: self._with_connection(attempt))
        except Exception as exc:
            error = self.translate_error(exc)
            if isinstance(error, LegacyConflict):
                return
            raise error from exc

    async def result_columns(self, prepared: PreparedStatement) -> list[str] | None:
        """The query's columns, folded as rows are (``column_case``): the query wrapped as
        ``SELECT * FROM (query) WHERE 1=0`` with every parameter NULL, so the database
        describes the result without reading a row, inside a transaction rolled back.
        Writes, procedures and queries the wrapper does not fit answer None."""
        if prepared.kind != "read" or statement_kind(prepared.text) != "read":
            return None
        case = self.config.column_case
        fold: Callable[[str], str] = (
            str.upper if case == "upper" else str.lower if case == "lower" else str
        )
        inner = prepared.sql.strip().rstrip(";")
        wrapped = f"SELECT * FROM ({inner}) lg_described WHERE 1=0"
        values = [None] * len(prepared.parameters)

        def describe(connection: Any) -> list[str]:
            cursor = connection.cursor()
            try:
                cursor.execute(wrapped, values)
                return [fold(column[0]) for column in cursor.description or ()]
            finally:
                cursor.close()
                connection.rollback()

        try:
            columns: list[str] = await self._run(lambda: self._with_connection(describe))
        except Exception:  # e.g. duplicate column names a derived table refuses
            return None
        return columns

    # ------------------------------------------------------------------ calls

    def _values(self, prepared: PreparedStatement, params: Any) -> list[Any]:
        return [params.get(name) for name in prepared.parameters]

    def render(self, prepared: PreparedStatement, params: Any) -> dict[str, Any]:
        return {
            "statement": prepared.text,
            "sql": prepared.sql,
            "bind_values": prepared.recordable(self._values(prepared, params), self.commitments),
            "transaction": "commit" if prepared.kind == "write" else "rollback",
        }

    async def exchange(
        self, prepared: PreparedStatement, params: Any, ctx: CallContext, record: CallRecord
    ) -> Any:
        values = self._values(prepared, params)
        digest = _Cursor.digest(prepared, values)
        # A page token that is not this query's is the agent's mistake, not an exchange.
        offset = _Cursor.read(ctx.cursor, digest) if ctx.cursor else 0
        interaction = record.begin(
            prepared.text,
            {
                "sql": prepared.sql,
                "bind_values": prepared.recordable(values, self.commitments),
                "offset": offset,
            },
        )
        if prepared.kind == "read":
            rows, more, columns = await self._run(lambda: self._read(prepared, values, offset))
            interaction.response = {
                "columns": columns,
                "rows_returned": len(rows),
                "more": more,
            }
            cursor = _Cursor.make(offset + len(rows), digest) if more else None
            reason = ""
            if more:
                reason = f"capped at {len(rows)} rows (max_rows {prepared.max_rows}"
                reason += f", max_bytes {prepared.max_bytes})"
            return Page(rows, cursor, reason)
        affected = await self._run(lambda: self._write(prepared, values))
        interaction.response = {"rows_affected": affected, "committed": True}
        return {"rows_affected": affected}

    def telemetry(self, interaction: Interaction) -> tuple[str, str, dict[str, Any]]:
        """Database client conventions: the statement as prepared, never the bind values."""
        sql = str(interaction.request.get("sql", ""))
        operation = sql.split(None, 1)[0].upper() if sql.strip() else "SQL"
        response = interaction.response or {}
        return (
            operation,
            "client",
            {
                "db.system.name": getattr(self, "db_system", "other_sql"),
                "db.operation.name": operation,
                "db.query.text": sql,
                "db.response.returned_rows": response.get("rows_returned"),
                "db.response.affected_rows": response.get("rows_affected"),
            },
        )

    def _with_connection(self, work: Callable[[Any], Any]) -> Any:
        assert self._pool is not None
        connection = self._pool.take()
        try:
            result = work(connection)
        except self._pyodbc.Error as exc:
            state = _sqlstate(exc)
            if state.startswith(LOST_STATES) or state in ("HY000", *TIMEOUT_STATES):
                self._pool.drop(connection)  # gone, or in an unknown state: never reuse
            else:
                _rollback_or_drop(connection, self._pool)
            raise
        except BaseException:
            _rollback_or_drop(connection, self._pool)
            raise
        self._pool.give(connection)
        return result

    def _read(
        self, prepared: PreparedStatement, values: list[Any], offset: int
    ) -> tuple[FetchedRows, bool, list[str]]:
        case = self.config.column_case
        fold: Callable[[str], str] = (
            str.upper if case == "upper" else str.lower if case == "lower" else str
        )

        def work(connection: Any) -> tuple[FetchedRows, bool, list[str]]:
            cursor = connection.cursor()
            try:
                cursor.execute(prepared.sql, values)
                columns = [fold(column[0]) for column in cursor.description or ()]
                skipped = 0
                while skipped < offset:  # the rows of earlier pages, never kept
                    batch = cursor.fetchmany(min(self.config.fetch_batch, offset - skipped))
                    if not batch:
                        break
                    skipped += len(batch)
                rows: list[Any] = []
                size = 0
                more = False
                while True:
                    batch = cursor.fetchmany(self.config.fetch_batch)
                    if not batch:
                        break
                    # Rows are sized by sampling one in 16 (printing each would cost a
                    # fifth of the fetch): the byte cap is kept to within that estimate.
                    fits, size = rows_within(
                        batch, len(rows), size, prepared.max_rows, prepared.max_bytes
                    )
                    rows += batch if fits == len(batch) else batch[:fits]
                    if fits < len(batch):
                        more = True
                        break
                return FetchedRows(columns, rows), more, columns
            finally:
                cursor.close()
                connection.rollback()  # a read changes nothing, and holds no locks after

        result: tuple[FetchedRows, bool, list[str]] = self._with_connection(work)
        return result

    def _write(self, prepared: PreparedStatement, values: list[Any]) -> int:
        def work(connection: Any) -> int:
            cursor = connection.cursor()
            try:
                cursor.execute(prepared.sql, values)
                affected = int(cursor.rowcount)
                _drain(cursor)
            finally:
                cursor.close()
            if prepared.expect_rows is not None and affected != prepared.expect_rows:
                connection.rollback()
                raise UnexpectedRowCount(
                    f"the statement would touch {affected} row(s), not "
                    f"{prepared.expect_rows}; rolled back",
                    details={"rows_affected": affected, "expected": prepared.expect_rows},
                )
            connection.commit()
            return affected

        affected: int = self._with_connection(work)
        return affected

    # ------------------------------------------------------------------ errors

    def translate_error(self, exc: BaseException) -> GatewayError:
        if isinstance(exc, GatewayError):
            return exc
        pyodbc = self._pyodbc
        if pyodbc is None or not isinstance(exc, pyodbc.Error):
            return BackendUnavailable(f"backend {self.backend}: {type(exc).__name__}: {exc}")
        state = _sqlstate(exc)
        message = self.redact(_message(exc))
        details = {"sqlstate": state}
        lowered = message.lower()
        if (
            state.startswith(LOST_STATES)
            or isinstance(exc, pyodbc.InterfaceError)
            or any(words in lowered for words in LOST_WORDS)
        ):
            return BackendUnavailable(
                f"database of backend {self.backend} unreachable ({state}): {message}",
                details=details,
            )
        if state in TIMEOUT_STATES or any(words in lowered for words in TIMEOUT_WORDS):
            return LegacyTimeout(
                f"statement timed out after {self.config.timeout_s:g} s", details=details
            )
        # SQLite's driver reports every database error as HY000; its words say which.
        if state.startswith("23") or (state == "HY000" and "constraint failed" in message):
            error: GatewayError = LegacyConflict(
                f"the database refused the write ({state}): {message}", details=details
            )
            return error
        if state.startswith("42"):
            return StatementInvalid(
                f"the database rejects the statement ({state}): {message}", details=details
            )
        return LegacyFault(state, message)


def _sqlstate(exc: BaseException) -> str:
    args: tuple[Any, ...] = exc.args
    return str(args[0]) if args and isinstance(args[0], str) else "HY000"


def _message(exc: BaseException) -> str:
    args: tuple[Any, ...] = exc.args
    text = str(args[1]) if len(args) > 1 else str(exc)
    # Drivers prefix messages with their stack of component names: keep the database's words.
    return re.sub(r"^(\[[^\]]*\])+\s*", "", text).strip()


def _drain(cursor: Any) -> None:
    """Read past every result set a procedure returned: MariaDB refuses to commit before."""
    while True:
        if cursor.description:
            cursor.fetchall()
        if not cursor.nextset():
            return


def _rollback_or_drop(connection: Any, pool: _Pool) -> None:
    try:
        connection.rollback()
    except Exception:
        pool.drop(connection)
        return
    pool.give(connection)


def _recordable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _db_system(dbms: str) -> str:
    """The OpenTelemetry ``db.system.name`` of the DBMS an ODBC driver names."""
    known = {
        "postgres": "postgresql",
        "maria": "mariadb",
        "mysql": "mysql",
        "sqlite": "sqlite",
        "db2": "ibm.db2",
        "as/400": "ibm.db2",
        "microsoft sql server": "microsoft.sql_server",
        "oracle": "oracle.db",
    }
    return next((system for name, system in known.items() if name in dbms), "other_sql")
