"""Tampering with the PostgreSQL store (a schema of its own per test, on the real server):
the same mutations as on SQLite, plus what only PostgreSQL has (the head counter,
TRUNCATE), refused by the triggers or caught and located by ``audit verify``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.audit.bundle import verify_store
from gateway.audit.checkpoint import Signer
from gateway.audit.log import AuditLog
from gateway.audit.postgres_store import PostgresStore
from tests.security.tamper_store import (
    ATTACKS,
    ORIGIN,
    Attack,
    Raw,
    Statement,
    fill,
    pruned_and_verified,
    q,
    refused_or_located,
    verify,
)
from tests.services import PG_SERVER as SERVER
from tests.services import pg_schema

LOG_TABLES = ("records", "leaves", "nodes", "checkpoints", "pruned", "log_head")


class RawPostgres(Raw):
    def __init__(self, schema: str) -> None:
        self.schema = schema

    def _connect(self) -> Any:
        connection = psycopg.connect(SERVER, autocommit=True)
        connection.execute(f'SET search_path TO "{self.schema}"')
        return connection

    def run(self, *statements: Statement) -> None:
        with self._connect() as connection, connection.transaction():
            for sql, params in statements:
                connection.execute(sql.replace("?", "%s"), params)

    def drop_triggers(self) -> None:
        with self._connect() as connection:
            for table in LOG_TABLES:
                connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")

    def one(self, sql: str, *params: Any) -> Any:
        with self._connect() as connection:
            return connection.execute(sql.replace("?", "%s"), params).fetchone()[0]

    def set_head(self, size: int) -> Statement | None:
        return q("UPDATE log_head SET next = ?", size)


@dataclass
class Log:
    store: PostgresStore
    audit: AuditLog
    raw: RawPostgres


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    with pg_schema("tamper") as url:
        store = PostgresStore(url)
        try:
            yield Log(store, fill(store, tmp_path / "keys"), RawPostgres(url.rsplit("=", 1)[1]))
        finally:
            store.close()


@pytest.fixture
def other(tmp_path: Path) -> Signer:
    return Signer.load_or_create(tmp_path / "other" / "signing.key", ORIGIN)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_a_mutation_is_refused_or_caught_and_located(
    attack: Attack, log: Log, other: Signer
) -> None:
    refused_or_located(attack, log.store, log.audit, log.raw, other, psycopg.errors.RaiseException)


@pytest.mark.parametrize("table", LOG_TABLES)
def test_truncate_is_refused_on_every_log_table(log: Log, table: str) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        log.raw.run(q(f"TRUNCATE {table} CASCADE"))


def test_the_head_counter_cannot_be_moved_back(log: Log) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        log.raw.run(q("UPDATE log_head SET next = 20"))
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        log.raw.run(q("DELETE FROM log_head"))
    log.raw.drop_triggers()
    log.raw.run(q("UPDATE log_head SET next = 20"))  # the store now claims 20 records
    report = verify(log.store, log.audit.signer.verifier)
    assert report.first_bad_index == 20
    assert "the log holds 20 records but a checkpoint signed" in report.problems[0]


def test_a_legitimate_prune_verifies_and_a_hand_made_one_does_not(log: Log, tmp_path: Path) -> None:
    pruned_and_verified(log.store, log.audit, tmp_path / "gone")
    key = log.audit.signer.verifier
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        log.raw.run(q("DELETE FROM records WHERE idx < 21"))
    log.raw.drop_triggers()
    log.raw.run(q("DELETE FROM records WHERE idx < 21"))
    report = verify_store(log.store, key, minimum_days=0)
    assert report.first_bad_index == 18
    assert "records 18 to 20 are missing from the store" in report.problems[0]
