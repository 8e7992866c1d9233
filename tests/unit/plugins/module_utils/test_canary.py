"""A canary's measurements and decision (plugins/module_utils/canary.py): the log's lines, histograms, samples, verdicts."""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import canary

T0 = 1_800_000_000.0


def line(t: float, ua: str = "10.0.0.2:8000", us: str = "200", urt: str = "0.005", status: int = 200) -> str:
    """A line as nginx's log_format escape=json writes it."""
    return '{"t":%.3f,"m":"GET","s":%d,"ua":"%s","us":"%s","urt":"%s","rt":0.010}\n' % (t, status, ua, us, urt)


def stats(requests: int, errors: int = 0, seconds: float = 0.005) -> canary.Stats:
    found = canary.Stats()
    for number in range(requests):
        found.add(503 if number < errors else 200, seconds)
    return found


def exact(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


# The log's lines.

def test_one_attempt() -> None:
    assert canary.parse_attempts(line(T0)) == (T0, [("10.0.0.2:8000", 200, 0.005)])


def test_a_retry_is_an_attempt_on_each_server() -> None:
    parsed = canary.parse_attempts(line(T0, "10.0.0.2:8000, 10.0.0.3:8000", "502, 200", "0.003, 0.004"))
    assert parsed == (T0, [("10.0.0.2:8000", 502, 0.003), ("10.0.0.3:8000", 200, 0.004)])


def test_groups_of_internal_redirects_ipv6_and_unix_sockets() -> None:
    parsed = canary.parse_attempts(line(T0, "[fd00::2]:8000, 10.0.0.3:8000 : unix:/run/shop.sock", "504, 200 : 404",
                                        "1.000, 0.020 : 0.001"))
    assert parsed == (T0, [("[fd00::2]:8000", 504, 1.0), ("10.0.0.3:8000", 200, 0.02), ("unix:/run/shop.sock", 404, 0.001)])


def test_unknown_statuses_and_times_are_none() -> None:
    parsed = canary.parse_attempts(line(T0, "10.0.0.2:8000, 10.0.0.3:8000", "-, 200", "-, 0.004"))
    assert parsed == (T0, [("10.0.0.2:8000", None, None), ("10.0.0.3:8000", 200, 0.004)])
    # Fewer statuses or times than addresses: the missing ones are unknown.
    assert canary.parse_attempts(line(T0, "10.0.0.2:8000, 10.0.0.3:8000", "502", "0.003"))[1][1] == ("10.0.0.3:8000", None, None)


@pytest.mark.parametrize("unset", ["", "-"])
def test_a_request_nginx_answered_itself_has_no_attempt(unset: str) -> None:
    assert canary.parse_attempts(line(T0, unset, unset, unset, status=404)) == (T0, [])


@pytest.mark.parametrize("text", ["", "garbage", "[1, 2]", '{"m":"GET"}', '{"t":"soon"}', '{"t":true}', '{"t":1.5',
                                  '192.0.2.1 - - [07/Dec/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5'])
def test_a_line_that_is_not_such_json_is_none(text: str) -> None:
    assert canary.parse_attempts(text) is None


# Histograms.

def test_percentiles_are_within_one_percent_of_the_exact_ones() -> None:
    chance = random.Random(7)
    values = [chance.lognormvariate(math.log(0.02), 1.2) + 0.0002 for _number in range(20000)]
    histogram = canary.Histogram()
    for value in values:
        histogram.add(value)
    assert histogram.count == len(values)
    for q in (0, 1, 10, 50, 90, 95, 99, 99.9, 100):
        assert abs(histogram.percentile(q) / exact(values, q) - 1) < 0.01, q


def test_a_few_values_and_the_lowest_bucket() -> None:
    histogram = canary.Histogram()
    assert histogram.percentile(50) is None and histogram.count == 0
    for value in (0.0, 0.00005, 0.0001, 0.002, 0.004):
        histogram.add(value)
    assert histogram.percentile(50) == canary.LOWEST  # three of five are at most 0.1 ms
    assert abs(histogram.percentile(80) / 0.002 - 1) < 0.01 and abs(histogram.percentile(100) / 0.004 - 1) < 0.01
    with pytest.raises(ValueError):
        histogram.percentile(101)
    with pytest.raises(ValueError):
        histogram.add(math.inf)


def test_merged_histograms_are_the_histogram_of_all_values_and_survive_json() -> None:
    chance = random.Random(11)
    values = [chance.uniform(0.001, 2.0) for _number in range(3000)]
    one, other, both = canary.Histogram(), canary.Histogram(), canary.Histogram()
    for position, value in enumerate(values):
        (one if position % 3 else other).add(value)
        both.add(value)
    assert one.merge(other).buckets == both.buckets and one.count == 3000
    again = canary.Histogram.from_dict(json.loads(json.dumps(both.to_dict())))
    assert again.buckets == both.buckets and again.percentile(99) == both.percentile(99)
    assert all(isinstance(key, str) for key in both.to_dict())


def test_stats_count_attempts_5xx_and_times() -> None:
    found = canary.Stats()
    for status, seconds in ((200, 0.01), (502, 0.002), (None, None), (404, 0.003), (500, None)):
        found.add(status, seconds)
    assert (found.requests, found.errors, found.latency.count) == (5, 2, 3)
    merged = canary.Stats.from_dict(json.loads(json.dumps(found.to_dict()))).merge(found)
    assert (merged.requests, merged.errors, merged.latency.count) == (10, 4, 6)
    assert merged.summary()["error_rate"] == 0.4


def test_a_side_merges_its_addresses_a_host_for_all_its_ports() -> None:
    by_address = {"10.0.0.2:8000": stats(10), "10.0.0.2:8001": stats(5), "10.0.0.3:8000": stats(7, 7),
                  "[fd00::3]:8000": stats(2), "unix:/run/shop.sock": stats(1)}
    assert canary.side(by_address, ["10.0.0.2"]).requests == 15
    assert canary.side(by_address, ["10.0.0.2:8001", "10.0.0.3:8000"]).requests == 12
    assert canary.side(by_address, ["fd00::3"]).requests == 2 and canary.side(by_address, ["[fd00::3]"]).requests == 2
    assert canary.side(by_address, ["unix:/run/shop.sock"]).requests == 1
    assert canary.side(by_address, ["10.0.0.9"]).requests == 0


# Verdicts.

def test_two_percent_errors_against_none_rolls_back() -> None:
    result = canary.verdict(stats(1000, 20), stats(1000), {"max_error_rate_increase": 0.01})
    assert result["decision"] == "rollback" and result["error_rate_increase"] == 0.02
    assert result["rule"].startswith("errors: the canary's 5xx rate, 2.00% (20 of 1000), is 2.00 points above")
    assert result["canary"] == {"requests": 1000, "errors": 20, "error_rate": 0.02, "p50": 0.005, "p95": 0.005, "p99": 0.005}


def test_two_hundred_ms_more_than_five_rolls_back() -> None:
    result = canary.verdict(stats(1000, seconds=0.205), stats(1000, seconds=0.005), {})
    assert result["decision"] == "rollback" and result["rule"].startswith("latency: the canary's p95, 205")
    assert abs(result["latency_ratio"] - 0.205 / 0.02) < 0.1  # the baseline's 5 ms counts as the 20 ms floor


def test_equal_sides_promote_with_every_rules_figures() -> None:
    result = canary.verdict(stats(1000, 1), stats(1000, 1), {})
    assert result["decision"] == "promote" and result["latency_ratio"] == 1.0 and result["error_rate_increase"] == 0
    assert result["rule"].startswith("every rule passed") and "0.10% (1 of 1000)" in result["rule"] and "p95" in result["rule"]


def test_below_min_requests_is_insufficient_whatever_the_figures() -> None:
    result = canary.verdict(stats(99, 1), stats(5000), {"min_requests": 100})
    assert result["decision"] == "insufficient" and "the canary had 99 and the baseline 5000" in result["rule"]
    assert canary.verdict(stats(5000), stats(50), {"min_requests": 100})["decision"] == "insufficient"


def test_a_rule_broken_whatever_comes_next_rolls_back_before_min_requests() -> None:
    # 11 5xx in 300 requests: at 1,000 (min_requests) the rate is at least 1.1 %, over 0 % + 1 point.
    result = canary.verdict(stats(300, 11), stats(5000), {"min_requests": 1000})
    assert result["decision"] == "rollback" and result["rule"].startswith("errors: the canary answered 11 of its first 300")
    assert canary.verdict(stats(300, 10), stats(5000), {"min_requests": 1000})["decision"] == "insufficient"
    # 51 answers over 1.5 x the 20 ms floor: more than 5 % of 1,000, so the p95 at 1,000 is above it.
    result = canary.verdict(stats(51, seconds=0.205), stats(5000), {"min_requests": 1000})
    assert result["decision"] == "rollback" and result["rule"].startswith("latency: 51 of the canary's first 51 answers")
    assert canary.verdict(stats(50, seconds=0.205), stats(5000), {"min_requests": 1000})["decision"] == "insufficient"
    # Not before the baseline has min_requests: its figures are what the canary is held to.
    assert canary.verdict(stats(300, 100), stats(999), {"min_requests": 1000})["decision"] == "insufficient"


def test_the_floor_keeps_small_latencies_from_rolling_back() -> None:
    assert canary.verdict(stats(500, seconds=0.004), stats(500, seconds=0.002),
                          {"latency_floor": 0.01, "min_requests": 500})["decision"] == "promote"
    without = canary.verdict(stats(500, seconds=0.004), stats(500, seconds=0.002), {"latency_floor": 0, "min_requests": 500})
    assert without["decision"] == "rollback" and abs(without["latency_ratio"] - 2) < 0.03
    # Above the floor on one side only: the other side counts as the floor.
    result = canary.verdict(stats(500, seconds=0.030), stats(500, seconds=0.002), {"latency_floor": 0.01, "min_requests": 500})
    assert result["decision"] == "rollback" and abs(result["latency_ratio"] - 3) < 0.05
    assert "2.0 ms counted as 10.0 ms (latency_floor)" in result["rule"]


def test_errors_and_latency_both_failing_say_both() -> None:
    result = canary.verdict(stats(1000, 50, seconds=0.5), stats(1000, 0, seconds=0.1), {})
    assert result["decision"] == "rollback" and result["rule"].startswith("errors: ") and "; and latency: " in result["rule"]


def test_the_latency_percentile_is_the_one_asked_for() -> None:
    slow_tail = canary.Stats()
    for number in range(1000):
        slow_tail.add(200, 1.0 if number < 20 else 0.1)  # 2% at 1 s: p99 is 1 s, p95 100 ms
    assert canary.verdict(slow_tail, stats(1000, seconds=0.1), {"latency_percentile": 95})["decision"] == "promote"
    assert canary.verdict(slow_tail, stats(1000, seconds=0.1), {"latency_percentile": 99})["decision"] == "rollback"


@pytest.mark.parametrize(("rules", "message"), [({"latency_percentile": 75}, "latency_percentile=75"),
                                                ({"min_requests": 0}, "min_requests=0"),
                                                ({"max_latency_ratio": "fast"}, "max_latency_ratio='fast'"),
                                                ({"max_errors": 1}, "unknown rule max_errors")])
def test_wrong_rules_are_refused_by_name(rules: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canary.verdict(stats(1000), stats(1000), rules)


def test_the_verdict_as_text() -> None:
    text = canary.format_verdict(canary.verdict(stats(1000, 20), stats(2000), {}))
    lines = text.splitlines()
    assert lines[0] == "canary:   1000 requests, 20 5xx (2.00%), p50 5.0 ms, p95 5.0 ms, p99 5.0 ms"
    assert lines[1] == "baseline: 2000 requests, 0 5xx (0.00%), p50 5.0 ms, p95 5.0 ms, p99 5.0 ms"
    assert lines[2] == "decision: rollback" and lines[3].startswith("errors: ")
    empty = canary.format_verdict(canary.verdict(canary.Stats(), canary.Stats(), {}))
    assert "0 requests, 0 5xx (0.00%), p50 -, p95 -, p99 -" in empty and "decision: insufficient" in empty


# Samples from the log.

def write(path: Path, lines: List[str], mode: str = "a") -> None:
    with open(path, mode, encoding="utf-8") as handle:
        handle.writelines(lines)


def requests_of(found: Dict[str, Any], address: str = "10.0.0.2:8000") -> int:
    upstream: Optional[canary.Stats] = found["upstreams"].get(address)
    return upstream.requests if upstream else 0


def test_a_sample_counts_what_was_logged_since_the_mark(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    write(log, [line(T0 - 100 + number) for number in range(50)])
    start = canary.mark(str(log))
    assert start["path"] == str(log) and start["offset"] == log.stat().st_size and start["inode"] == log.stat().st_ino
    now = start["time"]
    write(log, [line(now + 1, "10.0.0.3:8000", "500", "0.100"), line(now + 2), "not json\n", line(now + 3),
                line(now + 100), line(now - 1)])  # after the end of the sample, before the mark (a buffered write)
    write(log, ['{"t":%.3f,"ua":"10.0.0.2:8000"' % (now + 4)])  # still being written
    found = canary.sample(start, until=now + 50)
    assert requests_of(found) == 2 and found["upstreams"]["10.0.0.3:8000"].errors == 1
    assert (found["lines"], found["skipped"], found["rotated_unknown"]) == (6, 1, False)
    assert (found["since"], found["until"]) == (now, now + 50)
    assert requests_of(canary.sample(start, until=now + 200)) == 3


def test_a_sample_follows_a_rotation_to_dot_one(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    write(log, [line(T0 - 10)])
    start = canary.mark(str(log))
    now = start["time"]
    write(log, [line(now + 1), line(now + 2)])
    os.rename(log, str(log) + ".1")
    write(log, [line(now + 3, "10.0.0.3:8000")])
    found = canary.sample(start, until=now + 10)
    assert requests_of(found) == 2 and requests_of(found, "10.0.0.3:8000") == 1
    assert found["lines"] == 3 and not found["rotated_unknown"]


def test_a_rotation_it_cannot_follow_reads_the_log_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    write(log, [line(T0 - 10)])
    start = canary.mark(str(log))
    now = start["time"]
    os.rename(log, tmp_path / "upstream.log.2")
    write(log, [line(now + 1), line(now + 2)])
    found = canary.sample(start, until=now + 10)
    assert requests_of(found) == 2 and found["rotated_unknown"]
    # Truncated in place (copytruncate): the same.
    write(log, [line(now + 3)], mode="w")
    found = canary.sample(dict(start, inode=log.stat().st_ino, offset=10_000), until=now + 10)
    assert requests_of(found) == 1 and found["rotated_unknown"]
    log.unlink()
    with pytest.raises(FileNotFoundError):
        canary.sample(start)


def test_recent_reads_the_last_seconds_from_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "upstream.log"
    monkeypatch.setattr(canary, "BLOCK", 256)
    old = [line(T0 - 3600 + number * 0.5, "10.0.0.9:8000") for number in range(4000)]
    write(log, ["{broken\n"] + old + [line(T0 - 59.5 + number * 0.5) for number in range(120)] + ["garbage\n"])
    write(log, ['{"t":%.3f' % T0])  # still being written
    found = canary.recent(str(log), 60, now=T0)
    assert requests_of(found) == 120 and requests_of(found, "10.0.0.9:8000") == 0
    assert found["skipped"] == 1 and found["lines"] < 200  # not the old part of the file
    assert (found["since"], found["until"]) == (T0 - 60, T0)


def test_recent_goes_on_into_dot_one_after_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    write(Path(str(log) + ".1"), [line(T0 - 100), line(T0 - 30), line(T0 - 20)])
    write(log, [line(T0 - 10), line(T0 - 5)])
    found = canary.recent(str(log), 60, now=T0)
    assert requests_of(found) == 4 and found["lines"] == 5
    assert requests_of(canary.recent(str(log), 60, now=time.time() + 3600)) == 0
    with pytest.raises(FileNotFoundError):
        canary.recent(str(tmp_path / "missing.log"), 60)
