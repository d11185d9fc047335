"""A serving process's memory: glibc's malloc arenas, capped and trimmed (P6), and the
objects it holds all its life kept out of the garbage collector's full collections.

Python hands every allocation over 512 bytes (record bytes, answers, envelopes) and the C
libraries (SQLite, libxml2, the ODBC driver) hand all of theirs to malloc. glibc gives
memory back to the system only from the top of an arena: pages freed in the middle stay
resident until something reuses them. A gateway allocates and frees records of every size
all day, so its RSS crept up long after its live memory had stopped growing (about 7 MB of
free pages every 200,000 calls of the soak, on top of the 180 MB it holds). Two measures:

- at most ``ARENA_MAX`` arenas (glibc's default is 8 a core, one per thread that allocates
  under contention, each fragmented on its own); under the GIL few threads allocate at
  once, so two cost little contention;
- ``malloc_trim(0)`` every ``LEGACY_GATEWAY_MALLOC_TRIM_S`` seconds (default 30; 0 turns it
  off), which hands back the whole free pages inside every arena, not only its top (it
  walks each arena's free chunks under that arena's lock).

Neither applies off glibc (musl, macOS): ``None`` then. A ``MALLOC_ARENA_MAX`` the operator
set is glibc's own setting and wins.

A full collection walks every container object the process holds: some 290,000 once the
demo config is loaded (modules, classes, pydantic schemas, the compiled mappings), 60-150 ms
a time, on the event loop's thread in the middle of calls. ``freeze_long_lived`` moves what
is alive once the gateway serves into the collector's permanent generation, which no
collection walks; what is made later is collected as before. A frozen object that becomes
garbage in a reference cycle is not freed, so a replaced config thaws them (``thaw``) before
it is dropped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import threading
import time
from functools import cache

from gateway.limits import env_seconds

log = logging.getLogger("legacy_gateway.memory")

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENA_MAX = 2  # the main thread's arena and one the other threads share
TRIM_EVERY_S = 30.0
TRIM_ENVIRONMENT = "LEGACY_GATEWAY_MALLOC_TRIM_S"


@cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError, TypeError):  # musl (no mallopt) or no libc found
        return None
    return libc


def limit_malloc_arenas() -> int | None:
    """Cap glibc's malloc arenas at ``ARENA_MAX``; the cap set, or None where it does not
    apply. Call it before the serving threads start: arenas already made are kept."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return None
    return ARENA_MAX if libc.mallopt(M_ARENA_MAX, ARENA_MAX) == 1 else None


def trim_interval() -> float:
    """Seconds between trims, from the environment; 0 for none."""
    return env_seconds(TRIM_ENVIRONMENT, TRIM_EVERY_S)


class Trimmer:
    """A daemon thread handing free pages back every ``every_s`` seconds until stopped."""

    def __init__(self, libc: ctypes.CDLL, every_s: float) -> None:
        self._libc, self.every_s = libc, every_s
        self._stop = threading.Event()
        self.trims = 0
        self.seconds = 0.0  # spent trimming, in all
        self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)

    def trim(self) -> None:
        started = time.perf_counter()
        self._libc.malloc_trim(0)
        self.seconds += time.perf_counter() - started
        self.trims += 1

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.trim()

    def start(self) -> Trimmer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def start_trimming(every_s: float | None = None) -> Trimmer | None:
    """Trim every ``every_s`` seconds (``trim_interval()`` when None); None where glibc's
    ``malloc_trim`` is missing or the interval is 0."""
    libc = _glibc()
    interval = trim_interval() if every_s is None else every_s
    if libc is None or interval == 0:
        return None
    log.debug("handing free malloc pages back every %.0f s", interval)
    return Trimmer(libc, interval).start()


def freeze_long_lived() -> int:
    """Collect once, then keep every object alive now out of later collections; how many
    were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Let the collector walk the frozen objects again: some of them (a replaced config's)
    are about to become garbage."""
    gc.unfreeze()
