"""bench/audit.py's on-path measure runs: its log-less store offers what a gateway needs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.unit.bench_modules import bench_module

audit = bench_module("bench_audit", "audit.py")


def test_the_log_less_store_serves_a_gateway_and_the_on_path_cost_is_measured(
    tmp_path: Path,
) -> None:
    store = audit.NullStore()
    records = store.append_many([("call.submitted", "c1", {}), ("call.outcome", "c1", {})])
    assert [record.index for record in records] == [0, 1]
    assert store.count() == 2
    cost = asyncio.run(audit.on_path(tmp_path, 1, 20))
    assert isinstance(cost, float)
    assert (tmp_path / "onpath.sqlite").exists()
