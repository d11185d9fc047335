"""Submitted calls end once: deadlines on the record, the sweep, replies that are not ours,
the per-installation reply queue, and the stores' one-outcome guard (SQLite here; PostgreSQL
in tests/integration/test_outcome_once.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.amqp import AmqpAdapter
from adapters.amqp_replies import HANDED_ON, hand_ons, queue_name
from adapters.base import Interaction, Reply, Submitted
from adapters.installed import INSTALLED
from gateway.audit.records import RecordContext
from gateway.audit.sqlite_store import SQLiteStore
from gateway.completions import DEFAULT_DEADLINE_S, Completions, deadline_of, due_time
from gateway.config.loader import load_config
from gateway.errors import ConfigError
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = RecordContext("ab" * 16, "cd" * 8, "agent-7", "sha256:v1")


class Headers:
    def __init__(self, headers: Any) -> None:
        self.headers = headers


# ---------------------------------------------------------------- hand-on counts


@given(st.integers(0, 20))
def test_a_small_count_is_read_as_it_is(count: int) -> None:
    assert hand_ons(Headers({HANDED_ON: count}), 20) == count


@given(
    st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=21),
        st.booleans(),
        st.text(),
        st.binary(),
        st.floats(),
        st.decimals(allow_nan=False),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.integers()),
        st.none(),
    )
)
def test_any_other_count_is_the_limit_so_the_reply_stops_circling(value: Any) -> None:
    assert hand_ons(Headers({HANDED_ON: value}), 20) == 20


def test_no_header_is_no_hand_on_yet() -> None:
    assert hand_ons(Headers(None), 20) == 0
    assert hand_ons(Headers({}), 20) == 0
    assert hand_ons(Headers({"other": 3}), 20) == 0


# ---------------------------------------------------------------- installation names


def test_the_installation_id_comes_from_the_salt_and_does_not_show_it() -> None:
    first = Commitments(b"a" * 32).installation_id()
    second = Commitments(b"b" * 32).installation_id()
    assert Commitments(b"a" * 32).installation_id() == first != second
    assert len(first) == 16 and int(first, 16) >= 0
    assert "61616161" not in first  # hex of the salt
    assert queue_name("replies.{installation}", first) == f"replies.{first}"
    assert queue_name("fixed.name", first) == "fixed.name"


def test_the_demo_reply_queue_is_named_per_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERS_REPLY_QUEUE", raising=False)
    config = load_config(ROOT / "mappings" / "demo", INSTALLED)
    backend = config.backends["order_processing"]
    assert backend.reply_queue == "legacy-gateway.order-replies.{installation}"  # type: ignore[attr-defined]
    commitments = Commitments(b"c" * 32)
    adapter = AmqpAdapter("order_processing", backend, commitments)  # type: ignore[arg-type]
    assert adapter.reply_queue == f"legacy-gateway.order-replies.{commitments.installation_id()}"

    monkeypatch.setenv("ORDERS_REPLY_QUEUE", "site.replies")
    config = load_config(ROOT / "mappings" / "demo", INSTALLED)
    assert config.backends["order_processing"].reply_queue == "site.replies"  # type: ignore[attr-defined]


def test_the_demo_prints_its_own_reply_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.demo import reply_queue

    monkeypatch.delenv("ORDERS_REPLY_QUEUE", raising=False)
    monkeypatch.delenv("LEGACY_GATEWAY_AUDIT_KEY", raising=False)
    name = reply_queue(tmp_path / "audit.sqlite")
    assert (tmp_path / "audit-commit.key").is_file()  # made as the gateway would
    salt = (tmp_path / "audit-commit.key").read_bytes()
    assert name == f"legacy-gateway.order-replies.{Commitments(salt).installation_id()}"
    assert reply_queue(tmp_path / "audit.sqlite") == name  # the same on every start
    assert reply_queue(tmp_path / "other" / "audit.sqlite") != name
    monkeypatch.setenv("ORDERS_REPLY_QUEUE", "site.replies")
    assert reply_queue(tmp_path / "audit.sqlite") == "site.replies"


def test_the_name_is_fixed_when_the_adapter_opens(tmp_path: Path) -> None:
    """Its consumer and its messages' reply_to agree: the name of the adapter's own
    installation, fixed when it opens."""
    (tmp_path / "c.yaml").write_text(
        "backends:\n  mq: {adapter: amqp, url: 'amqp://guest:guest@127.0.0.1:1/%2F', "
        "reply_queue: 'r.{installation}'}\n"
    )
    commitments = Commitments(b"d" * 32)
    adapter = build_registry(load_config(tmp_path, INSTALLED), commitments).adapters["mq"]
    assert isinstance(adapter, AmqpAdapter)
    opened = f"r.{commitments.installation_id()}"
    asyncio.run(adapter.open())  # no broker there: the link retries in the background
    try:
        assert adapter._reply_queue == opened
        assert adapter.reply_queue == opened != f"r.{Commitments(b'e' * 32).installation_id()}"
    finally:
        asyncio.run(adapter.close())


def test_a_deadline_on_a_tool_that_waits_for_no_reply_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        """\
backends:
  mq: {adapter: amqp, url: "amqp://127.0.0.1:1/"}
tools:
  tell:
    description: A publish.
    backend: mq
    operation: publish
    reply_deadline_s: 60
    message: {routing_key: q}
