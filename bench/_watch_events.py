"""A console left open: reads ``/v1/events`` as a browser tab would, in a process of its own
(so its work is not the load generator's), and prints the call events it saw when stopped.

Usage: ``_watch_events.py BASE_URL TOKEN``; SIGTERM ends it.
"""

from __future__ import annotations

import signal
import sys
import types

import httpx


def main() -> None:
    base, token = sys.argv[1], sys.argv[2]
    seen = [0]

    def stop(signum: int, frame: types.FrameType | None) -> None:
        print(seen[0], flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    headers = {"authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{base}/v1/events", headers=headers, timeout=None) as stream:
        print("open", flush=True)
        for line in stream.iter_lines():
            seen[0] += line.startswith("event: call")


if __name__ == "__main__":
    main()
