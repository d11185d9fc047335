"""Appenders in several processes on one PostgreSQL log: every record acknowledged once, at
the index it was told, the log without a gap, each record stored as ``encode`` writes it, and
the whole verifiable."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from gateway.audit.bundle import verify_store
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.postgres_store import PostgresStore
from gateway.audit.records import encode
from gateway.errors import AuditUnavailable
from tests.integration.support import ROOT
from tests.services import PG_SERVER as SERVER

PROCESSES = 3
THREADS = 3
CALLS = 40
BODY = {"request": "<r>" + "x" * 300 + "</r>", "amount": 12.5, "note": "é\u2028\"'\\"}


def append_calls(url: str, process: int) -> None:
    """One process's share (run in a child): its calls, as the pipeline writes them (the
    intent alone, then the interaction and the outcome together); prints what it was told."""
    store = PostgresStore(url)
    told: list[dict[str, object]] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        for n in range(CALLS):
            call = f"p{process}-t{thread}-{n}"
            intent = store.append_many([("call.intent", call, {**BODY, "n": n})])
            rest = store.append_many(
                [("interaction", call, BODY), ("call.outcome", call, {"ok": True})]
            )
            with lock:
                told.extend(
                    {"index": r.index, "at": r.at, "kind": r.kind, "call_id": r.call_id,
                     "data": encode(r).decode()}
                    for r in intent + rest
                )  # fmt: skip

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    print(json.dumps(told))


def test_appenders_in_several_processes_make_one_gapless_verifiable_log(
    pg_store_url: str, tmp_path: Path
) -> None:
    PostgresStore(pg_store_url).close()  # the tables, before the processes race to them
    script = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        "from tests.integration.test_audit_postgres_appenders import append_calls; "
        "append_calls(sys.argv[1], int(sys.argv[2]))"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, pg_store_url, str(process)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for process in range(PROCESSES)
    ]
    told = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        told.extend(json.loads(out))
    total = PROCESSES * THREADS * CALLS * 3
    assert len(told) == total

    store = PostgresStore(pg_store_url)
    try:
        assert store.count() == total
        rows = store.read(0, total + 1)
        assert [index for index, _ in rows] == list(range(total))  # each index once, no gap
        stored = dict(rows)
        for record in told:
            assert stored[record["index"]] == record["data"].encode()  # as the appender said
        by_index = sorted(told, key=lambda r: r["index"])
        times = [record["at"] for record in by_index]
        assert times == sorted(times)  # times follow indexes, whichever process wrote them
        calls: dict[str, list[tuple[int, str]]] = {}
        for record in by_index:
            calls.setdefault(record["call_id"], []).append((record["index"], record["kind"]))
        assert len(calls) == PROCESSES * THREADS * CALLS
        for found in calls.values():
            assert [kind for _, kind in found] == ["call.intent", "interaction", "call.outcome"]
            assert found[2][0] == found[1][0] + 1  # one group: adjacent
        log = AuditLog(store, AuditSettings(tmp_path / "signing.key"))
        checkpoint = log.sync()
        assert checkpoint is not None and checkpoint.size == total
        report = verify_store(store, log.signer.verifier)
        assert report.ok, report.problems
    finally:
        store.close()


def test_a_group_that_cannot_be_written_fails_alone_and_leaves_no_gap(pg_store_url: str) -> None:
    store = PostgresStore(pg_store_url)
    try:
        store.append("call.intent", "a", {})
        results = store._append_groups(
            [
                ([("call.intent", "b", {})], None),
                ([("call.intent", "c", {}), ("call.outcome", "c", {"bad": object()})], None),
                ([("call.intent", "d", {}), ("call.outcome", "d", {})], None),
            ]
        )
        assert isinstance(results[1], AuditUnavailable)
        assert [[r.index for r in group] for group in (results[0], results[2])] == [[1], [2, 3]]
        assert [index for index, _ in store.read(0, 10)] == [0, 1, 2, 3]
        assert store.append("call.outcome", "a", {}).index == 4
    finally:
        store.close()


def test_a_server_that_refuses_the_flush_gets_commits_that_wait_for_the_disk(
    pg_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PostgresStore, "_can_flush", lambda self: False)
    store = PostgresStore(pg_store_url)
    try:
        setting = store._writer.execute("SHOW synchronous_commit").fetchone()
        with psycopg.connect(SERVER) as fresh:
            default = fresh.execute("SHOW synchronous_commit").fetchone()
        assert setting == default  # the server's own: each commit waits for the disk
        records = store.append_many([("call.intent", "a", {}), ("call.outcome", "a", {})])
        assert [r.index for r in records] == [0, 1]
        assert store.append_outcome("a", [("call.outcome", "a", {})]) is None
    finally:
        store.close()


def test_a_writer_commit_is_on_disk_before_the_append_returns(pg_store_url: str) -> None:
    """The writer commits without waiting for the disk; the append waits for the flush."""
    store = PostgresStore(pg_store_url)
    flushed: list[int] = []
    flush = store._durable

    def counting() -> None:
        flush()
        flushed.append(store._flushed)

    store._durable = counting  # type: ignore[method-assign]
    try:
        assert store._writer.execute("SHOW synchronous_commit").fetchone() == ("off",)
        store.append("call.intent", "a", {})
        assert flushed == [1]
        store.append_outcome("a", [("call.outcome", "a", {})])
        assert flushed == [1, 2]
    finally:
        store.close()


def test_a_batch_the_server_refuses_moves_nothing_and_the_writer_goes_on(
    pg_store_url: str,
) -> None:
    store = PostgresStore(pg_store_url)
    try:
        store.append("call.intent", "a", {})
        schema = pg_store_url.rsplit("=", 1)[1]
        with psycopg.connect(SERVER, autocommit=True) as raw:
            raw.execute(f'SET search_path TO "{schema}"')
            # A row at the next index behind the counter's back: the next claim collides.
            raw.execute("INSERT INTO records VALUES (1, 'now', 'forged', NULL, '{}')")
        for _ in range(2):  # the failed transaction is ended: the second fails the same way
            with pytest.raises(AuditUnavailable, match="append-only"):
                store.append_many([("call.intent", "b", {}), ("call.outcome", "b", {})])
        assert store.count() == 1  # the claim went back with the insert
        assert store.records_of("a")[0].index == 0
    finally:
        store.close()
