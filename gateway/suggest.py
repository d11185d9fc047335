""" "Did you mean" hints for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str]) -> str | None:
    # Case-blind: legacy names are upper case and integrators often type them otherwise.
    by_lower = {k.lower(): k for k in known}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or, failing a close match, the list of known names."""
    known = sorted(known)
    match = closest(name, known)
    if match:
        return f" (did you mean '{match}'?)"
    return f" (known: {', '.join(known)})" if known else ""
