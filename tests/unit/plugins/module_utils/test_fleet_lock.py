"""The fleet lock: taken, renewed, refused with its holder named, waited for, expired, broken; and raced by processes."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import fleet_lock

T0 = 1796457600.0  # 2026-12-05T08:00:00Z


def holder(run_id: str, release: str = "1.4.2") -> Dict[str, Any]:
    return {"id": run_id, "user": "ana", "controller": "laptop", "playbook": "deploy", "release": release}


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.slept: List[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_take_renew_and_give_back(tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    clock = Clock()
    changed, written, taken_over = fleet_lock.acquire(path, holder("run1"), 600, 0, now=clock)
    assert changed and taken_over is None
    assert json.loads(Path(path).read_text()) == dict(holder("run1"), since=T0, expires=T0 + 600, renewed=T0)
    clock.now += 100
    changed, written, _taken_over = fleet_lock.acquire(path, holder("run1"), 600, 0, now=clock)
    assert not changed and written["since"] == T0 and written["expires"] == T0 + 700
    assert fleet_lock.release(path, "run2") == (False, written)  # not its lock
    assert Path(path).exists()
    assert fleet_lock.release(path, "run1") == (True, written)
    assert not Path(path).exists() and fleet_lock.peek(path) is None


def test_a_lock_held_by_another_run_is_refused_naming_its_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    clock = Clock()
    fleet_lock.acquire(path, holder("run1"), 600, 0, now=clock)
    clock.now += 90
    with pytest.raises(fleet_lock.LockHeld) as raised:
        fleet_lock.acquire(path, holder("run2", "1.5.0"), 600, 0, now=clock, sleep=clock.sleep)
    assert str(raised.value) == (
        f"another run has the deploy lock ({path}): held by ana@laptop, playbook deploy, release 1.4.2, "
        "since 2026-12-05T08:00:00Z (90 s ago), lease ends 2026-12-05T08:10:00Z (in 510 s), run id run1. "
        "It ends with that run, or when its lease ends. To break it on purpose (only when that run is dead), "
        "run playbook fasterapi.deploy.unlock.")
    assert raised.value.holder["id"] == "run1" and clock.slept == []


def test_a_waiting_run_gives_up_after_its_wait(tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    clock = Clock()
    fleet_lock.acquire(path, holder("run1"), 600, 0, now=clock)
    with pytest.raises(fleet_lock.LockHeld, match="Waited 5 s"):
        fleet_lock.acquire(path, holder("run2"), 600, 5, now=clock, sleep=clock.sleep)
    assert sum(clock.slept) == 5


def test_a_waiting_run_takes_the_lock_when_its_lease_ends(tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    clock = Clock()
    fleet_lock.acquire(path, holder("run1"), 30, 0, now=clock)
    changed, written, taken_over = fleet_lock.acquire(path, holder("run2"), 600, 120, now=clock, sleep=clock.sleep)
    assert changed and written["id"] == "run2" and written["since"] == T0 + 30
    assert taken_over is not None and taken_over["id"] == "run1"
    assert sum(clock.slept) == 30


def test_an_unreadable_lock_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "fasterapi.json"
    path.write_text("{half")
    changed, written, taken_over = fleet_lock.acquire(str(path), holder("run2"), 600, 0, now=Clock())
    assert changed and written["id"] == "run2" and taken_over == {"id": "", "expires": 0}


def test_force_breaks_anyones_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    fleet_lock.acquire(path, holder("run1"), 600, 0, now=Clock())
    changed, removed = fleet_lock.release(path, "operator", force=True)
    assert changed and removed is not None and removed["id"] == "run1"
    assert fleet_lock.release(path, "operator", force=True) == (False, None)


def _race(path: str, run_id: str, start: float, results: "multiprocessing.Queue[Any]") -> None:
    while time.time() < start:
        pass
    try:
        fleet_lock.acquire(path, holder(run_id), 600, 0)
        results.put((run_id, "took"))
    except fleet_lock.LockHeld as err:
        results.put((run_id, err.holder["id"]))


def test_runs_started_at_the_same_moment_one_takes_it_the_others_name_it(tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = time.time() + 0.5
    runs = [context.Process(target=_race, args=(path, f"run{number}", start, results)) for number in range(6)]
    for process in runs:
        process.start()
    outcomes = dict(results.get(timeout=30) for _run in runs)
    for process in runs:
        process.join(30)
    winners = [run_id for run_id, outcome in outcomes.items() if outcome == "took"]
    assert len(winners) == 1
    assert all(outcome == winners[0] for run_id, outcome in outcomes.items() if run_id != winners[0])
    assert json.loads(Path(path).read_text())["id"] == winners[0]
