"""The SQLite store: append-only records with their index, group commit, two processes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import orjson
import pytest

from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.sqlite_store import SQLiteStore
from gateway.errors import AuditUnavailable
from gateway.policy.auth import new_key


def test_records_carry_their_index_and_context(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    context = RecordContext("t" * 32, "s" * 16, "agent-7", "sha256:abc")
    first = store.append("call.intent", "c1", {"tool": "t"}, context)
    second, third = store.append_many(
        [("interaction", "c1", {"n": 1}), ("call.outcome", "c1", {})], context
    )
    assert [first.index, second.index, third.index] == [0, 1, 2]
    assert [r.kind for r in store.records_of("c1")] == [
        "call.intent",
        "interaction",
        "call.outcome",
    ]
    ((index, data),) = store.read(1, 2)
    assert index == 1
    assert orjson.loads(data) == {
        "index": 1,
        "at": second.at,
        "kind": "interaction",
        "call_id": "c1",
        "trace_id": "t" * 32,
        "span_id": "s" * 16,
        "principal": "agent-7",
        "config_version": "sha256:abc",
        "body": {"n": 1},
    }
    assert store.count() == 3


def test_the_tables_refuse_updates_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    store = SQLiteStore(path)
    store.append("call.intent", "c", {})
    AuditLog(store, AuditSettings(tmp_path / "key")).sync()  # a leaf and a checkpoint
    raw = sqlite3.connect(path)
    for statement in (
        "UPDATE records SET data = x'00'",
        "DELETE FROM records",
        "DELETE FROM checkpoints",
        "UPDATE leaves SET hash = x'00'",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(statement)


def test_two_writers_on_one_file_never_reuse_an_index(tmp_path: Path) -> None:
    # `serve` and a `legacy-gateway call` may share the file: each caches the next index.
    serve, cli = SQLiteStore(tmp_path / "a.sqlite"), SQLiteStore(tmp_path / "a.sqlite")
    for i in range(50):
        (serve if i % 3 else cli).append_many([("a", "c", {"i": i}), ("b", "c", {"i": i})])
        cli.append("x", None, {"i": i})
    rows = serve.read(0, 1000)
    assert [index for index, _ in rows] == list(range(150))
    assert [orjson.loads(data)["index"] for _, data in rows] == list(range(150))


def test_concurrent_appends_share_commits_and_keep_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    results: dict[int, list[int]] = {}

    def call(worker: int) -> None:
        for n in range(100):
            records = store.append_many(
                [("call.intent", f"w{worker}-{n}", {}), ("call.outcome", f"w{worker}-{n}", {})]
            )
            results.setdefault(worker, []).extend(r.index for r in records)

    threads = [threading.Thread(target=call, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(i for indexes in results.values() for i in indexes)
    assert every == list(range(1600))
    for indexes in results.values():  # a call's records are adjacent, in order
        assert all(b == a + 1 for a, b in zip(indexes[::2], indexes[1::2], strict=True))


def test_the_calls_of_one_loop_turn_share_one_commit(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    commits: list[int] = []
    write = store._write
    store._write = lambda groups: commits.append(len(groups)) or write(groups)  # type: ignore[method-assign]

    async def calls() -> list[list[int] | str]:
        async def one(n: int) -> list[int]:
            records = await store.commit_many(
                [("interaction", f"c{n}", {}), ("call.outcome", f"c{n}", {"n": n})]
            )
            return [r.index for r in records]

        async def bad() -> str:
            with pytest.raises(AuditUnavailable, match="a record cannot be written"):
                await store.commit_many([("call.intent", "bad", {"bad": object()})])
            return "refused"

        return await asyncio.gather(one(0), bad(), one(1), one(2))

    answers = asyncio.run(calls())
    assert commits == [4]  # one transaction for the turn; the bad group failed alone
    assert answers == [[0, 1], "refused", [2, 3], [4, 5]]
    assert [(r.kind, r.call_id) for r in store.records_of("c1")] == [
        ("interaction", "c1"), ("call.outcome", "c1")
    ]  # fmt: skip
    # Committed when answered: another connection reads them.
    with sqlite3.connect(tmp_path / "a.sqlite") as other:
        assert other.execute("SELECT count(*) FROM records").fetchone()[0] == 6


def test_a_call_cancelled_while_its_records_commit_learns_they_were_written(
    tmp_path: Path,
) -> None:
    """As with a synchronous append: the records are written, the caller is told so, and
    the cancellation reaches it at its next wait."""
    store = SQLiteStore(tmp_path / "a.sqlite")
    seen: list[object] = []

    async def call() -> None:
        records = await store.commit_many([("call.intent", "c", {})])
        seen.append([r.index for r in records])
        await asyncio.sleep(0)
        seen.append("went on")

    async def main() -> None:
        task = asyncio.create_task(call())
        await asyncio.sleep(0)  # the call is waiting for its commit
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert seen == [[0]]
    assert store.count() == 1


def test_a_record_that_cannot_be_encoded_fails_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    with pytest.raises(AuditUnavailable, match="a record cannot be written"):
        store.append("call.intent", "c", {"bad": object()})
    assert store.append("call.intent", "c", {"fine": 1}).index == 0


def test_a_closed_store_refuses_to_record(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.close()
    with pytest.raises(AuditUnavailable, match="cannot"):
        store.append("call.intent", "c", {})


def test_append_unless_writes_only_what_the_calls_records_do_not_hold(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.append("call.intent", "c", {})
    first = store.append_unless("c", "review.requested", [("review.requested", "c", {"r": 1})])
    assert first is not None and [r.index for r in first] == [1]
    assert store.append_unless("c", "review.requested", [("review.requested", "c", {})]) is None

    # ``already`` reads the call's records of that kind, in log order.
    def holds_two(records: list[StoredRecord]) -> bool:
        return [r.body.get("r") for r in records] == [1, 2]

    second = store.append_unless("c", "review.requested", [("review.requested", "c", {"r": 2})],
                                 None, holds_two)  # fmt: skip
    assert second is not None and [r.index for r in second] == [2]
    assert store.append_unless("c", "review.requested", [], None, holds_two) is None
    # A record of another call, or of another kind, is not a reason to skip.
    assert store.append_unless("d", "review.requested", [("review.requested", "d", {})])
    assert store.append_unless("c", "call.outcome", [("call.outcome", "c", {})])

    # A record that cannot be encoded writes nothing and takes no index.
    with pytest.raises(AuditUnavailable, match="cannot be written"):
        store.append_unless("e", "review.requested", [("review.requested", "e", {"x": object()})])
    assert store.append("x", None, {}).index == 5
    assert [index for index, _ in store.read(0, 100)] == list(range(6))


def test_two_writers_racing_to_append_unless_write_once_per_call(tmp_path: Path) -> None:
    # Two connections on one file stand for two processes (workers) racing.
    stores = [SQLiteStore(tmp_path / "a.sqlite") for _ in range(2)]
    won: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def race(who: int) -> None:
        store = stores[who % 2]
        start.wait()
        for n in range(30):
            entries = [("review.requested", f"c{n}", {"by": who})]
            if store.append_unless(f"c{n}", "review.requested", entries) is not None:
                with lock:
                    won.append(f"c{n}")
            store.append("call.feedback", f"c{n}", {"by": who})  # plain appends meanwhile

    threads = [threading.Thread(target=race, args=(who,)) for who in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == sorted(f"c{n}" for n in range(30))
    requested = stores[1].records_of_kind("review.requested")
    assert sorted(r.call_id or "" for r in requested) == sorted(won)
    rows = stores[0].read(0, 10_000)
    assert [index for index, _ in rows] == list(range(30 + 6 * 30))
    assert [orjson.loads(data)["index"] for _, data in rows] == list(range(30 + 6 * 30))


def test_every_revocation_moves_the_key_generation_other_processes_read(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    other = SQLiteStore(tmp_path / "a.sqlite")
    created = new_key("teller-bot", ["get_*"], "2026-01-02T03:04:05Z")
    store.add_key(created.stored)
    assert other.key_generation() == 0
    store.revoke_key(created.stored.key_id, "2026-01-03T00:00:00Z")
    assert other.key_generation() == 1
    store.revoke_key(created.stored.key_id, "2026-01-04T00:00:00Z")
    assert other.key_generation() == 2


def _steps(store: SQLiteStore, work: Callable[[], object]) -> int:
    """The SQLite VM instructions (in hundreds) that ``work()`` runs on the store's connection."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    store._db.set_progress_handler(count, 100)
    try:
        work()
    finally:
        store._db.set_progress_handler(None, 100)
    return steps


