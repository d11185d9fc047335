"""The soak's rules (bench/soak.py): a trend after the warm-up, and latency that rises."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.unit.bench_modules import bench_module


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    return bench_module("soak_bench", "soak.py")


def samples(soak: ModuleType, rss: list[float], every: int = 10_000) -> list[object]:
    return [soak.Sample((n + 1) * every, mb, mb, 40, 20, 10.0, 50.0) for n, mb in enumerate(rss)]


def test_memory_that_levels_off_after_the_warm_up_passes(soak: ModuleType) -> None:
    # Caches fill in the first 10,000 calls; one late collection spike does not tip the trend.
    rss = [150.0, 160.0, 160.2, 160.1, 168.0, 160.3, 160.2, 160.4, 160.3, 160.5]
    assert soak.judge(samples(soak, rss), 100_000) == []


def test_memory_that_keeps_growing_fails_even_with_a_drop_at_the_end(soak: ModuleType) -> None:
    # 0.5 KB a call, and a last sample back at the start: first-vs-last would pass it.
    rss = [150.0 + 5.0 * n for n in range(9)] + [150.0]
    failures = soak.judge(samples(soak, rss), 100_000)
    assert len(failures) == 1 and failures[0].startswith("rss_mb of the gateway grows +")


def test_too_few_samples_after_the_warm_up_are_said_so(soak: ModuleType) -> None:
    failures = soak.judge(samples(soak, [150.0, 151.0], every=5_000), 10_000)
    assert failures == ["too few samples after the warm-up to judge (2): lower --every"]


def test_p6_as_stated_is_judged_from_a_million_calls(soak: ModuleType) -> None:
    grown = samples(soak, [150.0] * 99 + [175.0])
    assert soak.p6(grown, 1_000_000) == ["P6: RSS grew +25.0 MB from 10000 calls"]
    assert soak.p6(samples(soak, [150.0] * 99 + [165.0]), 1_000_000) == []
    assert soak.p6(samples(soak, [150.0] * 9 + [175.0]), 100_000) == []


def timed(soak: ModuleType, p50: list[float], p99: list[float]) -> list[object]:
    """Flat memory and counts; the windows' latencies as given."""
    return [
        soak.Sample((n + 1) * 10_000, 160.0, 160.0, 40, 20, fast, slow)
        for n, (fast, slow) in enumerate(zip(p50, p99, strict=True))
    ]


def test_a_p99_that_keeps_rising_fails_while_p50_stays_flat(soak: ModuleType) -> None:
    # A lookup that reads more of the log as it grows, under the write lock: the calls that
    # wait for it make the tail, the median does not move.
    p99 = [294.0, 400.0, 650.0, 900.0, 1200.0, 1500.0, 1900.0, 2300.0, 2700.0]
    assert soak.judge(timed(soak, [15.0] * 9, p99), 90_000) == [
        "p99 latency rose from 294.00 ms to 1900.00 ms (limit 3x)"
    ]


def test_one_slow_window_late_does_not_fail_the_p99_rule(soak: ModuleType) -> None:
    p99 = [300.0, 320.0, 310.0, 330.0, 300.0, 320.0, 310.0, 9000.0]
    assert soak.judge(timed(soak, [15.0] * 8, p99), 80_000) == []
    # Of two late windows the faster one counts: one slow window of two is not a trend.
    assert soak.judge(timed(soak, [15.0] * 5, [300.0, 310.0, 320.0, 330.0, 9000.0]), 50_000) == []


def test_a_p99_that_stays_within_the_factor_or_the_slack_passes(soak: ModuleType) -> None:
    # Within 3x on a loaded machine; and a fast machine's few milliseconds that triple.
    assert soak.judge(timed(soak, [15.0] * 6, [300.0, 500, 700, 850, 880, 890]), 60_000) == []
    assert soak.judge(timed(soak, [2.0] * 6, [5.0, 9, 30, 60, 80, 90]), 60_000) == []


def test_each_latency_rule_says_what_rose(soak: ModuleType) -> None:
    failures = soak.judge(
        timed(soak, [15.0, 15, 15, 60, 60, 60], [300.0, 300, 300, 1000, 1000, 1000]), 60_000
    )
    assert failures == [
        "p50 latency rose from 15.00 ms to 60.00 ms",
        "p99 latency rose from 300.00 ms to 1000.00 ms (limit 3x)",
    ]


def by_process(soak: ModuleType, rss: dict[int, list[float]]) -> list[object]:
    """Samples of a gateway of several processes, each with its RSS as given."""
    count = len(next(iter(rss.values())))
    return [
        soak.Sample(
            (n + 1) * 10_000, sum(mb[n] for mb in rss.values()),
            max(mb[n] for mb in rss.values()), 40, 20, 10.0, 50.0,
            processes={pid: mb[n] for pid, mb in rss.items()},
        )
        for n in range(count)
    ]  # fmt: skip


def test_with_workers_each_process_is_held_to_the_limits(soak: ModuleType) -> None:
    # Two workers each filling their own bounded caches: +15 MB each is +30 MB together,
    # and each is within the limit.
    each = {1: [140.0] * 100, 2: [160.0] * 99 + [175.0], 3: [165.0] * 99 + [180.0]}
    assert soak.p6(by_process(soak, each), 1_000_000) == []
    grown = {1: [140.0] * 100, 2: [160.0] * 99 + [181.0], 3: [165.0] * 100}
    assert soak.p6(by_process(soak, grown), 1_000_000) == ["P6: RSS grew +21.0 MB from 10000 calls"]
    large = {1: [140.0] * 100, 2: [185.0] * 99 + [201.0]}
    assert soak.p6(by_process(soak, large), 1_000_000) == ["P6: a process holds 201.0 MB"]


def test_with_workers_one_process_that_keeps_growing_fails_the_trend(soak: ModuleType) -> None:
    steady = [150.0] * 10
    growing = [150.0 + 5.0 * n for n in range(10)]
    failures = soak.judge(by_process(soak, {7: steady, 8: growing}), 100_000)
    assert len(failures) == 1 and failures[0].startswith("rss_mb of process 8 grows +")
    assert soak.judge(by_process(soak, {7: steady, 8: steady}), 100_000) == []


def test_a_short_run_holds_each_process_under_the_cap_instead_of_judging_the_trend(
    soak: ModuleType,
) -> None:
    # 20,000 calls sampled every 2,000: caches filling give +0.16 KB a call, which projected
    # over a million calls is far past the limit; the same run at 100,000 calls fails it.
    filling = [171.5 + 0.6 * n for n in range(10)]
    assert soak.judge(samples(soak, filling, every=2_000), 20_000) == []
    assert soak.judge(samples(soak, filling, every=10_000), 100_000)[0].startswith(
        "rss_mb of the gateway grows +"
    )
    large = [190.0 + 2.0 * n for n in range(10)]
    assert soak.judge(samples(soak, large, every=2_000), 20_000) == [
        "a process holds 208.0 MB (limit 200)"
    ]
