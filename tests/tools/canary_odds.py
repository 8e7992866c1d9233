"""The odds of the canary's 5xx rule: how often it misses a bad release, how often it rolls back a good one.

The canary role promotes or rolls back on counts, so its defaults
(canary_min_requests, canary_max_5xx_increase) are a trade between two
errors. This script computes both, exactly, for the rule as the collection
runs it: for each number of baseline 5xx it asks the collection's own
``verdict`` (plugins/module_utils/canary.py) for the fewest canary 5xx that
roll back, then sums the binomial probabilities on either side.

- **miss**: a canary failing BAD (2 %) of its requests against a baseline
  failing none is promoted;
- **false rollback**: canary and baseline both failing NOISE (0.5 %) of
  their requests, the canary is rolled back.

Both sides are judged at the same request counts: the canary's N
(min_requests), the baseline's BASELINE_SHARE x N (2: two baseline hosts
against one canary). The end-of-window rule only; the early rollback
(a rule already broken before min_requests) adds rollbacks, so it can only
lower the miss odds, and it needs more 5xx than min_requests allows.

    python tests/tools/canary_odds.py              # the table for 300 ... 2000 requests
    python tests/tools/canary_odds.py --json 1000  # one count, as JSON
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[2]
COUNTS = (300, 500, 1000, 2000)
# Terms of a binomial below this probability are left out of the sums.
NEGLIGIBLE = 1e-15


def load_canary() -> ModuleType:
    """The collection's plugins/module_utils/canary.py (not a package here)."""
    spec = importlib.util.spec_from_file_location("fasterapi_canary", ROOT / "plugins/module_utils/canary.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fasterapi_canary"] = module
    spec.loader.exec_module(module)
    return module


def binomial(n: int, p: float) -> List[float]:
    """P(X = k) for k in 0..n, X ~ Binomial(n, p), by the recurrence (no overflow at n in the thousands)."""
    if p <= 0:
        return [1.0] + [0.0] * n
    if p >= 1:
        return [0.0] * n + [1.0]
    probabilities = [0.0] * (n + 1)
    probabilities[0] = math.exp(n * math.log1p(-p))
    ratio = p / (1 - p)
    for k in range(1, n + 1):
        probabilities[k] = probabilities[k - 1] * (n - k + 1) / k * ratio
    if probabilities[0] == 0.0:
        # Underflow at the start (large n x p): normalise logs instead.
        logs = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
                + (n - k) * math.log1p(-p) for k in range(n + 1)]
        probabilities = [math.exp(value) for value in logs]
    return probabilities


def rollback_threshold(canary: ModuleType, requests: int, baseline_requests: int, baseline_errors: int,
                       rules: Dict[str, Any]) -> int:
    """The fewest canary 5xx of REQUESTS the collection's verdict rolls back, BASELINE_ERRORS of BASELINE_REQUESTS
    failing on the other side (REQUESTS + 1: none does). Latencies are equal on both sides, so only the 5xx rule acts."""

    def rolls_back(errors: int) -> bool:
        same_latency = {"0": 1}
        result = canary.verdict(
            canary.Stats.from_dict({"requests": requests, "errors": errors, "latency": same_latency}),
            canary.Stats.from_dict({"requests": baseline_requests, "errors": baseline_errors, "latency": same_latency}),
            rules)
        if result["decision"] not in ("promote", "rollback"):
            raise ValueError(f"no decision at {requests} and {baseline_requests} requests: {result['rule']}")
        return bool(result["decision"] == "rollback")

    low, high = 0, requests + 1
    # More canary 5xx never turns a rollback into a promotion: bisect for the first that rolls back.
    while low < high:
        middle = (low + high) // 2
        if rolls_back(middle):
            high = middle
        else:
            low = middle + 1
    return low


def rollback_probability(canary: ModuleType, requests: int, baseline_requests: int, canary_rate: float,
                         baseline_rate: float, rules: Dict[str, Any]) -> float:
    """P(the verdict rolls back) with each request failing at CANARY_RATE on the canary, BASELINE_RATE on the rest."""
    canary_odds = binomial(requests, canary_rate)
    # tail[k] = P(canary 5xx >= k)
    tail = [0.0] * (requests + 2)
    for k in range(requests, -1, -1):
        tail[k] = tail[k + 1] + canary_odds[k]
    total = 0.0
    thresholds: Dict[int, int] = {}
    for errors, probability in enumerate(binomial(baseline_requests, baseline_rate)):
        if probability < NEGLIGIBLE:
            continue
        if errors not in thresholds:
            thresholds[errors] = rollback_threshold(canary, requests, baseline_requests, errors, rules)
        total += probability * tail[min(thresholds[errors], requests + 1)]
    return min(total, 1.0)


def odds(canary: ModuleType, requests: int, bad: float, noise: float, baseline_share: float,
         increase: float) -> Dict[str, Any]:
    """The miss and false-rollback odds at REQUESTS canary requests (min_requests there too)."""
    baseline_requests = int(round(requests * baseline_share))
    rules = {"min_requests": requests, "max_error_rate_increase": increase}
    return {
        "min_requests": requests,
        "baseline_requests": baseline_requests,
        "max_error_rate_increase": increase,
        "miss": max(0.0, 1.0 - rollback_probability(canary, requests, baseline_requests, bad, 0.0, rules)),
        "false_rollback": rollback_probability(canary, requests, baseline_requests, noise, noise, rules),
        "bad_rate": bad,
        "noise_rate": noise,
    }


def table(rows: Sequence[Dict[str, Any]]) -> str:
    lines = [f"| canary requests | baseline requests | miss: {rows[0]['bad_rate']:.1%} failing promoted "
             f"| false rollback: both failing {rows[0]['noise_rate']:.1%} |",
             "| --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['min_requests']:,} | {row['baseline_requests']:,} | {row['miss']:.3g} | {row['false_rollback']:.2g} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=list(COUNTS), help="canary requests (min_requests)")
    parser.add_argument("--bad", type=float, default=0.02, help="the bad release's 5xx share (0.02)")
    parser.add_argument("--noise", type=float, default=0.005, help="both sides' 5xx share for a good release (0.005)")
    parser.add_argument("--baseline-share", type=float, default=2.0, help="baseline requests per canary request (2)")
    parser.add_argument("--increase", type=float, default=None,
                        help="max_error_rate_increase as a fraction (default: the collection's, 0.01)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    canary = load_canary()
    increase = canary.DEFAULT_RULES["max_error_rate_increase"] if args.increase is None else args.increase
    if any(count < 1 for count in args.counts):
        parser.error("counts: expected whole numbers of requests, 1 or more")
    rows = [odds(canary, count, args.bad, args.noise, args.baseline_share, increase) for count in args.counts]
    out(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
