"""The pure parts of the uvicorn comparison (tests/harness/uvicorn_compare.py): workers found, tallies, tables."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest
from _load import ROOT, load_module

sys.path.insert(0, str(ROOT / "tests/tools"))
compare = load_module("tests/harness/uvicorn_compare.py", "uvicorn_compare")


def _sleep() -> None:
    time.sleep(30)


def test_spawned_workers_are_the_spawned_children_not_the_resource_tracker() -> None:
    # What uvicorn's supervisor does: multiprocessing's spawn context, which also starts a resource tracker.
    child = multiprocessing.get_context("spawn").Process(target=_sleep, daemon=True)
    child.start()
    try:
        assert child.pid is not None
        for _attempt in range(100):
            if compare.SPAWN_MARK in compare.cmdline(child.pid):
                break
            time.sleep(0.05)
        found = compare.spawned_workers(os.getpid())
        assert found == {child.pid}
        tracker = [pid for pid in compare.children(os.getpid()) if "resource_tracker" in " ".join(compare.cmdline(pid))]
        assert not set(tracker) & found
    finally:
        child.kill()
        child.join()
    assert child.pid not in compare.spawned_workers(os.getpid())


def test_cmdline_splits_on_nul_and_is_empty_for_a_gone_process(tmp_path: Path) -> None:
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / "cmdline").write_bytes(b"/opt/a/releases/r1/venv/bin/python\0-c\0x\0--multiprocessing-fork\0")
    assert compare.cmdline(5, tmp_path) == ["/opt/a/releases/r1/venv/bin/python", "-c", "x", "--multiprocessing-fork"]
    assert compare.cmdline(6, tmp_path) == []


def test_spawned_workers_from_a_fake_proc(tmp_path: Path) -> None:
    entries = {"10": ("10 (python) S 7 0", b"python\0-c\0spawn_main()\0--multiprocessing-fork\0"),
               "11": ("11 (python) S 7 0", b"python\0-c\0from multiprocessing.resource_tracker import main\0"),
               "12": ("12 (python) Z 7 0", b""),
               "13": ("13 (python) S 8 0", b"python\0--multiprocessing-fork\0")}
    for pid, (stat, argv) in entries.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(stat)
        (tmp_path / pid / "cmdline").write_bytes(argv)
    assert compare.spawned_workers(7, tmp_path) == {10}


@pytest.mark.parametrize(("old", "now", "done"), [
    ({1, 2, 3}, {4, 5, 6}, True),
    ({1, 2, 3}, {1, 5, 6}, False),  # one old worker left
    ({1, 2, 3}, {4, 5}, False),  # one missing
    ({1, 2, 3}, {4, 5, 6, 7}, False),  # more than configured
    (set(), {4, 5, 6}, True),
])
def test_restart_complete(old: set[int], now: set[int], done: bool) -> None:
    assert compare.restart_complete(old, now, 3) is done


def _report(sent: int, failed: dict[str, int]) -> dict[str, object]:
    return {"sent": sent, "failed": failed, "failed_total": sum(failed.values())}


def test_tally_counts_and_rates() -> None:
    tally = compare.Tally.from_reports("uvicorn", 4, {"fresh": _report(6000, {"empty_reply": 3, "reset": 1}),
                                                      "keepalive": _report(14000, {"empty_reply": 4})})
    assert (tally.total_sent, tally.total_failed) == (20000, 8)
    assert tally.per_10k() == 4.0
    assert tally.per_restart() == 2.0
    assert tally.kinds == {"empty_reply (fresh)": 3, "reset (fresh)": 1, "empty_reply (keepalive)": 4}
    assert compare.Tally("x", 0).per_10k() == 0.0 and compare.Tally("x", 0).per_restart() == 0.0


def test_drops_table_ratios_to_uvicorn() -> None:
    tallies = [compare.Tally.from_reports("uvicorn", 5, {"fresh": _report(10000, {"reset": 10}), "keepalive": _report(10000, {})}),
               compare.Tally.from_reports("uvicorn-restart", 5,
                                          {"fresh": _report(10000, {"refused": 40}), "keepalive": _report(10000, {})}),
               compare.Tally.from_reports("collection", 5, {"fresh": _report(5000, {}), "keepalive": _report(5000, {})})]
    late = {"uvicorn": {"connections": 20, "answered": 0}, "collection": {"connections": 20, "answered": 20}}
    lines = compare.drops_table(tallies, late).splitlines()
    assert lines[2] == (f"| {compare.LABELS['uvicorn']} | 5 | 10,000 / 10 | 10,000 / 0 | 5.0 | 2.0 | 1.00 | 0 of 20 | "
                        "reset (fresh) 10 |")
    assert lines[3] == (f"| {compare.LABELS['uvicorn-restart']} | 5 | 10,000 / 40 | 10,000 / 0 | 20.0 | 8.0 | 4.00 | - | "
                        "refused (fresh) 40 |")
    assert lines[4] == f"| {compare.LABELS['collection']} | 5 | 5,000 / 0 | 5,000 / 0 | 0.0 | 0.0 | 0.00 | 20 of 20 | none |"
    # Nothing failed under uvicorn either: no ratio to give.
    assert compare.ratio(0.0, 0.0) == "-"


def test_where_summary_says_which_code_and_venv_answered() -> None:
    answer = {"version": "1.0.0", "prefix": "/opt/a/releases/r1/venv", "cwd": "/opt/a/releases/r1/app",
              "module": "/opt/a/releases/r1/app/main.py"}
    answers = [dict(answer, pid=21), dict(answer, pid=22), dict(answer, pid=21)]
    workers = [{"pid": pid, "argv": ["/opt/a/releases/r1/venv/bin/python", "-c"]} for pid in (21, 22, 23)]
    summary = compare.where_summary(answers, workers)
    assert summary == {"versions": "1.0.0 (3 of 3)", "workers_answering": "2 of 3", "prefix": "/opt/a/releases/r1/venv",
                       "cwd": "/opt/a/releases/r1/app", "module": "/opt/a/releases/r1/app/main.py",
                       "argv0": "/opt/a/releases/r1/venv/bin/python"}
    mixed = compare.where_summary(answers + [dict(answer, pid=23, version="2.0.0", prefix="/opt/a/releases/r2/venv")], [])
    assert mixed["versions"] == "1.0.0 (3 of 4), 2.0.0 (1 of 4)"
    assert mixed["prefix"] == "/opt/a/releases/r1/venv, /opt/a/releases/r2/venv"
    assert mixed["workers_answering"] == "0 of 0" and mixed["argv0"] == "?"
    table = compare.release_table([("uvicorn", "before", "releases/r1", summary)])
    assert table.splitlines()[2].startswith(f"| {compare.LABELS['uvicorn']} | before | releases/r1 | 1.0.0 (3 of 3) | 2 of 3 |")


def test_new_release_source_answers_the_new_version(tmp_path: Path) -> None:
    source = compare.new_release_source(tmp_path)
    assert (source / "VERSION").read_text().strip() == compare.NEW_VERSION
    assert not list(source.rglob("__pycache__"))
    spec = importlib.util.spec_from_file_location("sample_app_copy", source / "main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.VERSION == compare.NEW_VERSION
    assert (ROOT / "tests/sample_app/VERSION").read_text().strip() != compare.NEW_VERSION


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--restarts", "0"], ["--hogs", "-1"], ["--clients", "0"]])
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        compare.main(argv)
