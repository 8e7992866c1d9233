"""tests/tools/canary_odds.py: the canary 5xx rule's miss and false-rollback odds, from the collection's own verdict."""

from __future__ import annotations

import json
import math
from typing import List

import pytest
from _load import load_module

canary_odds = load_module("tests/tools/canary_odds.py", "canary_odds")
CANARY = canary_odds.load_canary()


@pytest.mark.parametrize(("n", "p"), [(0, 0.3), (7, 0.0), (7, 1.0), (12, 0.02), (40, 0.5), (3000, 0.3)])
def test_binomial_matches_the_closed_form(n: int, p: float) -> None:
    found = canary_odds.binomial(n, p)
    assert len(found) == n + 1 and math.isclose(sum(found), 1.0, rel_tol=1e-9)
    for k in range(0, n + 1, max(1, n // 10)):
        expected = math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                            + (k * math.log(p) if k else 0.0) + ((n - k) * math.log1p(-p) if n - k else 0.0)) \
            if 0 < p < 1 else float(k == (n if p >= 1 else 0))
        assert math.isclose(found[k], expected, rel_tol=1e-6, abs_tol=1e-300), (k, found[k], expected)


def test_the_threshold_is_the_collection_rule() -> None:
    rules = {"min_requests": 1000, "max_error_rate_increase": 0.01}
    # 10 of 1,000 is 1.00 point above a clean baseline: allowed; 11 is not.
    assert canary_odds.rollback_threshold(CANARY, 1000, 2000, 0, rules) == 11
    # A baseline failing 1 % (20 of 2,000) moves the line to 2 %: 21 of 1,000 rolls back.
    assert canary_odds.rollback_threshold(CANARY, 1000, 2000, 20, rules) == 21
    # A looser rule (5 points) needs more.
    assert canary_odds.rollback_threshold(CANARY, 1000, 2000, 0, {**rules, "max_error_rate_increase": 0.05}) == 51


def _brute_force(n: int, m: int, canary_rate: float, baseline_rate: float) -> float:
    """P(rollback) by asking the verdict for every pair of 5xx counts."""
    rules = {"min_requests": n, "max_error_rate_increase": 0.01}
    canary_odds_list: List[float] = canary_odds.binomial(n, canary_rate)
    total = 0.0
    for y, py in enumerate(canary_odds.binomial(m, baseline_rate)):
        for x, px in enumerate(canary_odds_list):
            result = CANARY.verdict(CANARY.Stats.from_dict({"requests": n, "errors": x, "latency": {"0": 1}}),
                                    CANARY.Stats.from_dict({"requests": m, "errors": y, "latency": {"0": 1}}), rules)
            total += px * py * (result["decision"] == "rollback")
    return total


@pytest.mark.parametrize(("canary_rate", "baseline_rate"), [(0.02, 0.0), (0.05, 0.05), (0.2, 0.1)])
def test_the_sums_agree_with_every_pair_asked(canary_rate: float, baseline_rate: float) -> None:
    rules = {"min_requests": 30, "max_error_rate_increase": 0.01}
    found = canary_odds.rollback_probability(CANARY, 30, 60, canary_rate, baseline_rate, rules)
    assert math.isclose(found, _brute_force(30, 60, canary_rate, baseline_rate), rel_tol=1e-9, abs_tol=1e-12)


def test_more_requests_miss_less_and_roll_back_less_by_chance() -> None:
    rows = [canary_odds.odds(CANARY, count, 0.02, 0.005, 2.0, 0.01) for count in (300, 1000, 2000)]
    misses = [row["miss"] for row in rows]
    false = [row["false_rollback"] for row in rows]
    assert misses == sorted(misses, reverse=True) and false == sorted(false, reverse=True)
    # The default (1,000 requests) misses a 2 % release about 1 time in 100.
    assert 0.005 < rows[1]["miss"] < 0.02 and rows[1]["false_rollback"] < 0.001


def test_main_prints_the_table_and_json() -> None:
    printed: List[str] = []
    assert canary_odds.main(["500", "1000"], out=printed.append) == 0
    assert printed[0].count("\n") == 3 and "| 1,000 | 2,000 |" in printed[0]
    assert canary_odds.main(["--json", "1000"], out=printed.append) == 0
    (row,) = json.loads(printed[1])
    assert row["min_requests"] == 1000 and row["max_error_rate_increase"] == 0.01


def test_main_refuses_a_count_below_one() -> None:
    with pytest.raises(SystemExit):
        canary_odds.main(["0"], out=lambda _text: None)
