"""Unit conversions (any unit pint knows), as an exact factor and offset.

Kept apart from the value specs and the converters, which both need it: a spec checks its
units when the config loads, a converter applies them per value.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from functools import cache
from typing import Any

# pint imports numpy and scipy whenever they are installed (statsmodels, for the experiments
# report, brings them): about 16 MB of every serving process's memory for arrays it never
# converts, as unit fields convert one scalar at a time. They are hidden while pint is first
# imported, normally at start-up before any call, and load as usual for whoever needs them.
_NOT_FOR_PINT = ("numpy", "scipy")


@cache
def _unit_registry() -> Any:
    hidden = [name for name in _NOT_FOR_PINT if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # what `import` reads as absent
    try:
        import pint  # imported on first use: it costs ~0.3 s and only unit fields need it
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]
    return pint.UnitRegistry()


def unit_transform(legacy_unit: str, agent_unit: str) -> tuple[Decimal, Decimal]:
    """(factor, offset) such that agent = legacy * factor + offset. Raises ValueError."""
    registry = _unit_registry()
    import pint  # after the registry, which imports it first

    try:
        legacy, agent = registry.Unit(legacy_unit), registry.Unit(agent_unit)
    except (pint.UndefinedUnitError, AttributeError, ValueError) as exc:
        raise ValueError(f"unknown unit: {exc}") from exc
    if legacy.dimensionality != agent.dimensionality:
        raise ValueError(
            f"cannot convert {legacy_unit} ({legacy.dimensionality}) "
            f"to {agent_unit} ({agent.dimensionality})"
        )
    zero = registry.Quantity(0.0, legacy).to(agent).magnitude
    one = registry.Quantity(1.0, legacy).to(agent).magnitude
    # repr() of the float is its shortest exact spelling: 2.54 stays 2.54.
    return Decimal(repr(one - zero)), Decimal(repr(zero))