def test_a_calls_outcome_is_looked_up_by_its_id_not_among_every_outcome(tmp_path: Path) -> None:
    # Outcomes of other calls pile up with the log; writing one call's outcome (a late AMQP
    # reply, under the log's write lock) and finding the open submissions must not read them.
    store = SQLiteStore(tmp_path / "a.sqlite")
    costs = []
    for round_ in range(3):
        store.append_many([("call.outcome", f"done-{round_}-{n}", {}) for n in range(3_000)])
        call_id = f"submitted-{round_}"
        store.append("call.submitted", call_id, {"tool": "place_order"})
        found = _steps(store, lambda: store.open_submissions(0))
        written = _steps(
            store, partial(store.append_outcome, call_id, [("call.outcome", call_id, {})])
        )
        costs.append((found, written))
    (found_first, written_first), _, (found_last, written_last) = costs
    # 3,000 and then 9,000 other outcomes: the cost of the call's own rows, and the index's depth.
    assert written_last <= written_first + 5
    assert found_last <= found_first * 2 + 5


def test_records_of_a_kind_from_an_index_on_are_read_from_that_index_on(tmp_path: Path) -> None:
    # What a stopping gateway (its calls left unfinished since its lease began) and the sweep
    # of open submissions ask: the range of the kind's records from ``since``, not all of them.
    store = SQLiteStore(tmp_path / "a.sqlite")
    try:
        plan = " ".join(row[3] for row in store._db.execute(
            "EXPLAIN QUERY PLAN SELECT data FROM records r WHERE r.idx >= ? "
            "AND r.kind IN ('call.intent') ORDER BY r.idx", (5,),
        ))  # fmt: skip
        assert "records_kind (kind=? AND rowid>?)" in plan, plan
    finally:
        store.close()


