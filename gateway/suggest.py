""" "Did you mean" hints for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or, failing a close match, the list of known names."""
    known = sorted(known)
    match = closest(name, known)
    if match:
        return f" (did you mean '{match}'?)"
    return f" (known: {', '.join(known)})" if known else ""
