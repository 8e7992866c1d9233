"""tests/tools/secret_watch.py: it finds a secret on a command line or in a line of text, and never writes the secret out."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _load import load_module

watch = load_module("tests/tools/secret_watch.py", "secret_watch")
NEEDLES = ["leak-canary-0f3a9d71", "leak-canary-b84e2c05"]


def test_count_lines_finds_each_needle_and_masks_it() -> None:
    found = watch.count_lines(["sudo: COMMAND=/bin/sh -c 'A=leak-canary-0f3a9d71 python3'\n", "nothing here\n",
                               "both leak-canary-0f3a9d71 leak-canary-b84e2c05\n"], NEEDLES)
    assert found["lines"] == 3 and found["lines_with_a_secret"] == 2 and found["per_needle"] == [2, 1]
    assert "leak-canary" not in json.dumps(found["examples"]) and "<needle 0>" in found["examples"][0]


def test_a_command_line_holding_a_needle_is_caught(tmp_path: Path) -> None:
    # A real process, as the become command line of a task with `environment:` is.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "A=leak-canary-b84e2c05"])
    try:
        time.sleep(0.2)
        state = watch.Watch(NEEDLES)
        state.sample()
        state.sample()
        report = state.report()
    finally:
        child.kill()
        child.wait()
    assert report["samples"] == 2 and report["processes_seen"] > 1
    assert report["command_lines_with_a_secret"] == 1 and report["per_needle"] == [0, 1]
    assert "leak-canary" not in json.dumps(report)


def test_watch_stops_by_itself_and_writes_its_report(tmp_path: Path) -> None:
    report = watch.watch(NEEDLES, str(tmp_path / "out.json"), duration=0.2, interval=0.05)
    assert json.loads((tmp_path / "out.json").read_text()) == report and report["samples"] >= 2
    assert report["command_lines_with_a_secret"] == 0


def test_count_from_standard_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needles = tmp_path / "needles.json"
    needles.write_text(json.dumps(NEEDLES))
    assert watch.main(["count", "--needles", str(needles)], stdin=io.StringIO("x leak-canary-0f3a9d71\ny\n")) == 0
    assert json.loads(capsys.readouterr().out)["per_needle"] == [1, 0]


def test_short_needles_are_refused(tmp_path: Path) -> None:
    needles = tmp_path / "needles.json"
    needles.write_text(json.dumps(["short"]))
    with pytest.raises(SystemExit, match="8 characters or more"):
        watch.main(["count", "--needles", str(needles)], stdin=io.StringIO(""))
