"""How submitted calls end: by their reply, once, or by their deadline passing.

A submit tool answers ``202 pending`` and its call stays open on the record (``call.intent``,
``call.submitted``) until one of two things writes its ``call.outcome``:

- its reply, mapped by the tool's output mapping (``complete``). Any process sharing the
  store can do it: completing needs nothing but the record. A reply for a call that has
  ended already (its deadline passed, a duplicate from the host) is an ``interaction.late``
  record of the call, never a second outcome. A reply for no call of this installation, or
  for a call that was not a submit of the reply's backend (a forged correlation id), is not
  ours to complete: the adapter hands it on to another consumer, and when no other will see
  it (``Reply.final``) it is kept as a ``message.unmatched`` record.
- its deadline (``reply_by`` on the ``call.submitted`` record, from the tool's or backend's
  ``reply_deadline_s``): a background sweep ends every open submission past it with a
  ``reply_overdue`` outcome. The sweep reads the record, not memory, so calls submitted
  before a restart, or by another replica, are swept too.

Both write through ``AuditStore.append_outcome``, which refuses a second outcome atomically
(across processes and replicas), so a reply racing its deadline ends the call exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapters.base import Adapter, Interaction, Reply, Submitted
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.store import OUTCOME, AuditStore
from gateway.errors import GatewayError, ReplyOverdue
from gateway.metrics import Metrics
from gateway.trace import late_interaction

if TYPE_CHECKING:
    from gateway.tools import Tool

log = logging.getLogger("legacy_gateway.completions")

# For calls submitted before deadlines were on the record: the default of the AMQP backend.
DEFAULT_DEADLINE_S = 3600.0
SWEEP_EVERY_S = 1.0


def deadline_of(submitted: Submitted, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the ``call.submitted`` record says of the call's deadline."""
    if submitted.reply_within_s is None:
        return {}
    start = now or dt.datetime.now(dt.UTC)
    due = start + dt.timedelta(seconds=submitted.reply_within_s)
    return {"reply_deadline_s": submitted.reply_within_s, "reply_by": due.isoformat()}


def due_time(submitted: StoredRecord) -> dt.datetime:
    """When an open submission becomes overdue; a record without a readable ``reply_by``
    gets the default deadline from when it was submitted."""
    reply_by = submitted.body.get("reply_by")
    if isinstance(reply_by, str):
        with contextlib.suppress(ValueError):
            due = dt.datetime.fromisoformat(reply_by)
            if due.tzinfo is not None:
                return due
    return dt.datetime.fromisoformat(submitted.at) + dt.timedelta(seconds=DEFAULT_DEADLINE_S)


