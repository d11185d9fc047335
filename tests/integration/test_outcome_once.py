"""One outcome per call on a PostgreSQL store shared by replicas, however they race."""

from __future__ import annotations

import threading

import pytest

from gateway.audit.postgres_store import PostgresStore


def test_replicas_racing_to_end_the_same_calls_write_one_outcome_each(pg_store_url: str) -> None:
    replicas = [PostgresStore(pg_store_url) for _ in range(3)]
    try:
        for n in range(15):
            replicas[0].append("call.intent", f"c{n}", {"n": n})
        won: list[tuple[str, int]] = []
        lock = threading.Lock()

        def race(who: int) -> None:
            store = replicas[who % 3]
            for n in range(15):
                entries = [
                    ("interaction", f"c{n}", {"by": who}),
                    ("call.outcome", f"c{n}", {"status": "ok", "by": who}),
                ]
                if store.append_outcome(f"c{n}", entries) is not None:
                    with lock:
                        won.append((f"c{n}", who))
                # Ordinary appends keep going meanwhile, on every replica.
                store.append("call.feedback", f"c{n}", {"by": who})

        threads = [threading.Thread(target=race, args=(who,)) for who in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(call for call, _ in won) == sorted(f"c{n}" for n in range(15))
        for call, who in won:
            records = replicas[1].records_of(call)
            outcomes = [r for r in records if r.kind == "call.outcome"]
            assert len(outcomes) == 1 and outcomes[0].body["by"] == who
            # The winner's interaction is right before its outcome: written together.
            place = records.index(outcomes[0])
            assert records[place - 1].kind == "interaction"
            assert records[place - 1].body["by"] == who
        indexes = [index for index, _ in replicas[2].read(0, 10_000)]
        assert indexes == list(range(15 + 15 * 2 + 6 * 15))
        assert replicas[0].open_submissions() == []
    finally:
        for store in replicas:
            store.close()


def test_an_outcome_that_cannot_be_encoded_gives_its_indexes_back(pg_store_url: str) -> None:
    store = PostgresStore(pg_store_url)
    try:
        store.append("call.intent", "c", {})
        with pytest.raises(Exception, match="cannot be written"):
            store.append_outcome("c", [("call.outcome", "c", {"bad": object()})])
        assert store.count() == 1
        assert store.append_outcome("c", [("call.outcome", "c", {"status": "ok"})]) is not None
        assert [index for index, _ in store.read(0, 10)] == [0, 1]
    finally:
        store.close()
