"""The pipeline benchmark's verdicts: memory judged on the slope over the later rounds alone, the
200-person round by the median of every such round in the run."""

from __future__ import annotations

import pytest

from tests.bench.bench_pipeline import SLOPE_BUDGET_KIB, growth, later_slope, target_200, within_budget

pytestmark = pytest.mark.unit

WANDER_MIB = [0.0, 0.3, -0.2, 0.1, -0.3, 0.2, 0.0, -0.1, 0.3, -0.2]  # a few hundred KiB either way


def rounds(values: list[float], name: str = "notifier") -> list[dict[str, float]]:
    """Readings of one service (the other two steady), one a round."""
    return [{"registry": 180.0, "matcher": 295.0, name: value} for value in values]


def test_a_steady_leak_after_a_warm_up_fails() -> None:
    # 20 MiB over the first round, then 1 MiB every round: the old halves rule let this through.
    values = [150.0 + (20.0 if i else 0.0) + i * 1.0 for i in range(30)]
    slope = later_slope(rounds(values), "notifier")
    assert slope == pytest.approx(1024)
    assert not within_budget(slope)


def test_a_small_steady_leak_fails() -> None:
    values = [150.0 + i * 70 / 1024 + WANDER_MIB[i % len(WANDER_MIB)] / 3 for i in range(30)]
    assert not within_budget(later_slope(rounds(values), "notifier"))


def test_a_cache_that_fills_then_stays_passes() -> None:
    # Grows fast over the first rounds up to its bound, then only wanders.
    values = [150.0 + min(i, 8) * 2.0 + WANDER_MIB[i % len(WANDER_MIB)] for i in range(30)]
    slope = later_slope(rounds(values), "notifier")
    assert slope is not None
    assert abs(slope) <= SLOPE_BUDGET_KIB
    assert within_budget(slope)


def test_only_the_second_half_counts() -> None:
    # Growth stops at round 15 of 30: the first 15 rounds say nothing about the slope.
    values = [100.0 + min(i, 15) * 5.0 for i in range(30)]
    assert later_slope(rounds(values), "notifier") == pytest.approx(0)


def test_a_missing_reading_fails() -> None:
    held = rounds([150.0] * 30)
    del held[3]["notifier"]  # the process had gone; it was not "0 MiB"
    assert later_slope(held, "notifier") is None
    assert not within_budget(later_slope(held, "notifier"))
    assert "notifier has no slope" in growth([{"broker": "Tansu", "repeats": held}])
    assert growth([{"broker": "Tansu", "repeats": held}]).endswith("; not met.")


def test_the_report_says_each_slope_and_the_verdict() -> None:
    said = growth([{"broker": "Tansu", "repeats": rounds([150.0 + i * 0.5 for i in range(30)])}])
    assert "over rounds 16 to 30" in said
    assert "registry +0 KiB a round (met)" in said
    assert "notifier +512 KiB a round (not met)" in said
    assert said.endswith("; not met.")
    steady = growth([{"broker": "Tansu", "repeats": rounds([150.0] * 30)}])
    assert steady.endswith("; met.")


def test_the_200_person_target_is_judged_by_the_median_round_not_one_lucky_one():
    def run(first: float, repeated: list[float]) -> dict:
        return {"broker": "Tansu", "small": {"launch to last message": first}, "repeat times": repeated}

    assert target_200(run(1.5, [2.4, 2.2, 2.1, 1.9])).endswith("missed by 0.10 s")  # the first round alone was fast
    assert "median 1.80 s over 5 rounds (4 of them under 2 s, 1.60 to 2.60 s), met" in target_200(run(2.6, [1.6, 1.7, 1.8, 1.9]))
