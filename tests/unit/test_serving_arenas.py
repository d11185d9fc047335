from __future__ import annotations

import ctypes.util
import sys

import pytest

from gateway.serving import ARENA_MAX, limit_malloc_arenas


def test_an_arena_count_the_operator_set_is_left_to_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is None


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt is Linux's")
def test_glibc_arenas_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    glibc = ctypes.util.find_library("c") == "libc.so.6"
    assert limit_malloc_arenas() == (ARENA_MAX if glibc else None)
