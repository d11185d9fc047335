"""An optional alert webhook: ``LEGACY_GATEWAY_ALERT_WEBHOOK`` (an http(s) URL) receives a
JSON POST each time the console raises or clears an alert (the alert's fields, ``state``
``firing`` or ``resolved``, and ``event`` ``alert``).

Posts go out from one background thread through a bounded queue, so a slow or absent
receiver never holds up the tailer; a post that fails is logged and not retried (the alert
stays on the console and in ``legacy_gateway_anomaly``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Any

log = logging.getLogger("legacy_gateway.console")

ENV = "LEGACY_GATEWAY_ALERT_WEBHOOK"
QUEUE = 1000
TIMEOUT_S = 5.0


class AlertWebhook:
    def __init__(self, url: str, timeout_s: float = TIMEOUT_S) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{ENV} must be an http(s) URL, not {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(QUEUE)
        self.sent = 0
        self.failed = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> AlertWebhook | None:
        url = os.environ.get(ENV, "").strip()
        return cls(url) if url else None

    def send(self, alert: dict[str, Any]) -> None:
        """Queue a post (dropped, and logged, when the receiver is far behind)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alert-webhook",
                                                daemon=True)  # fmt: skip
                self._thread.start()
        try:
            self.queue.put_nowait({"event": "alert", **alert})
        except queue.Full:
            self.failed += 1
            log.warning("the alert webhook is behind; an alert was not posted: %s", alert)

    def _run(self) -> None:
        # Imported by the thread that posts: a gateway without a webhook never needs it, and
        # httpx (with the CLI libraries its package imports) was a tenth of serve's start-up.
        import httpx

        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                body = self.queue.get()
                try:
                    client.post(self.url, json=body).raise_for_status()
                    self.sent += 1
                except httpx.HTTPError as exc:
                    self.failed += 1
                    log.warning("the alert webhook %s refused an alert: %s", self.url, exc)