class _OffTheLoop(SQLiteStore):
    """The SQLite store committing as the network stores do, in its committing thread."""

    COMMITS_OFF_LOOP = True


def test_off_the_loop_a_commit_holds_its_calls_not_the_loop(tmp_path: Path) -> None:
    """While a commit waits (here: for the test), the loop goes on serving, and what is
    appended meanwhile is committed as one batch once the commit is done."""
    store = _OffTheLoop(tmp_path / "a.sqlite")
    entered, release = threading.Event(), threading.Event()
    batches: list[int] = []
    write = store._write

    def held(groups: list) -> list:  # type: ignore[type-arg]
        batches.append(len(groups))
        if len(batches) == 1:
            entered.set()
            assert release.wait(10)
        assert threading.current_thread() is not threading.main_thread()
        return write(groups)

    store._write = held  # type: ignore[method-assign]

    async def one(n: int) -> list[int]:
        records = await store.commit_many([("call.intent", f"c{n}", {"n": n})])
        return [r.index for r in records]

    async def main() -> list[list[int]]:
        first = asyncio.create_task(one(0))
        # The loop is free while the commit waits: this very wait runs on it.
        assert await asyncio.to_thread(entered.wait, 10)
        later = [asyncio.create_task(one(n)) for n in (1, 2, 3)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert not first.done() and not any(task.done() for task in later)
        release.set()
        return await asyncio.gather(first, *later)

    assert asyncio.run(main()) == [[0], [1], [2], [3]]
    assert batches == [1, 3]  # the three appended meanwhile shared one commit
    store.close()


def test_off_the_loop_a_refused_record_fails_alone_and_a_closed_store_refuses(
    tmp_path: Path,
) -> None:
    store = _OffTheLoop(tmp_path / "a.sqlite")

    async def main() -> list[object]:
        async def bad() -> str:
            with pytest.raises(AuditUnavailable, match="a record cannot be written"):
                await store.commit_many([("call.intent", "bad", {"bad": object()})])
            return "refused"

        async def good() -> int:
            return (await store.commit_many([("call.intent", "good", {})]))[0].index

        return list(await asyncio.gather(bad(), good()))

    assert asyncio.run(main()) == ["refused", 0]
    store.close()

    async def after_close() -> None:
        await store.commit_many([("call.intent", "late", {})])

    with pytest.raises(AuditUnavailable, match="the audit store is closed"):
        asyncio.run(after_close())