"""
    )
    with pytest.raises(ConfigError) as caught:
        build_registry(load_config(tmp_path, INSTALLED), Commitments.throwaway())
    (issue,) = caught.value.issues
    assert issue.key == "tools.tell.reply_deadline_s"
    assert "only submit tools wait for a reply" in issue.message


# ---------------------------------------------------------------- deadlines on the record


def test_the_submitted_record_carries_the_deadline() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert deadline_of(Submitted({}, reply_within_s=90), at) == {
        "reply_deadline_s": 90,
        "reply_by": "2026-01-01T00:01:30+00:00",
    }
    assert deadline_of(Submitted({})) == {}


def test_a_record_without_a_readable_deadline_gets_the_default(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    for reply_by in (None, "soon", "2026-01-01T00:00:00", 17):
        record = store.append("call.submitted", "c", {"reply_by": reply_by})
        expected = dt.datetime.fromisoformat(record.at) + dt.timedelta(seconds=DEFAULT_DEADLINE_S)
        assert due_time(record) == expected
    store.close()


# ---------------------------------------------------------------- the sweep


def submit(store: SQLiteStore, call_id: str, reply_by: dt.datetime) -> None:
    store.append_many(
        [
            ("call.intent", call_id, {"tool": "job", "backend": "mq", "operation": "submit"}),
            ("call.submitted", call_id, {"status": "pending", "reply_by": reply_by.isoformat()}),
        ],
        CONTEXT,
    )


def completions(store: SQLiteStore) -> Completions:
    return Completions(store, dict, lambda tool, answer: answer, dict)


def test_the_sweep_ends_overdue_calls_once_and_leaves_the_others(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    now = dt.datetime.now(dt.UTC)
    submit(store, "overdue", now - dt.timedelta(seconds=1))
    submit(store, "waiting", now + dt.timedelta(hours=1))
    sweeper = completions(store)
    assert sweeper.sweep(now) == ["overdue"]
    assert sweeper.sweep(now) == []
    assert completions(store).sweep(now) == []  # another replica, or after a restart
    (outcome,) = [r for r in store.records_of("overdue") if r.kind == "call.outcome"]
    assert outcome.body["status"] == "error"
    assert outcome.body["error"]["code"] == "reply_overdue"
    assert outcome.body["error"]["call_id"] == "overdue"
    assert outcome.context.principal == "agent-7" and outcome.context.trace_id == "ab" * 16
    assert [r.kind for r in store.records_of("waiting")] == ["call.intent", "call.submitted"]
    assert sweeper.sweep(now + dt.timedelta(hours=2)) == ["waiting"]
    store.close()


def test_a_reply_after_the_deadline_is_late_never_a_second_outcome(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    now = dt.datetime.now(dt.UTC)
    submit(store, "c1", now - dt.timedelta(seconds=1))
    sweeper = completions(store)
    sweeper.sweep(now)

    def describe(prepared: Any) -> Interaction:
        return Interaction("amqp", "mq", "reply", 1, {"correlation_id": "c1"}, {"body": "{}"})

    assert sweeper.complete("c1", Reply(b"{}", describe, "mq", "submit", final=False))
    kinds = [r.kind for r in store.records_of("c1")]
    assert kinds == ["call.intent", "call.submitted", "call.outcome", "interaction.late"]
    store.close()


def test_a_reply_for_another_installation_is_handed_on_until_it_is_final(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    sweeper = completions(store)

    def describe(prepared: Any) -> Interaction:
        return Interaction("amqp", "mq", "reply", 1, {"correlation_id": "x"}, {"body": "{}"})

    assert not sweeper.complete("x", Reply(b"{}", describe, "mq", "submit", final=False))
    assert store.count() == 0  # nothing recorded: another consumer may own it
    assert sweeper.complete("x", Reply(b"{}", describe, "mq", "submit", final=True))
    (kept,) = store.records_of_kind("message.unmatched")
    assert kept.body["correlation_id"] == "x"
    assert kept.call_id is None
    store.close()


# ---------------------------------------------------------------- one outcome, SQLite


def test_racing_outcomes_on_one_file_write_exactly_one(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    stores = [SQLiteStore(path) for _ in range(3)]  # as three processes on one file
    for n in range(20):
        stores[0].append("call.intent", f"c{n}", {"n": n})
    written: list[str] = []
    lock = threading.Lock()

    def race(store: SQLiteStore, who: int) -> None:
        for n in range(20):
            body = {"status": "ok", "by": who}
            if store.append_outcome(f"c{n}", [("call.outcome", f"c{n}", body)]) is not None:
                with lock:
                    written.append(f"c{n}")

    threads = [threading.Thread(target=race, args=(stores[w % 3], w)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(written) == sorted(f"c{n}" for n in range(20))
    for n in range(20):
        kinds = [r.kind for r in stores[1].records_of(f"c{n}")]
        assert kinds == ["call.intent", "call.outcome"]
    # The indexes stay contiguous: the guard and group commit share the writer.
    assert [index for index, _ in stores[2].read(0, 1000)] == list(range(40))
    for store in stores:
        store.close()


def test_open_submissions_are_the_submitted_calls_without_an_outcome(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    for call_id in ("a", "b", "c"):
        submit(store, call_id, later)
    store.append_outcome("b", [("call.outcome", "b", {"status": "ok"})])
    assert [r.call_id for r in store.open_submissions()] == ["a", "c"]
    third = next(r for r in store.records_of("c") if r.kind == "call.submitted")
    assert [r.call_id for r in store.open_submissions(third.index)] == ["c"]
    store.close()


def test_a_decimal_header_is_not_a_count() -> None:
    assert hand_ons(Headers({HANDED_ON: Decimal(3)}), 20) == 20
