"""The statistics of the experiments report, from statsmodels: a rate with its Wilson
interval, the difference of two rates with Newcomb's interval, a mean with its t interval.

Every interval is at 95 %. The decision rule compares a variant with its baseline on one
rate (the share of calls that failed): see ``verdict``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# statsmodels is imported where it is used: it takes about a second, which a serving
# gateway (or a CLI command) that never builds a report should not pay at start.

ALPHA = 0.05
MIN_CALLS = 30

DECISION_RULE = (
    "A variant is better than the baseline when the 95% Newcomb interval of the difference "
    "in error rate (variant minus baseline) lies wholly below 0, worse when it lies wholly "
    f"above 0, and undecided otherwise; no decision before each side has {MIN_CALLS} calls."
)


def _round(value: float) -> float:
    return round(float(value), 6)


def rate(count: int, total: int) -> dict[str, Any]:
    """``count`` of ``total`` as a rate with its 95 % Wilson score interval."""
    if total == 0:
        return {"count": 0, "of": 0, "rate": None, "ci95": None}
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, total, alpha=ALPHA, method="wilson")
    return {
        "count": count,
        "of": total,
        "rate": _round(count / total),
        "ci95": [_round(low), _round(high)],
    }


def difference(count: int, total: int, base_count: int, base_total: int) -> dict[str, Any]:
    """rate minus base rate with its 95 % interval (Newcomb's hybrid score, from Wilson's)."""
    if total == 0 or base_total == 0:
        return {"difference": None, "ci95": None}
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(
        count, total, base_count, base_total, method="newcomb", compare="diff", alpha=ALPHA
    )
    return {
        "difference": _round(count / total - base_count / base_total),
        "ci95": [_round(low), _round(high)],
    }


def verdict(compared: dict[str, Any], total: int, base_total: int) -> str:
    """``better``, ``worse``, ``undecided`` or ``too_few_calls``, by ``DECISION_RULE``."""
    if total < MIN_CALLS or base_total < MIN_CALLS or compared["ci95"] is None:
        return "too_few_calls"
    low, high = compared["ci95"]
    if high < 0:
        return "better"
    if low > 0:
        return "worse"
    return "undecided"


def mean(values: Sequence[float]) -> dict[str, Any]:
    """The mean with its 95 % t interval (none for fewer than two values)."""
    if not values:
        return {"n": 0, "mean": None, "ci95": None}
    from statsmodels.stats.weightstats import DescrStatsW

    described = DescrStatsW(list(values))
    ci = None
    if len(values) > 1:
        low, high = described.tconfint_mean(alpha=ALPHA)
        if not (math.isnan(low) or math.isnan(high)):
            ci = [_round(low), _round(high)]
    return {"n": len(values), "mean": _round(described.mean), "ci95": ci}


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in (0, 1])."""
    if not values:
        return None
    ordered = sorted(values)
    return _round(ordered[max(0, math.ceil(share * len(ordered)) - 1)])
