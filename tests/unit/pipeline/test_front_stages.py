"""The stages before anything is sent: authorise, arguments, admission."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.audit.records import RecordContext
from gateway.errors import Forbidden, IdempotencyKeyReused, InvalidArguments
from gateway.pipeline.admission import admit
from gateway.pipeline.arguments import intent_of, map_in
from gateway.pipeline.authorise import authorise
from gateway.pipeline.call import Call
from gateway.pipeline.protection import Generation
from gateway.policy.approvals import Approval
from gateway.policy.auth import Principal
from gateway.replay import KeyedCalls
from tests.unit.pipeline.fakes import FakeAdapter, MemoryStore, new_call, with_fake

RECORD = RecordContext("t" * 32, "s" * 16, "key:teller", "sha256:v1")


def prepared(generation: Generation, tool: str, arguments: dict[str, Any], **fields: Any) -> Call:
    chosen = fields.pop("fake", None) or generation.registry.tools[tool]
    call = new_call(chosen, generation, dict(arguments), **fields)
    call.record = RECORD
    call.intent = intent_of(call, None)
    return call


# ------------------------------------------------------------------ authorise


def test_a_caller_outside_its_scopes_is_refused_on_the_record(
    generation: Generation, store: MemoryStore
) -> None:
    caller = Principal("key:bot", ("other_*",), key_id="k1")
    call = new_call(generation.registry.tools["lookup"], generation, {}, caller=caller)
    with pytest.raises(Forbidden) as refused:
        authorise(call, store)
    [record] = store.records
    assert record.kind == "call.forbidden"
    assert record.call_id == refused.value.call_id
    assert record.body["tool"] == "lookup"
    assert record.body["principal"] == "key:bot"
    assert record.body["scopes"] == ["other_*"]
    assert record.body["error"]["code"] == "forbidden"
    assert record.context.config_version == generation.registry.config.version


def test_an_allowed_caller_runs_the_call_under_its_own_name(
    generation: Generation, store: MemoryStore
) -> None:
    caller = Principal("key:teller", ("look*",))
    call = new_call(
        generation.registry.tools["lookup"], generation, {}, caller=caller, principal="spoofed"
    )
    authorise(call, store)
    assert call.principal == "key:teller"
    assert store.records == []


def test_without_a_caller_the_fronts_principal_stands(
    generation: Generation, store: MemoryStore
) -> None:
    call = new_call(generation.registry.tools["lookup"], generation, {}, principal="cli")
    authorise(call, store)
    assert call.principal == "cli"


# ------------------------------------------------------------------ arguments


def test_the_intent_names_the_tool_the_arguments_and_the_instance(
    generation: Generation,
) -> None:
    call = new_call(
        generation.registry.tools["lookup"], generation, {"customer_id": "42"},
        context={"ticket": 7}, idempotency_key="k-1", cursor="c", principal="cli",
    )  # fmt: skip
    call.record = RECORD
    intent = intent_of(call, "host:8080")
    assert intent["tool"] == "lookup"
    assert intent["backend"] == "host"
    assert intent["arguments"] == {"customer_id": "42"}
    assert intent["context"] == {"ticket": 7}
    assert intent["principal"] == "cli"
    assert intent["config_version"] == "sha256:v1"
    assert intent["idempotency_key"] == "k-1"
    assert intent["cursor"] == "c"
    assert intent["instance"] == "host:8080"
    assert "instance" not in intent_of(call, None)


def test_mapped_arguments_become_the_calls_legacy_parameters(
    generation: Generation, store: MemoryStore
) -> None:
    call = prepared(generation, "lookup", {"customer_id": "42"})
    map_in(call, store)
    assert call.params == {"ID": "42"}
    assert store.records == []


def test_bad_arguments_are_rejected_on_the_record(
    generation: Generation, store: MemoryStore
) -> None:
    call = prepared(generation, "lookup", {"customer_id": "forty-two"})
    with pytest.raises(InvalidArguments) as refused:
        map_in(call, store)
    assert refused.value.call_id == "call-1"
    [record] = store.records
    assert record.kind == "call.rejected"
    assert record.body["arguments"] == {"customer_id": "forty-two"}
    assert record.body["error"]["code"] == refused.value.code
    assert record.context == RECORD


def test_an_integer_too_wide_for_the_legacy_side_is_refused_even_in_the_context(
    generation: Generation, store: MemoryStore
) -> None:
    call = prepared(generation, "lookup", {"customer_id": "1"}, context={"n": 2**70})
    with pytest.raises(InvalidArguments):
        map_in(call, store)
    assert store.kinds() == ["call.rejected"]
    assert call.params is None


# ------------------------------------------------------------------ admission


def test_admission_writes_the_intent_and_lets_the_call_go_on(
    generation: Generation, store: MemoryStore
) -> None:
    call = prepared(generation, "lookup", {"customer_id": "42"})
    map_in(call, store)
    assert asyncio.run(admit(call, store, KeyedCalls(store))) is None
    [record] = store.records
    assert (record.kind, record.call_id, record.body) == ("call.intent", "call-1", call.intent)


def test_a_repeated_key_answers_from_the_first_call_and_writes_no_intent(
    generation: Generation, store: MemoryStore
) -> None:
    keys = KeyedCalls(store)
    first = prepared(generation, "lookup", {"customer_id": "42"}, idempotency_key="k-1")
    map_in(first, store)
    assert asyncio.run(admit(first, store, keys)) is None
    store.append("call.outcome", "call-1", {"status": "ok", "result": {"name": "Ada"}}, RECORD)

    again = prepared(
        generation, "lookup", {"customer_id": "42"}, idempotency_key="k-1", call_id="call-2"
    )
    map_in(again, store)
    answer = asyncio.run(admit(again, store, keys))
    assert answer is not None and answer.replayed
    assert (answer.call_id, answer.status, answer.result) == ("call-1", "ok", {"name": "Ada"})
    assert store.kinds() == ["call.intent", "call.outcome", "call.replayed"]
    assert store.records_of("call-2") == []


def test_a_key_reused_for_other_arguments_is_refused(
    generation: Generation, store: MemoryStore
) -> None:
    keys = KeyedCalls(store)
    first = prepared(generation, "lookup", {"customer_id": "42"}, idempotency_key="k-1")
    assert asyncio.run(admit(first, store, keys)) is None
    other = prepared(
        generation, "lookup", {"customer_id": "43"}, idempotency_key="k-1", call_id="call-2"
    )
    with pytest.raises(IdempotencyKeyReused):
        asyncio.run(admit(other, store, keys))


def test_a_key_is_given_back_when_the_intent_cannot_be_written(
    generation: Generation, store: MemoryStore
) -> None:
    class Failing(MemoryStore):
        def append_many(self, entries, context=None):  # type: ignore[no-untyped-def]
            raise OSError("disk full")

    failing = Failing()
    call = prepared(generation, "lookup", {"customer_id": "42"}, idempotency_key="k-1")
    with pytest.raises(OSError):
        asyncio.run(admit(call, failing, KeyedCalls(failing)))
    assert failing.released == [("anonymous", "k-1", "call-1")]
    assert failing.keys == {}


def test_a_write_needing_approval_is_parked_with_its_preview(
    generation: Generation, store: MemoryStore
) -> None:
    caller = Principal("key:teller", ("update",), key_id="k9")
    tool = with_fake(generation.registry.tools["update"], FakeAdapter())
    call = prepared(
        generation, "update", {"customer_id": "42", "name": "Bo"}, caller=caller,
        principal="key:teller", fake=tool,
    )  # fmt: skip
    map_in(call, store)
    answer = asyncio.run(admit(call, store, KeyedCalls(store)))
    assert answer is not None and answer.status == "awaiting_approval"
    [approval] = store.approvals
    assert approval.call_id == "call-1"
    assert approval.preview == {"would_send": {"ID": "42", "NAME": "Bo"}}
    assert answer.result["preview"] == approval.preview
    assert approval.principal == "key:teller"
    assert approval.scopes == ["update"]
    assert approval.key_id == "k9"
    assert approval.arguments == {"customer_id": "42", "name": "Bo"}
    assert answer.result["approval_id"] == approval.approval_id
    assert answer.result["decide"] == f"/v1/approvals/{approval.approval_id}"
    [record] = store.records
    assert record.kind == "approval.requested"
    assert record.body["approval_id"] == approval.approval_id
    assert record.body["tool"] == "update"


def test_an_approved_call_writes_its_intent_with_the_grant_and_claims_no_key(
    generation: Generation, store: MemoryStore
) -> None:
    grant = Approval(
        approval_id="ap-1", call_id="call-1", tool="update", tool_version="v",
        principal="key:teller", trace_id="t" * 32, span_id=None,
        arguments={"customer_id": "42", "name": "Bo"}, context={}, preview={},
        preview_hash="h", requested_at="2026-01-01T00:00:00+00:00",
        expires_at="2026-01-02T00:00:00+00:00", status="approved", decided_by="key:boss",
        decided_at="2026-01-01T01:00:00+00:00", idempotency_key="k-1",
    )  # fmt: skip
    call = prepared(
        generation, "update", {"customer_id": "42", "name": "Bo"}, approval=grant,
        idempotency_key="k-1",
    )  # fmt: skip
    map_in(call, store)
    assert asyncio.run(admit(call, store, KeyedCalls(store))) is None
    assert store.keys == {}
    [record] = store.records
    assert record.kind == "call.intent"
    assert record.body["approval"] == {
        "approval_id": "ap-1", "approved_by": "key:boss",
        "approved_at": "2026-01-01T01:00:00+00:00",
    }  # fmt: skip


def test_a_dry_run_of_a_write_needing_approval_is_not_parked(
    generation: Generation, store: MemoryStore
) -> None:
    call = prepared(generation, "update", {"customer_id": "42", "name": "Bo"}, dry_run=True)
    map_in(call, store)
    assert asyncio.run(admit(call, store, KeyedCalls(store))) is None
    assert store.kinds() == ["call.intent"]
    assert store.approvals == []