class Completions:
    """The endings of submitted calls, and the sweep that keeps none open forever."""

    def __init__(
        self,
        store: AuditStore,
        tools: Callable[[], dict[str, Tool]],
        result: Callable[[Tool, Any], Any],
        adapters: Callable[[], dict[str, Adapter[Any]]],
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self._metrics = metrics
        self._tools = tools
        self._result = result
        self._adapters = adapters
        self.every_s = SWEEP_EVERY_S
        # Open submissions all lie at or after this index (0 after a start: all are read).
        self._since = 0
        self._task: asyncio.Task[None] | None = None
        self._last_error = ""

    # ------------------------------------------------------------------ replies

    def complete(self, call_id: str, reply: Reply) -> bool:
        """A reply that came on its own: complete its call, or record it; False when it is
        for no call of ours and others may take it (``reply.final`` unset)."""
        records = self.store.records_of(call_id)
        intent = next((r for r in records if r.kind == "call.intent"), None)
        if intent is None or not _submitted_by(intent, reply):
            if not reply.final:
                self._count("handed_on")
                return False
            reason = (
                "no call with this id in this installation"
                if intent is None
                else f"call {call_id} is not a submit of backend {reply.backend}"
            )
            interaction = reply.describe(None)
            body = {"correlation_id": call_id, "reason": reason, **interaction.as_record()}
            self.store.append("message.unmatched", None, body)
            self._count("unmatched")
            return True
        tool = self._tools().get(str(intent.body.get("tool")))
        if tool is not None and tool.config.backend != reply.backend:
            tool = None  # the tool's name now means something else: map nothing with it
        interaction = reply.describe(tool.prepared if tool is not None else None)
        if any(r.kind == OUTCOME for r in records):
            self._late(call_id, interaction, intent.context)
            return True
        outcome = self._outcome(call_id, tool, intent, reply.payload)
        written = self.store.append_outcome(
            call_id,
            [("interaction", call_id, interaction.as_record()), (OUTCOME, call_id, outcome)],
            intent.context,
        )
        if written is None:  # ended meanwhile: its deadline, or the same reply elsewhere
            self._late(call_id, interaction, intent.context)
            return True
        self._count("completed")
        if tool is not None:
            late_interaction(
                tool.adapter, interaction, intent.context.trace_id, intent.context.span_id
            )
        return True

    def record_late(self, call_id: str, interaction: Interaction) -> None:
        """An interaction that came after its call ended: on the record, never dropped."""
        try:
            intent = next(iter(self.store.records_of(call_id)), None)
            self._late(call_id, interaction, intent.context if intent is not None else None)
        except Exception:
            return  # the store's own failure is reported by the next call that needs it

    def _late(self, call_id: str, interaction: Interaction, context: RecordContext | None) -> None:
        self.store.append("interaction.late", call_id, interaction.as_record(), context)
        self._count("late")
        adapter = self._adapters().get(interaction.backend)
        if context is not None and adapter is not None:
            late_interaction(adapter, interaction, context.trace_id, context.span_id)

    def _outcome(
        self, call_id: str, tool: Tool | None, intent: StoredRecord, payload: bytes
    ) -> dict[str, Any]:
        outcome: dict[str, Any]
        try:
            if tool is None:
                raise GatewayError(
                    f"the reply came after tool '{intent.body.get('tool')}' was removed "
                    "from the config: it cannot be mapped"
                )
            answer = tool.adapter.parse_answer(tool.prepared, payload)
            result = self._result(tool, answer)
            outcome = {"status": "ok", "result": tool.output.redact(result, tool.commitments)}
        except GatewayError as exc:
            exc.call_id = call_id
            outcome = {"status": "error", "error": exc.to_dict()}
        except Exception as exc:
            error = GatewayError(f"internal error: {type(exc).__name__}: {exc}")
            error.call_id = call_id
            outcome = {"status": "error", "error": error.to_dict()}
        waited = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(intent.at)
        outcome["duration_ms"] = round(waited.total_seconds() * 1000, 3)
        return outcome

    # ------------------------------------------------------------------ deadlines

    def sweep(self, now: dt.datetime | None = None) -> list[str]:
        """End every open submission past its deadline; the ids of the calls it ended."""
        now = now or dt.datetime.now(dt.UTC)
        head = self.store.count()
        ended: list[str] = []
        first_waiting: int | None = None
        for submitted in self.store.open_submissions(self._since):
            due = due_time(submitted)
            if due > now:
                if first_waiting is None:
                    first_waiting = submitted.index
                continue
            if submitted.call_id is not None and self._overdue(submitted, due, now):
                ended.append(submitted.call_id)
        self._since = first_waiting if first_waiting is not None else head
        return ended

    def _overdue(self, submitted: StoredRecord, due: dt.datetime, now: dt.datetime) -> bool:
        call_id = str(submitted.call_id)
        error = ReplyOverdue(
            f"no reply by {due.isoformat(timespec='seconds')}: the call ends here, but the "
            "host may have acted or may still act; a reply that comes later is recorded "
            "with this call",
            details={"reply_by": due.isoformat(), "correlation_id": call_id},
        )
        error.call_id = call_id
        waited = now - dt.datetime.fromisoformat(submitted.at)
        published_ms = float(submitted.body.get("duration_ms") or 0)
        outcome = {
            "status": "error",
            "error": error.to_dict(),
            "duration_ms": round(waited.total_seconds() * 1000 + published_ms, 3),
        }
        written = self.store.append_outcome(call_id, [(OUTCOME, call_id, outcome)],
                                            submitted.context)  # fmt: skip
        if written is not None:
            self._count("overdue")
            log.warning("call %s: no reply by its deadline %s: reply_overdue", call_id, due)
        return written is not None

    def _count(self, event: str) -> None:
        if self._metrics is not None:
            self._metrics.replies.labels(event).inc()

    def start(self) -> None:
        self._since = 0
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sweep)
                self._last_error = ""
            except Exception as exc:
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                if message != self._last_error:  # once per problem, not every sweep
                    log.error("sweeping overdue submitted calls failed: %s", message)
                self._last_error = message
            await asyncio.sleep(self.every_s)


def _submitted_by(intent: StoredRecord, reply: Reply) -> bool:
    """The call was made on the reply's backend with the operation its replies complete."""
    body = intent.body
    return body.get("backend") == reply.backend and body.get("operation") == reply.operation
