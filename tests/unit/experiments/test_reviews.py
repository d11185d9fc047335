"""The review queue: which calls a policy picks, the queue, a review on the record."""

from __future__ import annotations

import pytest

from gateway.audit.records import RecordContext
from gateway.config.models import ReviewPolicy
from gateway.errors import CallNotFound
from gateway.experiments import reviews
from gateway.experiments.split import bucket
from tests.unit.pipeline.fakes import MemoryStore


def test_a_policy_picks_by_sample_effect_error_and_time() -> None:
    every = ReviewPolicy(every_write=True, every_error=True, slower_than_ms=500)
    assert reviews.reasons(every, "c1", "read", None, 10) == []
    assert reviews.reasons(every, "c1", "write", None, 10) == ["write"]
    assert reviews.reasons(every, "c1", "read", "legacy_fault", 10) == ["error:legacy_fault"]
    assert reviews.reasons(every, "c1", "read", None, 900) == ["slow"]
    sample = ReviewPolicy(share=0.25)
    ids = [f"call-{n}" for n in range(4000)]
    picked = [i for i in ids if reviews.reasons(sample, i, "read", None, 1) == ["sampled"]]
    assert picked == [i for i in ids if bucket("review", i) < 0.25]  # stable, no state
    assert abs(len(picked) / len(ids) - 0.25) < 0.03


def test_the_queue_holds_requested_calls_until_reviewed() -> None:
    store = MemoryStore()
    context = RecordContext("t" * 32, None, "key:bot", "sha256:v1")
    store.append("call.intent", "c1", {"tool": "lookup"}, context)
    reviews.request(store, "c1", {"tool": "lookup", "variant": None, "reasons": ["write"]}, context)
    reviews.request(store, "c2", {"tool": "other", "variant": None, "reasons": ["slow"]}, context)
    # Asked again for a reason it is queued for (a parked write run after its approval): the
    # request writes nothing; a new reason is recorded, and the queue holds the call once.
    again = {"tool": "lookup", "variant": None, "reasons": ["write"]}
    assert reviews.request(store, "c1", again, context) is None
    more = {"tool": "lookup", "variant": None, "reasons": ["write", "error:legacy_fault"]}
    assert reviews.request(store, "c1", more, context) is not None
    assert len(store.records_of_kind(reviews.REQUESTED)) == 3
    assert [e["call_id"] for e in reviews.queue(store)] == ["c1", "c2"]
    assert reviews.queue(store)[0]["reasons"] == ["write", "error:legacy_fault"]
    assert [e["call_id"] for e in reviews.queue(store, "other")] == ["c2"]
    # Feedback that is not a review leaves the call in the queue.
    store.append("call.feedback", "c1", {"score": 3}, context)
    assert [e["call_id"] for e in reviews.queue(store)] == ["c1", "c2"]
    stored = reviews.review(store, "c1", {"label": "ok"}, "key:expert", "sha256:v2")
    assert stored.body == {"label": "ok", "review": True, "principal": "key:expert"}
    assert stored.context == RecordContext("t" * 32, None, "key:expert", "sha256:v2")
    assert [e["call_id"] for e in reviews.queue(store)] == ["c2"]
    with pytest.raises(CallNotFound):
        reviews.review(store, "c9", {"label": "ok"}, "key:expert", "sha256:v2")
