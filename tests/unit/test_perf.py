"""The benchmark's parsing of wrk's and journald's reports (tests/harness/perf.py)."""

from __future__ import annotations

from _load import load_module

perf = load_module("tests/harness/perf.py", "perf")

WRK = """Running 8s test @ http://127.0.0.1:8000/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.35ms  612.55us  17.22ms   81.67%
  391040 requests in 8.10s, 57.43MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  48277.63
Transfer/sec:      7.09MB
"""


def test_parse_wrk() -> None:
    assert perf.parse_wrk(WRK) == (48277.63, 20)
    clean = "\n".join(line for line in WRK.splitlines() if "errors" not in line and "Non-2xx" not in line)
    assert perf.parse_wrk(clean) == (48277.63, 0)


def test_parse_suppressed() -> None:
    text = ("Suppressed 19189 messages from fasterapi.service\nSuppressed 12 messages from perf-fasterapi-previous.service\n"
            "Suppressed 11 messages from fasterapi.service\nSomething else\n")
    assert perf.parse_suppressed(text) == {"fasterapi.service": 19200, "perf-fasterapi-previous.service": 12}


def test_ratios_pair_each_round_with_the_defaults_of_that_round() -> None:
    # The machine's speed drifts between rounds: the median of paired ratios is 0.9,
    # the ratio of the medians (90 / 80) would say 1.125.
    defaults = [(100.0, 0), (50.0, 0), (80.0, 0)]
    other = [(90.0, 0), (45.0, 0), (90.0, 0)]
    assert round(perf.ratios(other, defaults), 6) == 0.9


def test_parse_latency() -> None:
    report = WRK.replace("Thread Stats", "Latency Distribution\n     50%    1.10ms\n     99%    4.21ms\n  Thread Stats")
    assert perf.parse_latency(report) == ("4.21ms", "17.22ms")
    assert perf.parse_latency("nothing") == ("?", "?")
