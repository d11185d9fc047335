"""Unit conversions load pint without numpy and scipy (some 30 MB of a serving process), and
leave both importable for the experiments report."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from gateway.mapping.units import unit_transform
print(unit_transform("inch", "cm"), "numpy" in sys.modules, "scipy" in sys.modules)
import numpy
from statsmodels.stats.proportion import proportion_confint
print(round(proportion_confint(3, 10, method="wilson")[0], 4))
"""


def test_pint_comes_without_numpy_and_numpy_still_imports_after() -> None:
    ran = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert ran.stdout.splitlines() == ["(Decimal('2.54'), Decimal('0.0')) False False", "0.1078"]
