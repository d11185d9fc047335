"""Idempotency keys in the store, and a first call's answer read back from its records."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.views import call_view
from gateway.errors import CallInProgress, InvalidArguments, ReplayedError
from gateway.policy.idempotency import check_key, fingerprint, may_try_again, replayed_answer


def test_a_key_is_claimed_once_per_principal(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    assert store.claim_key("anonymous", "k1", "call-1", "f1") is None
    assert store.claim_key("anonymous", "k1", "call-2", "f2") == ("call-1", "f1")
    # Another principal's key of the same name is another key.
    assert store.claim_key("cli", "k1", "call-3", "f1") is None
    # A claim given back (the call never started) can be taken again.
    store.release_key("anonymous", "k1", "call-1")
    assert store.claim_key("anonymous", "k1", "call-4", "f4") is None
    # Releasing with the wrong call id releases nothing.
    store.release_key("anonymous", "k1", "call-1")
    assert store.claim_key("anonymous", "k1", "call-5", "f5") == ("call-4", "f4")


def test_two_stores_on_one_file_share_their_keys(tmp_path: Path) -> None:
    serve, cli = SQLiteStore(tmp_path / "a.sqlite"), SQLiteStore(tmp_path / "a.sqlite")
    assert serve.claim_key("p", "k", "c1", "f") is None
    assert cli.claim_key("p", "k", "c2", "f") == ("c1", "f")


def test_fingerprints_tell_tools_and_arguments_apart() -> None:
    base = fingerprint("place_order", {"a": 1, "b": [1, 2]})
    assert base == fingerprint("place_order", {"b": [1, 2], "a": 1})
    assert base != fingerprint("cancel_order", {"a": 1, "b": [1, 2]})
    assert base != fingerprint("place_order", {"a": 2, "b": [1, 2]})


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidArguments, match="Idempotency-Key"):
        check_key(key)


def test_replayed_answers_follow_the_first_calls_record(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.append("call.intent", "c1", {"tool": "t", "idempotency_key": "k"})
    with pytest.raises(CallInProgress) as running:
        replayed_answer(call_view("c1", store.records_of("c1")))
    assert running.value.status == 409 and running.value.retryable

    store.append("call.submitted", "c1", {"status": "pending", "result": {"poll": "/v1/calls/c1"}})
    view = call_view("c1", store.records_of("c1"))
    assert view["idempotency_key"] == "k"
    assert replayed_answer(view) == ("pending", {"poll": "/v1/calls/c1"})

    store.append("call.outcome", "c1", {"status": "ok", "result": {"n": 1}})
    assert replayed_answer(call_view("c1", store.records_of("c1"))) == ("ok", {"n": 1})


def test_a_replayed_error_keeps_its_code_and_status(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.append("call.intent", "c2", {"tool": "t"})
    error = {"code": "legacy_timeout", "message": "no reply", "retryable": True, "details": {}}
    store.append("call.outcome", "c2", {"status": "error", "error": error})
    with pytest.raises(ReplayedError) as caught:
        replayed_answer(call_view("c2", store.records_of("c2")))
    replayed = caught.value
    assert (replayed.code, replayed.status, replayed.retryable) == ("legacy_timeout", 504, True)
    assert replayed.to_dict() == {**error, "call_id": "c2"}


def test_a_quick_reply_recorded_before_the_submission_still_wins(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.append("call.intent", "c3", {"tool": "t"})
    store.append("call.outcome", "c3", {"status": "ok", "result": {"done": True}})
    store.append("call.submitted", "c3", {"status": "pending", "result": {"poll": "x"}})
    view = call_view("c3", store.records_of("c3"))
    assert view["status"] == "ok"
    assert view["result"] == {"done": True}


def test_a_key_of_a_call_awaiting_approval_answers_the_approval_then_its_decision(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.append("approval.requested", "c4", {"tool": "t", "approval_id": "apr_1",
                                              "preview": {"sql": "INSERT"},
                                              "expires_at": "2030-01-01"})  # fmt: skip
    assert replayed_answer(call_view("c4", store.records_of("c4"))) == (
        "awaiting_approval",
        {"approval_id": "apr_1", "preview": {"sql": "INSERT"}, "expires_at": "2030-01-01",
         "decide": "/v1/approvals/apr_1"},
    )  # fmt: skip
    store.append("approval.decided", "c4", {"decision": "approved", "by": "key:boss"})
    store.append("call.intent", "c4", {"tool": "t"})
    with pytest.raises(CallInProgress):  # approved and running: not awaiting any more
        replayed_answer(call_view("c4", store.records_of("c4")))
    store.append("call.outcome", "c4", {"status": "ok", "result": {"booked": 1}})
    assert replayed_answer(call_view("c4", store.records_of("c4"))) == ("ok", {"booked": 1})


@pytest.mark.parametrize(
    ("status", "error", "again"),
    [
        ("error", {"code": "legacy_timeout", "retryable": True}, True),
        ("error", {"code": "backend_unavailable", "retryable": True}, True),
        ("error", {"code": "legacy_fault", "retryable": False}, False),
        ("outcome_unknown", {"code": "outcome_unknown", "retryable": False}, False),
        ("ok", None, False),
    ],
)
def test_only_retryable_failures_let_a_key_try_again(
    status: str, error: dict[str, object] | None, again: bool
) -> None:
    assert may_try_again({"status": status, "error": error}) is again
