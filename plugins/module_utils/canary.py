# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A canary release's measurements and decision, from the front doors' structured access log.

The nginx role's structured access log (nginx_upstream_log) writes one JSON
object a line, with nginx's log_format escape=json:

  {"t":$msec,"m":"$request_method","s":$status,"ua":"$upstream_addr",
   "us":"$upstream_status","urt":"$upstream_response_time","rt":$request_time}

The upstream variables list one entry per attempt on an upstream server,
separated by ", " (a retry by proxy_next_upstream), in groups separated by
" : " (an internal redirect); an unset value is "" or "-". parse_attempts()
turns a line into its attempts, and Stats counts them per upstream address:
attempts, 5xx answers, and a Histogram of response times (log buckets: a
percentile is within 1% of the exact one, whatever the number of requests,
and two front doors' histograms add up).

On a front door, mark() notes where the log ends before the canary takes
traffic, and sample() reads what was written since (following a rotation to
<log>.1); recent() reads the last seconds of the log from its end. On the
controller, side() merges the addresses of one side (the canary's hosts, the
baseline's), verdict() compares the two sides against the rules and says
promote, rollback or insufficient, with the rule that decided and its
figures, and format_verdict() lays it out for the play's output.

Pure standard library: runs on the hosts (canary_sample) and the
controller (the canary filters).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

RATIO = 1.01
LOWEST = 0.0001
_LOG_RATIO = math.log(RATIO)
_SEPARATORS = re.compile(r", | : ")
_SECONDS = re.compile(r"^[0-9]+(\.[0-9]+)?$")
BLOCK = 65536
PERCENTILES = (50, 90, 95, 99)
DEFAULT_RULES: Dict[str, Any] = {
    "min_requests": 1000,
    "max_error_rate_increase": 0.01,
    "max_latency_ratio": 1.5,
    "latency_percentile": 95,
    "latency_floor": 0.02,
}

Attempt = Tuple[str, Optional[int], Optional[float]]


class Histogram:
    """Latencies in seconds, counted in log buckets of ratio RATIO (a value is known within 0.5%).

    Bucket 0 holds every value up to LOWEST (0.1 ms); bucket i > 0 the values
    in (LOWEST * RATIO ** (i - 1), LOWEST * RATIO ** i].
    """

    def __init__(self) -> None:
        self.buckets: Dict[int, int] = {}

    @property
    def count(self) -> int:
        """How many values were added."""
        return sum(self.buckets.values())

    @staticmethod
    def bucket(seconds: float) -> int:
        """The bucket of SECONDS."""
        if not math.isfinite(seconds):
            raise ValueError(f"a latency must be a finite number of seconds, not {seconds!r}")
        if seconds <= LOWEST:
            return 0
        return max(1, int(math.ceil(math.log(seconds / LOWEST) / _LOG_RATIO)))

    @staticmethod
    def value(index: int) -> float:
        """The value bucket INDEX stands for: its geometric middle (LOWEST for bucket 0)."""
        return LOWEST if index <= 0 else LOWEST * RATIO ** (index - 0.5)

    def add(self, seconds: float, number: int = 1) -> None:
        """Count SECONDS (NUMBER times)."""
        index = self.bucket(seconds)
        self.buckets[index] = self.buckets.get(index, 0) + number

    def merge(self, other: Histogram) -> Histogram:
        """Add the counts of OTHER to this one's; returns this one."""
        for index, number in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + number
        return self

    def percentile(self, q: float) -> Optional[float]:
        """The Q-th percentile (0 to 100) in seconds, by nearest rank; None when nothing was added."""
        if not 0 <= q <= 100:
            raise ValueError(f"a percentile is from 0 to 100, not {q!r}")
        total = self.count
        if not total:
            return None
        rank = max(1, int(math.ceil(q / 100.0 * total)))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return self.value(index)
        return self.value(max(self.buckets))

    def count_above(self, seconds: float) -> int:
        """How many values lie above SECONDS (by their buckets' values)."""
        return sum(number for index, number in self.buckets.items() if self.value(index) > seconds)

    def to_dict(self) -> Dict[str, int]:
        """The counts as JSON has them: {"<bucket index>": count}."""
        return {str(index): number for index, number in sorted(self.buckets.items()) if number}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """The histogram to_dict() gave DATA of."""
        histogram = cls()
        for index, number in data.items():
            if int(number) < 0:
                raise ValueError(f"bucket {index} has a negative count: {number!r}")
            if int(number):
                histogram.buckets[int(index)] = histogram.buckets.get(int(index), 0) + int(number)
        return histogram


class Stats:
    """What one upstream address (or a side: several merged) got: attempts, 5xx answers, response times."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latency = Histogram()

    def add(self, status: Optional[int], seconds: Optional[float]) -> None:
        """Count one attempt, answered with STATUS (None: none) in SECONDS (None: unknown)."""
        self.requests += 1
        if status is not None and status >= 500:
            self.errors += 1
        if seconds is not None:
            self.latency.add(seconds)

    def merge(self, other: Stats) -> Stats:
        """Add OTHER's counts to this one's; returns this one."""
        self.requests += other.requests
        self.errors += other.errors
        self.latency.merge(other.latency)
        return self

    @property
    def error_rate(self) -> float:
        """The share of attempts answered with a 5xx (0 with no attempt)."""
        return self.errors / self.requests if self.requests else 0.0

    def summary(self) -> Dict[str, Any]:
        """requests, errors, error_rate and p50, p95, p99 in seconds (to 0.1 ms; None without a time)."""
        found: Dict[str, Any] = {"requests": self.requests, "errors": self.errors, "error_rate": round(self.error_rate, 6)}
        for q in (50, 95, 99):
            value = self.latency.percentile(q)
            found[f"p{q}"] = None if value is None else round(value, 4)
        return found

    def to_dict(self) -> Dict[str, Any]:
        """The counts as JSON has them."""
        return {"requests": self.requests, "errors": self.errors, "latency": self.latency.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        """The Stats to_dict() gave DATA of."""
        stats = cls()
        stats.requests = int(data.get("requests", 0))
        stats.errors = int(data.get("errors", 0))
        stats.latency = Histogram.from_dict(data.get("latency") or {})
        return stats


def _entries(value: Any) -> List[str]:
    """One upstream variable's entries, attempts and groups alike."""
    if value is None:
        return []
    text = str(value).strip()
    return [] if text in ("", "-") else [entry.strip() for entry in _SEPARATORS.split(text)]


def _status(text: str) -> Optional[int]:
    return int(text) if text.isdigit() else None


def _seconds(text: str) -> Optional[float]:
    return float(text) if _SECONDS.match(text) else None


def parse_attempts(line: str) -> Optional[Tuple[float, List[Attempt]]]:
    """The time t of a log LINE and its attempts, (address, status, seconds); None for a line that is not such JSON.

    A request nginx answered itself has no attempt; an attempt's status or
    time nginx does not know ("-") is None, and an attempt without an address
    is left out.
    """
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    moment = entry.get("t")
    if isinstance(moment, bool) or not isinstance(moment, (int, float)) or not math.isfinite(moment):
        return None
    addresses, statuses, times = _entries(entry.get("ua")), _entries(entry.get("us")), _entries(entry.get("urt"))
    attempts: List[Attempt] = []
    for position, address in enumerate(addresses):
        if address in ("", "-"):
            continue
        status = _status(statuses[position]) if position < len(statuses) else None
        seconds = _seconds(times[position]) if position < len(times) else None
        attempts.append((address, status, seconds))
    return float(moment), attempts


def mark(path: str) -> Dict[str, Any]:
    """Where the log PATH ends now: {"path", "inode", "offset", "time"}, for sample() to read on from."""
    found = os.stat(path)
    return {"path": path, "inode": found.st_ino, "offset": found.st_size, "time": time.time()}


def _inode(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _lines(path: str, offset: int, complete_only: bool) -> Iterator[bytes]:
    """The lines of the file PATH from byte OFFSET; with COMPLETE_ONLY, not a last one still being written."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        for raw in handle:
            if complete_only and not raw.endswith(b"\n"):
                return
            yield raw


class _Tally:
    """Per-address stats of the entries from SINCE to UNTIL, and how many lines were read and skipped."""

    def __init__(self, since: float, until: float) -> None:
        self.since = since
        self.until = until
        self.upstreams: Dict[str, Stats] = {}
        self.lines = 0
        self.skipped = 0

    def read(self, raw: bytes) -> Optional[float]:
        """Count the log line RAW; returns its time (None for a line skipped)."""
        self.lines += 1
        parsed = parse_attempts(raw.decode("utf-8", errors="replace"))
        if parsed is None:
            self.skipped += 1
            return None
        moment, attempts = parsed
        if self.since <= moment <= self.until:
            for address, status, seconds in attempts:
                self.upstreams.setdefault(address, Stats()).add(status, seconds)
        return moment

    def result(self, rotated_unknown: bool = False) -> Dict[str, Any]:
        return {"upstreams": self.upstreams, "lines": self.lines, "skipped": self.skipped, "since": self.since,
                "until": self.until, "rotated_unknown": rotated_unknown}


def sample(start: Mapping[str, Any], until: Optional[float] = None) -> Dict[str, Any]:
    """Per upstream address, the Stats of the log's entries from the mark START's time to UNTIL (default: now).

    Reads the log from the mark's offset. When the log was rotated since (the
    file at its path has another inode) and <path>.1 is the file marked, reads
    <path>.1 from the offset then the new log from its start; when neither is,
    reads the log from its start, and says so (rotated_unknown), as it does
    when the log was truncated. A last line still being written is left for
    the next sample. Returns {"upstreams": {address: Stats}, "lines",
    "skipped" (lines that are not an entry), "since", "until", "rotated_unknown"}.
    Raises FileNotFoundError when there is no log at the path (nor the marked one at <path>.1).
    """
    path, inode, offset = str(start["path"]), int(start["inode"]), int(start["offset"])
    tally = _Tally(float(start["time"]), time.time() if until is None else float(until))
    reads: List[Tuple[str, int]] = []
    rotated_unknown = False
    current = _inode(path)
    if current == inode:
        if os.path.getsize(path) >= offset:
            reads.append((path, offset))
        else:
            reads.append((path, 0))
            rotated_unknown = True
    elif _inode(path + ".1") == inode:
        reads.append((path + ".1", offset))
        if current is not None:
            reads.append((path, 0))
    elif current is None:
        raise FileNotFoundError(2, "No such file or directory", path)
    else:
        reads.append((path, 0))
        rotated_unknown = True
    for name, position in reads:
        for raw in _lines(name, position, complete_only=name == path):
            tally.read(raw)
    return tally.result(rotated_unknown)


def _backwards(path: str) -> Iterator[List[bytes]]:
    """The complete lines of the file PATH, a block at a time from its end, each block's lines last first."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        carry = b""
        first = True
        while end > 0:
            start = max(0, end - BLOCK)
            handle.seek(start)
            pieces = (handle.read(end - start) + carry).split(b"\n")
            carry = pieces.pop(0) if start > 0 else b""
            if first:
                pieces.pop()  # after the last newline: nothing, or a line still being written
                first = False
            yield list(reversed(pieces))
            end = start


def recent(path: str, seconds: float, now: Optional[float] = None) -> Dict[str, Any]:
    """Per upstream address, the Stats of the last SECONDS of the log PATH (up to NOW, default: now).

    Reads the log backwards, a block at a time, and stops after the block
    where an entry older than that shows up (entries a moment out of order
    are still counted); when the log starts later, goes on into <path>.1.
    Returns what sample() does. Raises FileNotFoundError when there is no log at PATH.
    """
    until = time.time() if now is None else float(now)
    tally = _Tally(until - float(seconds), until)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    for name in (path, path + ".1"):
        if not os.path.exists(name):
            break
        older = False
        for block in _backwards(name):
            for raw in block:
                moment = tally.read(raw)
                older = older or (moment is not None and moment < tally.since)
            if older:
                break
        if older:
            break
    return tally.result()


def _matches(address: str, wanted: str) -> bool:
    """ADDRESS (10.0.0.3:8000, [fd00::3]:8000, unix:/run/app.sock) is WANTED, or is on the host WANTED names."""
    if address == wanted:
        return True
    if address.startswith("unix:"):
        return False
    head, _colon, port = address.rpartition(":")
    return bool(head) and port.isdigit() and head.strip("[]") == wanted.strip("[]")


def side(stats_by_address: Mapping[str, Stats], addresses: Iterable[str]) -> Stats:
    """The merged Stats of the ADDRESSES of STATS_BY_ADDRESS; an address without a port stands for all its ports."""
    wanted = [str(address) for address in addresses]
    merged = Stats()
    for address, stats in stats_by_address.items():
        if any(_matches(address, one) for one in wanted):
            merged.merge(stats)
    return merged


def _number(rules: Mapping[str, Any], name: str, low: float) -> float:
    value = rules[name]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name}={value!r}: expected a number, {low} or more")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a number, {low} or more") from None
    if not math.isfinite(number) or number < low:
        raise ValueError(f"{name}={value!r}: expected a number, {low} or more")
    return number


