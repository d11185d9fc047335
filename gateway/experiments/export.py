"""Corrections as data: every judgement of a call (reviews and other feedback) with what the
call was, as JSON Lines for evaluation sets, few-shot examples or fine-tuning.

Arguments and results are read from the record, where sensitive values are already
commitments; a review's correction is committed the same way when it is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from gateway.experiments.reading import RecordReader
from gateway.experiments.report import since_of

KINDS = ("call.intent", "call.rejected", "call.outcome", "call.feedback")


def corrections(
    store: RecordReader,
    tool: str | None = None,
    since: str | None = None,
    label: str | None = None,
    only_corrections: bool = False,
) -> Iterator[dict[str, Any]]:
    """One row per feedback record, oldest first: (tool, variant, arguments, context,
    result, score, label, correction, reviewer, claimed author, time)."""
    start = since_of(since)
    calls: dict[str, dict[str, Any]] = {}
    for record in store.records_of_kind(*KINDS):
        call_id, body = record.call_id, record.body
        if call_id is None:
            continue
        if record.kind in ("call.intent", "call.rejected"):
            calls[call_id] = {
                "tool": body.get("tool"),
                "variant": body.get("variant"),
                "arguments": body.get("arguments"),
                "context": body.get("context") or {},
                "called_at": record.at,
                "status": "error" if record.kind == "call.rejected" else None,
                "result": None,
                "error": body.get("error"),
            }
        elif record.kind == "call.outcome" and call_id in calls:
            calls[call_id] |= {
                "status": body.get("status"),
                "result": body.get("result"),
                "error": body.get("error"),
            }
        elif record.kind == "call.feedback" and call_id in calls:
            call = calls[call_id]
            if tool is not None and call["tool"] != tool:
                continue
            if label is not None and body.get("label") != label:
                continue
            if only_corrections and body.get("correction") is None:
                continue
            if start is not None and datetime.fromisoformat(record.at) < start:
                continue
            yield {
                "call_id": call_id,
                **call,
                "score": body.get("score"),
                "label": body.get("label"),
                "correction": body.get("correction"),
                "comment": body.get("comment"),
                "review": body.get("review") is True,
                "reviewer": record.context.principal,
                # Who the feedback says gave it (``author``): a claim, never checked.
                "claimed_author": body.get("claimed_author"),
                "time": record.at,
            }
