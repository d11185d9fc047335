"""glibc's arenas capped and trimmed: the free pages inside the heap go back to the system."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import time

import pytest

from gateway.memory import (
    ARENA_MAX,
    TRIM_EVERY_S,
    limit_malloc_arenas,
    start_trimming,
    trim_interval,
)

GLIBC = sys.platform == "linux" and ctypes.util.find_library("c") == "libc.so.6"

# Every other 64 KB block freed: holes malloc keeps (none at the heap's top) until trimmed.
FRAGMENTED = """
import sys
from gateway.memory import start_trimming

def rss_mb():
    status = open("/proc/self/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024

blocks = [bytearray(64_000) for _ in range(2_000)]
del blocks[::2]
before = rss_mb()
trimmer = start_trimming(3600)
trimmer.trim()
print(round(before - rss_mb()), len(blocks))
"""


def test_an_arena_count_the_operator_set_is_left_to_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is None


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt is Linux's")
def test_glibc_arenas_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas() == (ARENA_MAX if GLIBC else None)


@pytest.mark.parametrize(("value", "seconds"), [(None, TRIM_EVERY_S), ("0", 0.0), ("2.5", 2.5)])
def test_the_trim_interval_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, seconds: float
) -> None:
    if value is None:
        monkeypatch.delenv("LEGACY_GATEWAY_MALLOC_TRIM_S", raising=False)
    else:
        monkeypatch.setenv("LEGACY_GATEWAY_MALLOC_TRIM_S", value)
    assert trim_interval() == seconds


@pytest.mark.parametrize("value", ["often", "-1", "nan"])
def test_a_bad_trim_interval_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_MALLOC_TRIM_S", value)
    with pytest.raises(ValueError, match="LEGACY_GATEWAY_MALLOC_TRIM_S takes seconds"):
        trim_interval()


def test_no_trimming_when_turned_off() -> None:
    assert start_trimming(0) is None


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_the_trimmer_runs_until_stopped() -> None:
    trimmer = start_trimming(0.02)
    assert trimmer is not None
    time.sleep(0.3)
    trimmer.stop()
    trims = trimmer.trims
    assert trims >= 3 and trimmer.seconds > 0
    time.sleep(0.1)
    assert trimmer.trims == trims


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_a_trim_hands_back_the_free_pages_inside_the_heap() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", FRAGMENTED], capture_output=True, text=True, check=True
    )
    released_mb, kept = (int(field) for field in ran.stdout.split())
    assert kept == 1_000
    assert released_mb >= 40, f"a trim released {released_mb} MB of 64 MB of holes"
