"""Crash points: where the crash test kills the gateway, deterministically.

``LEGACY_GATEWAY_CRASH_AT=NAME`` makes the process kill itself with SIGKILL the first time a
call reaches the point NAME (``after_claim``, ``after_intent``, ``before_outcome``,
``after_outcome``, ``after_approval``), as a power cut or an OOM kill would at that moment.
Unset (always, outside tests) a crash point is one comparison.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_claim", "after_intent", "before_outcome", "after_outcome", "after_approval")
_ARMED = os.environ.get("LEGACY_GATEWAY_CRASH_AT")


def crash_point(name: str) -> None:
    if name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
