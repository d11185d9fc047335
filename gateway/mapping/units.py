"""Unit conversions (any unit pint knows), as an exact factor and offset.

Kept apart from the value specs and the converters, which both need it: a spec checks its
units when the config loads, a converter applies them per value.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any


@cache
def _unit_registry() -> Any:
    import pint  # imported on first use: it costs ~0.3 s and only unit fields need it

    return pint.UnitRegistry()


def unit_transform(legacy_unit: str, agent_unit: str) -> tuple[Decimal, Decimal]:
    """(factor, offset) such that agent = legacy * factor + offset. Raises ValueError."""
    import pint

    registry = _unit_registry()
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
