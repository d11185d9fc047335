"""Calls an anomaly flagged, to the review queue: a tool whose review policy says
``every_anomaly`` has the calls an alert on it (or on its backend) covers put in the queue,
each with the reason naming the alert (``anomaly:<group>:<name>:<kind>``).

An alert covers the calls of the window that raised it (their records show what went
wrong as it started) and the calls of its tool or backend that end while it stays open.
The console's detector raises the alerts; it hands the covered calls here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit.records import RecordContext
from gateway.config.models import ReviewPolicy
from gateway.errors import GatewayError
from gateway.experiments import reviews

log = logging.getLogger("legacy_gateway")


@dataclass(frozen=True, slots=True)
class Covered:
    """A call an alert covers, as the console knows it."""

    call_id: str
    tool: str
    variant: str | None
    principal: str | None
    trace_id: str | None


def reason_of(alert: Mapping[str, Any]) -> str:
    return f"anomaly:{alert['group']}:{alert['name']}:{alert['kind']}"


class AlertReviews:
    """Puts the calls an alert covers in the review queue, for tools that ask for it."""

    def __init__(
        self,
        store: reviews.RequestStore,
        policy_of: Callable[[str], ReviewPolicy | None],
        config_version: Callable[[], str],
    ) -> None:
        self.store = store
        self.policy_of = policy_of
        self.config_version = config_version

    def wants(self, tool: str) -> bool:
        """Does this tool's policy queue the calls an anomaly flagged?"""
        policy = self.policy_of(tool)
        return policy is not None and policy.every_anomaly

    def request(self, alert: Mapping[str, Any], calls: Iterable[Covered]) -> int:
        """Queue ``calls`` (those of tools that want it) for ``alert``; how many were.

        A call already queued for this alert is left alone: the console reads the log again
        after a restart, and with ``serve --workers N`` each worker's console raises the same
        alert over the same calls. The store checks and appends in one step, so however the
        consoles race, each call is queued once for the alert.
        """
        reason = reason_of(alert)
        version = self.config_version()
        summary = {key: alert.get(key) for key in ("group", "name", "kind", "since", "message")}
        queued = 0
        for call in calls:
            if not self.wants(call.tool):
                continue
            body = {"tool": call.tool, "variant": call.variant, "reasons": [reason],
                    "alert": summary}  # fmt: skip
            context = RecordContext(call.trace_id, None, call.principal, version)
            try:
                written = reviews.request(self.store, call.call_id, body, context)
            except GatewayError:
                log.exception("call %s could not be queued for review", call.call_id)
                continue
            queued += written is not None
        return queued