def checked_rules(rules: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """RULES over DEFAULT_RULES, checked; raises ValueError naming a rule that is unknown or wrong."""
    given = dict(rules or {})
    unknown = sorted(set(given) - set(DEFAULT_RULES))
    if unknown:
        raise ValueError(f"unknown rule {', '.join(unknown)}: expected some of {', '.join(DEFAULT_RULES)}")
    merged = dict(DEFAULT_RULES, **given)
    minimum = _number(merged, "min_requests", 1)
    if minimum != int(minimum):
        raise ValueError(f"min_requests={merged['min_requests']!r}: expected a whole number of requests, 1 or more")
    percentile = _number(merged, "latency_percentile", 0)
    if percentile not in PERCENTILES:
        raise ValueError(f"latency_percentile={merged['latency_percentile']!r}: expected one of "
                         f"{', '.join(str(q) for q in PERCENTILES)}")
    return {"min_requests": int(minimum),
            "max_error_rate_increase": _number(merged, "max_error_rate_increase", 0),
            "max_latency_ratio": _number(merged, "max_latency_ratio", 1),
            "latency_percentile": int(percentile),
            "latency_floor": _number(merged, "latency_floor", 0)}


def _ms(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def _broken_already(canary: Stats, baseline_rate: float, checked: Mapping[str, Any], slowest: float) -> List[str]:
    """The rules CANARY breaks already at min_requests: more 5xx, or more answers slower than SLOWEST (the latency
    allowed), than a sample of min_requests may have, whatever its next requests up to min_requests."""
    minimum, q = checked["min_requests"], checked["latency_percentile"]
    failed = []
    allowed_errors = (baseline_rate + checked["max_error_rate_increase"]) * minimum
    if canary.errors > allowed_errors:
        failed.append(f"errors: the canary answered {canary.errors} of its first {canary.requests} requests with a 5xx; "
                      f"even if its next ones all succeed, its 5xx rate at min_requests ({minimum}) is "
                      f"{_percent(canary.errors / minimum)}, more than max_error_rate_increase "
                      f"({checked['max_error_rate_increase'] * 100:.2f} points) above the baseline's {_percent(baseline_rate)}")
    slow = canary.latency.count_above(slowest)
    if slow > (100 - q) / 100.0 * minimum:
        failed.append(f"latency: {slow} of the canary's first {canary.requests} answers took longer than {_ms(slowest)} "
                      f"(max_latency_ratio times the baseline's p{q}); that is more than {100 - q} % of min_requests "
                      f"({minimum}), so its p{q} at min_requests is above it whatever comes next")
    return failed


def verdict(canary: Stats, baseline: Stats, rules: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Promote, roll back, or not enough requests to say: the CANARY's Stats against the BASELINE's, by RULES.

    Both sides need min_requests attempts. Then the canary rolls back when its
    5xx rate is more than max_error_rate_increase above the baseline's, or when
    its latency_percentile latency is more than max_latency_ratio times the
    baseline's, a latency below latency_floor counting as the floor (errors
    are checked first; both failing, the rule says both). RULES left out are
    DEFAULT_RULES'; raises ValueError for a wrong one.
    """
    checked = checked_rules(rules)
    q, floor = checked["latency_percentile"], checked["latency_floor"]
    canary_rate, baseline_rate = canary.error_rate, baseline.error_rate
    increase = canary_rate - baseline_rate
    canary_latency, baseline_latency = canary.latency.percentile(q), baseline.latency.percentile(q)
    denominator = max(baseline_latency or 0.0, floor)
    numerator = max(canary_latency or 0.0, floor)
    ratio = numerator / denominator if denominator > 0 else (1.0 if numerator <= 0 else math.inf)
    direction = "above" if increase >= 0 else "below"
    errors_text = (f"the canary's 5xx rate, {_percent(canary_rate)} ({canary.errors} of {canary.requests}), is "
                   f"{abs(increase) * 100:.2f} points {direction} the baseline's, {_percent(baseline_rate)} "
                   f"({baseline.errors} of {baseline.requests}); max_error_rate_increase allows "
                   f"{checked['max_error_rate_increase'] * 100:.2f} points")

    def floored(value: Optional[float]) -> str:
        shown = _ms(value)
        return f"{shown} counted as {_ms(floor)} (latency_floor)" if floor and (value or 0.0) < floor else shown

    ratio_text = f"{ratio:.2f} times" if math.isfinite(ratio) else "infinitely more than"
    latency_text = (f"the canary's p{q}, {floored(canary_latency)}, is {ratio_text} the baseline's, "
                    f"{floored(baseline_latency)}; max_latency_ratio allows {checked['max_latency_ratio']:g}")
    minimum = checked["min_requests"]
    if baseline.requests < minimum or canary.requests < minimum:
        decision, rule = "insufficient", (
            f"not enough requests to decide: the canary had {canary.requests} and the baseline {baseline.requests}; "
            f"min_requests asks for {minimum} on each side")
        if baseline.requests >= minimum:
            # Before the canary has min_requests, a rule decides only when the requests still to come cannot
            # save it: more 5xx, or more answers slower than the rule allows, than min_requests requests may have.
            failed = _broken_already(canary, baseline_rate, checked, denominator * checked["max_latency_ratio"])
            if failed:
                decision, rule = "rollback", "; and ".join(failed)
    else:
        failed = []
        if increase > checked["max_error_rate_increase"]:
            failed.append("errors: " + errors_text)
        if ratio > checked["max_latency_ratio"]:
            failed.append("latency: " + latency_text)
        decision = "rollback" if failed else "promote"
        rule = "; and ".join(failed) if failed else f"every rule passed. errors: {errors_text}; latency: {latency_text}"
    return {"decision": decision, "rule": rule, "rules": checked, "canary": canary.summary(),
            "baseline": baseline.summary(), "error_rate_increase": round(increase, 6),
            "latency_ratio": round(ratio, 3) if math.isfinite(ratio) else None}


def format_verdict(result: Mapping[str, Any]) -> str:
    """A verdict() RESULT as a few lines for a play's output: each side's figures, the decision and its rule."""
    lines = []
    for name in ("canary", "baseline"):
        figures = result[name]
        lines.append(f"{name + ':':<10}{figures['requests']} requests, {figures['errors']} 5xx "
                     f"({_percent(figures['error_rate'])}), p50 {_ms(figures['p50'])}, p95 {_ms(figures['p95'])}, "
                     f"p99 {_ms(figures['p99'])}")
    lines.append(f"decision: {result['decision']}")
    lines.append(str(result["rule"]))
    return "\n".join(lines)
