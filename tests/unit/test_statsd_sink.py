"""The statsd server of the tests (tests/tools/statsd_sink.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from _load import ROOT, load_module

sink = load_module("tests/tools/statsd_sink.py", "statsd_sink")


def test_sums_counters_keeps_gauges_and_counts_timers() -> None:
    sums = sink.Sums()
    sums.add(b"app.gunicorn.requests:1|c\napp.gunicorn.request.duration:2.5|ms\napp.gunicorn.workers:3|g")
    sums.add(b"app.gunicorn.requests:1|c|@1.0\napp.gunicorn.workers:2|g\nnonsense\n\n")
    assert sums.report() == {"counters": {"app.gunicorn.requests": 2.0}, "gauges": {"app.gunicorn.workers": 2.0},
                             "timers": {"app.gunicorn.request.duration": 1}, "lines": 6, "malformed": 1}


def test_receives_over_udp_until_terminated(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output = tmp_path / "statsd.json"
    process = subprocess.Popen([sys.executable, str(ROOT / "tests/tools/statsd_sink.py"), "--listen", f"127.0.0.1:{port}",
                                "--output", str(output)])
    try:
        time.sleep(0.5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for _count in range(5):
                client.sendto(b"x.requests:1|c", ("127.0.0.1", port))
        time.sleep(0.3)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    assert json.loads(output.read_text())["counters"] == {"x.requests": 5.0}
