"""The reply queue of AMQP submit tools: one per installation, and nothing taken is dropped.

A submit's reply comes to the backend's durable ``reply_queue`` and is completed by any
gateway that shares the call record (replicas on one PostgreSQL store share one queue). The
name may hold ``{installation}``, this installation's id (``Commitments.installation_id``: from
the salt kept beside the audit key, the same for its replicas, different for any other), so
that two installations on one broker never consume each other's replies.

When they do anyway (a fixed name in two configs), a consumer that gets a reply for a call it
does not know puts it back on the queue, counting the hand-ons in a header, for another
consumer to take; after ``reply_handoffs`` hand-ons it keeps the reply on its own record as an
unmatched message and takes it off the queue, so a reply for nobody cannot circle forever.
At start-up, and in ``validate --connect``, a reply queue that already has consumers is
reported: expected for replicas of one installation, a misconfiguration otherwise.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("legacy_gateway.amqp")

HANDED_ON = "x-legacy-gateway-handed-on"
INSTALLATION = "{installation}"
# Hand-ons are a symptom worth a line in the log, but not one line per message.
WARN_EVERY_S = 60.0


def queue_name(configured: str, installation: str) -> str:
    """The reply queue's name with ``{installation}`` filled in with the installation's id."""
    return configured.replace(INSTALLATION, installation)


def hand_ons(properties: Any, limit: int) -> int:
    """How often a reply was handed on already; a value that is not a small count (forged,
    garbled) counts as the limit, so the reply is kept here instead of circling."""
    value = (getattr(properties, "headers", None) or {}).get(HANDED_ON, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        return limit
    return value


def other_consumers(backend: str, queue: str, count: int) -> str:
    return (
        f"AMQP backend {backend}: reply queue '{queue}' already has {count} other "
        "consumer(s). Replicas sharing this installation's audit store may share it; any "
        "other gateway takes replies that are not its own (they are handed back, late). "
        "Give each installation its own reply_queue, e.g. with {installation} in its name"
    )


class HandOns:
    """Putting replies back on their queue, on the link's I/O thread."""

    def __init__(self, backend: str, limit: int) -> None:
        self.backend = backend
        self.limit = limit
        self.count = 0
        self._warned_at = float("-inf")

    def hand_on(
        self, pika: Any, channel: Any, queue: str, properties: Any, body: bytes, hops: int
    ) -> bool:
        """Republish a reply to its queue with one more hand-on; False if the broker did not
        take it (then the caller keeps it). Confirmed before the original is acked, so a
        crash in between repeats the reply rather than losing it."""
        headers = dict(getattr(properties, "headers", None) or {})
        headers[HANDED_ON] = hops + 1
        # Not user_id: the broker checks it against the publisher, which is now this gateway.
        names = ("content_type", "content_encoding", "delivery_mode", "priority",
                 "correlation_id", "message_id", "timestamp", "type", "app_id")  # fmt: skip
        copied = {name: getattr(properties, name, None) for name in names}
        copied = {name: value for name, value in copied.items() if value is not None}
        try:
            channel.basic_publish(
                "",
                queue,
                body,
                pika.BasicProperties(**copied, headers=headers),
                mandatory=True,
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
            return False
        self.count += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "AMQP backend %s: a reply on '%s' is for no call of this installation "
                "(correlation id %s); handed back to the queue for its own gateway. Another "
                "installation consumes this reply queue: give each its own",
                self.backend,
                queue,
                getattr(properties, "correlation_id", None),
            )
        return True
