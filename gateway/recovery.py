"""After a crash: every call left in flight gets an outcome, and no key stays stuck.

A serving process holds a lease (``gateway.audit.callstate``) and writes its instance id on
each intent and each Idempotency-Key it claims. When a process is gone (``kill -9``, a lost
host), its intents have no outcome: the legacy side may or may not have acted. The next
process of the same name (the same pod, or host:port, started again) finds them at once; any
other replica finds them once the lease has not been renewed for ``lease_s``. Exactly one
process retires the lease, and it writes for each such call an outcome record with status
``outcome_unknown``. Replicas never touch each other's calls while their leases are alive.

The key of such a call: for a read, released (repeating a read is harmless, and the repeat
gets a real answer); for a write, kept and answered with ``outcome_unknown`` until it
expires, so that a client's retry is not silently sent a second time to a system that may
already have booked it. A key claimed by a process that died before its intent was written
is released: nothing was sent. ``legacy-gateway calls unresolved`` lists the calls to check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.audit.callstate import Lease
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.store import AuditStore
from gateway.audit.views import call_view
from gateway.errors import CallInterrupted, GatewayError, OutcomeUnknown
from gateway.policy.expiry import expire_approvals, expire_keys

log = logging.getLogger("legacy_gateway.recovery")
# Calls recorded without an instance (one-shot CLI calls, older versions) are taken as
# abandoned only after this long: no call runs that long (timeouts stop at an hour).
_ORPHANS = "orphans"


@dataclass(frozen=True)
class Lifetimes:
    """How long things live; each from ``LEGACY_GATEWAY_<NAME>`` when set."""

    lease_s: float = 60.0  # a replica silent this long is taken as gone
    idempotency_ttl_s: float = 86_400.0  # a key answers repeats this long
    orphan_after_s: float = 3_600.0  # intents without an instance, unfinished this long

    @property
    def sweep_s(self) -> float:
        return max(0.2, min(self.lease_s / 4, 15.0))

    @classmethod
    def from_environment(cls) -> Lifetimes:
        values: dict[str, float] = {}
        for name in ("lease_s", "idempotency_ttl_s", "orphan_after_s"):
            raw = os.environ.get(f"LEGACY_GATEWAY_{name.upper()}")
            if raw:
                try:
                    values[name] = float(raw)
                except ValueError:
                    message = f"LEGACY_GATEWAY_{name.upper()} must be seconds, not {raw!r}"
                    raise ValueError(message) from None
                if values[name] <= 0:
                    raise ValueError(f"LEGACY_GATEWAY_{name.upper()} must be positive")
        return cls(**values)


def instance_name(port: int | None = None) -> str:
    """``LEGACY_GATEWAY_INSTANCE``, else host:port: two live processes never share it."""
    return os.environ.get("LEGACY_GATEWAY_INSTANCE") or f"{socket.gethostname()}:{port or 0}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    """Times as the store writes them (always with microseconds), so that they sort."""
    return moment.isoformat(timespec="microseconds")


class Recovery:
    """One process's lease, and the sweeps that settle what dead processes and time left."""

    def __init__(
        self,
        store: AuditStore,
        name: str,
        lifetimes: Lifetimes | None = None,
        config_version: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.store = store
        self.name = name
        self.instance_id = "gw_" + secrets.token_hex(8)
        self.lifetimes = lifetimes or Lifetimes()
        self.config_version = config_version
        self._first_idx: int | None = None  # the lease's first index, once it is taken
        # Whether this process posts the console's alerts (see ``_elect_poster``).
        self.posts_alerts = True

    # ------------------------------------------------------------------ life cycle

    def begin(self) -> int:
        """Take this process's lease and settle what earlier lives left; how many calls."""
        at = _stamp(_now())
        self._first_idx = self.store.count()
        self.store.register_lease(Lease(self.instance_id, self.name, self._first_idx, at, at))
        return self.recover(first_start=True)

    def sweep(self) -> None:
        """Renew the lease; settle dead replicas' calls, expired approvals and keys."""
        if self._first_idx is None:
            self.begin()  # swept before it began: the lease is taken now
        else:
            self._first_idx = self._open_from(self._first_idx)
            if not self.store.renew_lease(self.instance_id, _stamp(_now()), self._first_idx):
                # Someone took us for dead (a stall longer than the lease): our calls in
                # flight were marked. Take a lease again so that what comes next is ours.
                log.error("this process's lease was retired by another replica; taking a new one")
                self.begin()
        self.recover()
        context = RecordContext(principal="gateway", config_version=self.config_version())
        expire_approvals(self.store, _now(), context)
        expire_keys(self.store, _now(), self.lifetimes.idempotency_ttl_s, context)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.lifetimes.sweep_s)
            try:
                await asyncio.to_thread(self.sweep)
            except GatewayError as exc:
                log.error("recovery sweep failed: %s", exc.message)
            except Exception:
                log.exception("recovery sweep failed")

    def end(self) -> None:
        """A clean stop: give the lease back, unless a call of ours is still unfinished."""
        if self._first_idx is not None and not self._unfinished_ours(self._first_idx):
            self.store.retire_lease(self.instance_id)

    def _open_from(self, since: int) -> int:
        """The index from which this process's calls may still be unfinished: its oldest
        unfinished start, else the log's size. The lease keeps it, so that a stop, or the
        replica that finds this process gone, reads the log from there and not from the
        start of a long life. Calls started from here on get a larger index: the size is
        read first, and appends are in order."""
        size = self.store.count()
        return min((r.index for r in self._unfinished_ours(since)), default=size)

    def _unfinished_ours(self, since: int) -> list[StoredRecord]:
        return [r for r in self.store.unfinished(since) if _owner(r) == self.instance_id]

    # ------------------------------------------------------------------ recovering

    def recover(self, first_start: bool = False) -> int:
        """Mark the calls of every gone process; how many calls were marked."""
        silent_since = _stamp(_now() - dt.timedelta(seconds=self.lifetimes.lease_s))
        marked = 0
        live: list[Lease] = []
        for lease in self.store.leases():
            if lease.instance_id == self.instance_id:
                live.append(lease)
                continue
            previous_life = lease.name == self.name
            if not previous_life and lease.heartbeat_at >= silent_since:
                live.append(lease)
                continue  # a live replica: its calls are its own
            if self.store.retire_lease(lease.instance_id):  # exactly one process goes on
                marked += self._settle(lease.instance_id, lease.first_idx)
        if first_start:
            marked += self._settle_orphans()
        self._elect_poster(live)
        return marked

    def _elect_poster(self, live: list[Lease]) -> None:
        """Every worker and replica judges the same anomalies from the same log; one of them,
        the live one with the oldest lease, posts them to the alert webhook, so an alert
        reaches the receiver once. Each process works it out from the shared leases at every
        sweep: when the poster stops, the next oldest takes over within a lease's life.

        ``live`` is this process's lease and the other live ones, as ``recover`` found them;
        a previous life of this process's name is gone even when its heartbeat is fresh."""
        posters = [(x.started_at, x.instance_id) for x in live if x.instance_id != _ORPHANS]
        self.posts_alerts = not posters or min(posters)[1] == self.instance_id

    def _settle(self, dead: str, since: int) -> int:
        marked = 0
        for start in _latest_per_call(self.store.unfinished(since)):
            if _owner(start) == dead:
                self._mark(start, dead)
                marked += 1
        for claim in self.store.claimed_keys(instance=dead):
            if not self.store.records_of(claim.call_id):  # claimed, then gone: nothing sent
                self._release(claim.scope, claim.key, claim.call_id, "never_started", None)
        if marked:
            log.warning("marked %d call(s) of stopped instance %s as outcome_unknown "
                        "(list them: legacy-gateway calls unresolved)", marked, dead)  # fmt: skip
        return marked

    def _settle_orphans(self) -> int:
        """Unfinished calls of no instance, old enough to be abandoned; one process at once."""
        at = _now()
        claim = Lease(_ORPHANS, _ORPHANS, 0, _stamp(at), _stamp(at))
        if not self.store.register_lease(claim):
            held = next((x for x in self.store.leases() if x.instance_id == _ORPHANS), None)
            stale = _stamp(at - dt.timedelta(seconds=self.lifetimes.lease_s))
            if held is None or held.heartbeat_at >= stale:
                return 0
            self.store.retire_lease(_ORPHANS)
            if not self.store.register_lease(claim):
                return 0
        try:
            before = _stamp(at - dt.timedelta(seconds=self.lifetimes.orphan_after_s))
            size = self.store.count()
            records = self.store.unfinished(self.store.recovery_mark(_ORPHANS))
            starts = [start for start in _latest_per_call(records) if _owner(start) is None]
            orphans = [start for start in starts if start.at < before]
            for start in orphans:
                self._mark(start, None)
            # The next start reads from the oldest call of no instance still too young.
            young = {start.call_id for start in starts if start.at >= before}
            mark = min((r.index for r in records if r.call_id in young), default=size)
            self.store.set_recovery_mark(_ORPHANS, mark)
            return len(orphans)
        finally:
            self.store.retire_lease(_ORPHANS)

    def _mark(self, start: StoredRecord, dead: str | None) -> None:
        call_id = str(start.call_id)
        details = {"instance": dead, "started_at": start.at, "marked_by": self.instance_id}
        error: GatewayError
        if start.kind == "call.intent":
            error = OutcomeUnknown(
                "the gateway stopped while this call was in flight: the legacy system may or "
                "may not have acted. Check it before calling again",
                details=details,
            )
            status = "outcome_unknown"
        else:  # approved, then stopped before the intent: no intent, no action
            error = CallInterrupted(
                "the gateway stopped after the approval and before the call started: "
                "nothing was sent. Call again for a new approval",
                details=details,
            )
            status = "error"
        error.call_id = call_id
        body: dict[str, Any] = {"status": status, "error": error.to_dict(), "unresolved": True}
        entries: list[tuple[str, str | None, dict[str, Any]]] = [("call.outcome", call_id, body)]
        if status == "outcome_unknown":
            # A kind of its own, so that ``calls unresolved`` finds them by the kind's index.
            entries.append(("call.unresolved", call_id, {"instance": dead, "started_at": start.at}))
        self.store.append_many(entries, start.context)
        view = call_view(call_id, self.store.records_of(call_id))
        key = view.get("idempotency_key")
        if key and (view.get("effect") == "read" or status == "error"):
            self._release(str(view.get("principal")), str(key), call_id, status, start.context)

    def _release(
        self, scope: str, key: str, call_id: str, reason: str, context: RecordContext | None
    ) -> None:
        if self.store.release_key(scope, key, call_id):
            self.store.append(
                "idempotency.released",
                call_id,
                {"idempotency_key": key, "principal": scope, "reason": reason},
                context or RecordContext(principal="gateway"),
            )


def _owner(record: StoredRecord) -> str | None:
    owner = record.body.get("instance")
    return str(owner) if owner is not None else None


def _latest_per_call(records: list[StoredRecord]) -> list[StoredRecord]:
    """One start per call: its intent when there is one (it follows the approval)."""
    latest: dict[str, StoredRecord] = {}
    for record in records:
        if record.kind == "approval.decided" and record.body.get("decision") != "approved":
            continue
        latest[str(record.call_id)] = record
    return list(latest.values())


def unresolved(store: AuditStore) -> list[dict[str, Any]]:
    """Calls whose legacy side has to be checked by a person, and calls still unfinished."""
    marked = [str(record.call_id) for record in store.records_of_kind("call.unresolved")]
    running = [str(start.call_id) for start in _latest_per_call(store.unfinished(0))]
    return [_summary(call_view(c, store.records_of(c))) for c in dict.fromkeys(marked + running)]


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("call_id", "status", "tool", "effect", "principal", "started_at", "finished_at",
            "idempotency_key", "instance", "arguments")  # fmt: skip
    summary = {key: view.get(key) for key in keys}
    summary["error"] = (view.get("error") or {}).get("message")
    return summary
