"""Unit tests for tests/harness/run_suite.py (the timed, two-lane `make test`)."""

from __future__ import annotations

import io
import sys
import threading
from itertools import count

import pytest

from _load import load_module

suite = load_module("tests/harness/run_suite.py", "run_suite")


def test_the_clock_times_each_action_from_molecules_lines() -> None:
    ticks = count(0, 10)
    clock = suite.ActionClock(now=lambda: float(next(ticks)))
    for line in [
        "\x1b[36mINFO    \x1b[0m default ➜ create: Executing\n",  # t=0
        "INFO     default ➜ create: Executed: Successful\n",  # t=10
        "INFO     default ➜ verify: Executing\n",  # t=20
        "INFO     default ➜ verify: Executing Testinfra tests found in /x/tests/...\n",  # not a start
        "  │ TASK [a task whose name says Executing]\n",
        "ERROR    default ➜ verify: Executed: Failed\n",  # t=30
        "INFO     default ➜ destroy: Executed: Successful\n",  # no start seen: not counted
    ]:
        clock.feed(line)
    assert [(a.name, a.seconds, a.rc) for a in clock.actions] == [("create", 10.0, 0), ("verify", 10.0, 1)]


def _scenario(root, name: str, sequence: str, load_in: str = "") -> None:  # type: ignore[no-untyped-def]
    directory = root / "molecule" / name
    directory.mkdir(parents=True)
    (directory / "molecule.yml").write_text(f"scenario:\n  test_sequence: [{sequence}]\n")
    if load_in:
        (directory / load_in).write_text("- ansible.builtin.import_tasks: ../shared/tasks/start_load.yml\n")


def test_load_scenarios_are_split_before_their_load_and_queued_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _scenario(tmp_path, "quiet", "destroy, create, converge, verify, destroy")
    _scenario(tmp_path, "loud", "destroy, create, prepare, converge, idempotence, side_effect, verify, destroy", "side_effect.yml")
    _scenario(tmp_path, "early", "destroy, create, converge, verify, destroy", "converge.yml")
    stages = suite.plan(["lint"], ["early", "loud", "quiet"], root=tmp_path)
    assert [s.name for s in stages] == ["molecule early setup", "molecule early", "molecule loud setup", "molecule loud",
                                        "molecule quiet", "lint"]
    by_name = {s.name: s for s in stages}
    assert [c[1] for c in by_name["molecule loud setup"].commands] == ["destroy", "create", "prepare", "converge", "idempotence"]
    assert [c[1] for c in by_name["molecule loud"].commands] == ["side-effect", "verify", "destroy"]
    assert by_name["molecule loud"].commands[0] == ["molecule", "side-effect", "-s", "loud"]
    assert by_name["molecule loud"].load and by_name["molecule loud"].needs == "molecule loud setup"
    assert not by_name["molecule loud setup"].load
    assert by_name["molecule loud"].on_failure == ["molecule", "destroy", "-s", "loud"]
    # converge.yml starts the load: the setup ends before converge.
    assert [c[1] for c in by_name["molecule early"].commands] == ["converge", "verify", "destroy"]
    assert by_name["molecule quiet"].commands == [["molecule", "test", "-s", "quiet"]] and not by_name["molecule quiet"].load
    assert by_name["lint"].commands == [["make", "--no-print-directory", "lint"]]


def test_two_lanes_run_every_stage_and_print_each_output_whole() -> None:
    python = sys.executable
    stages = [suite.Stage(f"s{i}", [[python, "-c", f"import time; print('a{i}'); time.sleep(0.2); print('b{i}')"]])
              for i in range(3)]
    stages.append(suite.Stage("fails", [[python, "-c", "raise SystemExit(3)"], [python, "-c", "print('never')"]],
                              on_failure=[python, "-c", "print('cleaned up')"]))
    out = io.StringIO()
    timings = suite.run(stages, 2, out)
    assert sorted((t.name, t.rc) for t in timings) == [("fails", 3), ("s0", 0), ("s1", 0), ("s2", 0)]
    text = out.getvalue()
    for i in range(3):
        # A stage's lines stand together, not interleaved with the other lane's.
        assert f"a{i}\nb{i}\n" in text
    assert "cleaned up" in text and "never" not in text
    lines = suite.table(timings, 1.0)
    assert any("fails" in line and "FAILED (exit 3)" in line for line in lines)
    assert lines[-1].startswith("suite: wall time")


def test_a_failed_stage_is_recapped_at_the_end_with_its_fatal_lines() -> None:
    python = sys.executable
    noise = "".join(f"print('line {i}'); " for i in range(40))
    code = "print('fatal: [host]: FAILED! => {\"msg\": \"boom\"}'); " + noise + "raise SystemExit(2)"
    timings = suite.run([suite.Stage("bad", [[python, "-c", code]]), suite.Stage("good", [[python, "-c", "print(1)"]])],
                        1, io.StringIO())
    lines = suite.recap(timings)
    assert lines[0] == "suite: FAILED bad (exit 2); its telling and last lines:"
    assert 'suite: | fatal: [host]: FAILED! => {"msg": "boom"}' in lines
    assert lines[-1] == "suite: | line 39" and "suite: | line 20" not in lines
    assert not any("good" in line for line in lines)
    # ansible-test's and make's own words count too.
    code = "print('ERROR: Found 1 pep8 issue(s)'); " + noise + "raise SystemExit(2)"
    lines = suite.recap(suite.run([suite.Stage("sanity", [[python, "-c", code]])], 1, io.StringIO()))
    assert "suite: | ERROR: Found 1 pep8 issue(s)" in lines


@pytest.mark.parametrize("line, telling", [
    ("  \u2502 fatal: [h]: FAILED! => {}", True),
    ("  \u2502 molecule/x/tests/test_x.py::test_a[plain] FAILED                 [ 50%]", True),
    ("  \u2502 FAILED molecule/x/tests/test_x.py::test_a[plain] - assert 3 < 2", True),
    ("  \u2502 E       assert 7.1 < 5", True),
    ("\x1b[0;31m  \u2502 fatal: [h]: UNREACHABLE! => {}\x1b[0m", True),
    ("  \u2502 molecule/x/tests/test_x.py::test_a[plain] PASSED                 [ 50%]", False),
    ("  \u2502   skipped=1    rescued=0    ignored=0", False),
    ("  \u2502 ok: [h] => (item=FAILED_COUNT)", False),
    ("  \u2502 FAILED - RETRYING: [h]: Wait for the port (5 retries left).", False),
    ("  \u2502   rdening-debian12] FAILED [ 55%]", True),
    ("  \u2502 failed: [h] (item=hang) => {}", True),
    ("  \u2502             failed: {}", False),
    ("  \u2502     failed_total: 0", False),
])
def test_molecule_boxed_failures_are_telling(line: str, telling: bool) -> None:
    assert suite.is_telling(line) is telling


def test_a_command_that_cannot_start_fails_its_stage() -> None:
    timings = suite.run([suite.Stage("missing", [["/nonexistent/molecule", "test"]])], 1, io.StringIO())
    assert [(t.name, t.rc) for t in timings] == [("missing", 127)]
    assert suite.recap(timings)[1].startswith("suite: | FATAL: cannot run /nonexistent/molecule test: ")


def test_main_fails_when_a_stage_never_ended(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    python = sys.executable
    monkeypatch.setattr(suite, "plan", lambda stages, names, images: [suite.Stage("a", [[python, "-c", "pass"]]),
                                                                      suite.Stage("b", [[python, "-c", "pass"]])])
    monkeypatch.setattr(suite, "run", lambda todo, lanes, out: [suite.Timing(name="a", rc=0)])
    assert suite.main(["--stages", "--scenarios"]) == 1


def test_main_exits_with_the_first_failure(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    python = sys.executable
    monkeypatch.setattr(suite, "plan", lambda stages, names, images: [
        suite.Stage("ok", [[python, "-c", "pass"]]), suite.Stage("bad", [[python, "-c", "raise SystemExit(2)"]])])
    assert suite.main(["--stages", "--scenarios", "--lanes", "1"]) == 2
    monkeypatch.setattr(suite, "plan", lambda stages, names, images: [suite.Stage("ok", [[python, "-c", "pass"]])])
    assert suite.main(["--stages", "--scenarios"]) == 0


def test_two_load_stages_never_overlap_and_a_light_one_runs_beside(tmp_path) -> None:  # type: ignore[no-untyped-def]
    python = sys.executable
    marks = tmp_path / "marks"

    def stage(name: str, load: bool) -> "suite.Stage":
        code = (f"import time; open({str(marks)!r}, 'a').write('{name} start %f\\n' % time.time()); time.sleep(0.3); "
                f"open({str(marks)!r}, 'a').write('{name} end %f\\n' % time.time())")
        return suite.Stage(name, [[python, "-c", code]], load=load)

    timings = suite.run([stage("load1", True), stage("load2", True), stage("light", False)], 2, io.StringIO())
    assert sorted(t.name for t in timings) == ["light", "load1", "load2"]
    seen = {}
    for line in marks.read_text().splitlines():
        name, what, when = line.split()
        seen[(name, what)] = float(when)
    first, second = sorted(["load1", "load2"], key=lambda n: seen[(n, "start")])
    assert seen[(second, "start")] >= seen[(first, "end")]
    # The light stage ran beside the first load stage, not after both.
    assert seen[("light", "start")] < seen[(first, "end")]


def test_a_scenario_sends_load_when_its_files_run_the_load_generator(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _scenario(tmp_path, "loud", "destroy, create, converge, side_effect, verify, destroy")
    (tmp_path / "molecule" / "loud" / "tasks").mkdir(parents=True)
    (tmp_path / "molecule" / "loud" / "tasks" / "x.yml").write_text("- ansible.builtin.import_tasks: ../shared/tasks/start_load.yml\n")
    _scenario(tmp_path, "quiet", "destroy, create, converge, verify, destroy")
    (tmp_path / "molecule" / "quiet" / "converge.yml").write_text("- hosts: all\n")
    assert suite.sends_load(tmp_path, "loud") and not suite.sends_load(tmp_path, "quiet")


def test_a_load_stage_waits_for_its_setup_and_is_not_run_when_the_setup_failed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    python = sys.executable
    marks = tmp_path / "marks"
    mark = f"open({str(marks)!r}, 'a').write('%s\\n')"
    stages = [
        suite.Stage("a setup", [[python, "-c", "import time; time.sleep(0.3); " + mark % "a setup"]]),
        suite.Stage("a", [[python, "-c", mark % "a"]], load=True, needs="a setup"),
        suite.Stage("b setup", [[python, "-c", "raise SystemExit(4)"]]),
        suite.Stage("b", [[python, "-c", mark % "b"]], load=True, needs="b setup"),
    ]
    timings = {t.name: t.rc for t in suite.run(stages, 2, io.StringIO())}
    assert marks.read_text().split() == ["a", "setup", "a"]
    assert timings["a setup"] == 0 and timings["a"] == 0 and timings["b setup"] == 4
    assert timings["b (not run: b setup failed)"] == 4


class Timed:
    """Stages that sleep 0.3 s and mark when they start and end in one file, and those marks read back."""

    def __init__(self, marks) -> None:  # type: ignore[no-untyped-def]
        self.marks = marks

    def stage(self, name: str, **kind: bool) -> "suite.Stage":
        marks = self.marks
        code = (f"import time; open({str(marks)!r}, 'a').write('{name} start %f\\n' % time.time()); time.sleep(0.3); "
                f"open({str(marks)!r}, 'a').write('{name} end %f\\n' % time.time())")
        return suite.Stage(name, [[sys.executable, "-c", code]], **{"molecule": True, **kind})

    def seen(self) -> dict:
        found = {}
        for line in self.marks.read_text().splitlines():
            name, what, when = line.rsplit(" ", 2)
            found[(name, what)] = float(when)
        self.marks.unlink()
        return found


def test_hardening_is_a_heavy_load_like_the_others(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Its containers have fixed addresses on a network of their own (molecule/hardening/molecule.yml),
    # so a restart gets its address back whatever else runs: nothing holds it first or alone.
    for name in ("aaa", "hardening"):
        _scenario(tmp_path, name, "destroy, create, converge, side_effect, verify, destroy", "side_effect.yml")
    planned = {s.name: s for s in suite.plan(["lint"], ["aaa", "hardening"], root=tmp_path)}
    assert planned["molecule hardening"].load and not planned["molecule hardening"].beside
    assert planned["molecule hardening"].needs == "molecule hardening setup"
    assert suite.plan([], [], root=tmp_path) == []


def test_a_light_load_runs_beside_a_heavy_one_but_not_beside_a_busy_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    timed = Timed(tmp_path / "marks")
    suite.run([timed.stage("heavy", load=True), timed.stage("light", load=True, beside=True)], 2, io.StringIO())
    seen = timed.seen()
    assert seen[("light", "start")] < seen[("heavy", "end")] and seen[("heavy", "start")] < seen[("light", "end")]
    # Two light loads: side by side.
    suite.run([timed.stage("one", load=True, beside=True), timed.stage("two", load=True, beside=True)], 2, io.StringIO())
    seen = timed.seen()
    assert seen[("one", "start")] < seen[("two", "end")] and seen[("two", "start")] < seen[("one", "end")]
    # Two heavy loads, or a light one and a busy one: one after the other.
    for one, two in (({}, {}), ({"busy": True}, {"beside": True})):
        suite.run([timed.stage("one", load=True, **one), timed.stage("two", load=True, **two)], 2, io.StringIO())
        seen = timed.seen()
        earlier, later = sorted(["one", "two"], key=lambda n: seen[(n, "start")])
        assert seen[(later, "start")] >= seen[(earlier, "end")], (one, two)
    assert "molecule operate" in suite.BESIDE and "molecule rolling_restart" in suite.BUSY


def test_the_plan_marks_the_light_and_busy_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("operate", "rolling_restart", "releases"):
        _scenario(tmp_path, name, "destroy, create, converge, side_effect, verify, destroy")
        (tmp_path / "molecule" / name / "side_effect.yml").write_text("- ansible.builtin.import_tasks: ../shared/tasks/start_load.yml\n")
    loads = {s.name: (s.beside, s.busy) for s in suite.plan([], ["operate", "rolling_restart", "releases"], root=tmp_path) if s.load}
    assert loads == {"molecule operate": (True, False), "molecule rolling_restart": (False, True), "molecule releases": (True, False)}
    # The busy load is planned first, so that the scenarios without load can run beside it.
    assert [s.name for s in suite.plan([], ["operate", "rolling_restart", "releases"], root=tmp_path)][:2] == [
        "molecule rolling_restart setup", "molecule rolling_restart"]


def test_at_most_ready_setups_wait_for_their_load_or_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marks = tmp_path / "marks"

    def stage(name: str, seconds: float, **kind) -> "suite.Stage":  # type: ignore[no-untyped-def]
        code = (f"import time; open({str(marks)!r}, 'a').write('{name} start %f\\n' % time.time()); time.sleep({seconds}); "
                f"open({str(marks)!r}, 'a').write('{name} end %f\\n' % time.time())")
        return suite.Stage(name, [[sys.executable, "-c", code]], molecule=True, **kind)

    # A long load; meanwhile the other lane sets up a, b, c and d, whose loads must wait for it.
    todo = [stage("long", 4.0, load=True)]
    for name in "abcd":
        todo += [stage(f"{name} setup", 0.2), stage(name, 0.1, load=True, needs=f"{name} setup")]
    suite.run(todo, 2, io.StringIO())
    seen = {}
    for line in marks.read_text().splitlines():
        name, what, when = line.rsplit(" ", 2)
        seen[(name, what)] = float(when)
    # a, b and c were set up while the long load ran; d only once a's load could start, after it (READY = 3).
    assert suite.READY == 3
    assert seen[("c setup", "end")] < seen[("long", "end")]
    assert seen[("d setup", "start")] >= seen[("long", "end")]

    # Two setups may run at once (two lanes, no load running).
    todo = [stage("e setup", 0.5), stage("e", 0.1, load=True, needs="e setup"),
            stage("f setup", 0.5), stage("f", 0.1, load=True, needs="f setup")]
    suite.run(todo, 2, io.StringIO())
    seen = {}
    for line in marks.read_text().splitlines():
        name, what, when = line.rsplit(" ", 2)
        seen[(name, what)] = float(when)
    assert seen[("f setup", "start")] < seen[("e setup", "end")]


def test_the_images_are_the_first_stage_and_every_scenario_needs_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _scenario(tmp_path, "loud", "destroy, create, converge, side_effect, verify, destroy", "side_effect.yml")
    _scenario(tmp_path, "quiet", "destroy, create, converge, verify, destroy")
    planned = suite.plan(["lint"], ["loud", "quiet"], root=tmp_path, images=True)
    assert planned[0].name == "images" and planned[0].commands == [["make", "--no-print-directory", "images"]]
    assert not planned[0].molecule
    needs = {s.name: s.needs for s in planned}
    assert needs == {"images": None, "molecule loud setup": "images", "molecule loud": "molecule loud setup",
                     "molecule quiet": "images", "lint": None}
    # Without scenarios, no images; without the flag, none either.
    assert [s.name for s in suite.plan(["lint"], [], root=tmp_path, images=True)] == ["lint"]
    assert "images" not in [s.name for s in suite.plan(["lint"], ["quiet"], root=tmp_path)]


def test_lint_runs_while_the_images_build_and_no_scenario_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    timed = Timed(tmp_path / "marks")
    images = timed.stage("images", molecule=False)
    suite.run([images, timed.stage("scenario", needs="images"), timed.stage("lint", molecule=False)], 2, io.StringIO())
    seen = timed.seen()
    assert seen[("scenario", "start")] >= seen[("images", "end")]
    assert seen[("lint", "start")] < seen[("images", "end")]


def test_the_whole_plan_with_images_runs_every_stage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Every scenario needs the images, and the setups count only what waits for a load: a plan as
    # make test's (several loads, a scenario without load) must run to its end.
    for name in ("hardening", "aaa", "bbb", "ccc", "ddd"):
        _scenario(tmp_path, name, "destroy, create, converge, side_effect, verify, destroy", "side_effect.yml")
    _scenario(tmp_path, "quiet", "destroy, create, converge, verify, destroy")
    planned = suite.plan(["lint", "unit"], ["hardening", "aaa", "bbb", "ccc", "ddd", "quiet"], root=tmp_path, images=True)
    for stage in planned:
        stage.commands = [[sys.executable, "-c", "pass"]]
    timings: list = []
    lanes = threading.Thread(target=lambda: timings.extend(suite.run(planned, 2, io.StringIO())), daemon=True)
    lanes.start()
    lanes.join(timeout=60)
    assert not lanes.is_alive(), "the lanes waited for each other and never ended"
    assert sorted(t.name for t in timings) == sorted(s.name for s in planned)
    assert all(t.rc == 0 for t in timings)


def test_the_recap_keeps_the_last_telling_lines_where_the_stage_ended() -> None:
    python = sys.executable
    early = "".join(f"print('fatal: [host]: FAILED! => expected failure {i}'); " for i in range(suite.TELLING_LINES + 5))
    code = early + "print('tests/test_x.py::test_y FAILED [ 50%]'); raise SystemExit(1)"
    lines = suite.recap(suite.run([suite.Stage("scenario", [[python, "-c", code]])], 1, io.StringIO()))
    assert "suite: | tests/test_x.py::test_y FAILED [ 50%]" in lines
    assert "suite: | fatal: [host]: FAILED! => expected failure 0" not in lines


def test_an_ansible_failure_is_told_with_its_msg() -> None:
    """A fatal task's msg (a few lines on, wrapped in Molecule's box) is kept with it; a debug's msg is not."""
    box = "  \u2502 "
    output = [
        "ok: [h] => ",
        "    msg: a debug line, not telling",
        "fatal: [front -> localhost]: FAILED! => ",
        "    changed: false",
        "    msg: fails-2pct (4.9.1) was expected to end in rollback; the deploy exited 2,",
        "        saying: [ERROR]: Task failed: The canary step is refused; nothing was changed",
        "",
        "PLAY RECAP",
    ] + [f"noise {i}" for i in range(suite.MSG_SEARCH_LINES + 5)] + [
        "failed: [h] (item=x) => ",
    ] + [f"    key{i}: value" for i in range(suite.MSG_SEARCH_LINES + 1)] + ["    msg: too far on to be its msg"]
    telling = suite.Telling()
    for line in output:
        telling.add(box + line)
    lines = [line[len(box):] for line in telling.lines()]
    assert lines == [
        "fatal: [front -> localhost]: FAILED! => ",
        "    msg: fails-2pct (4.9.1) was expected to end in rollback; the deploy exited 2,",
        "        saying: [ERROR]: Task failed: The canary step is refused; nothing was changed",
        "failed: [h] (item=x) => ",
    ]


def test_telling_keeps_the_last_failures_whole() -> None:
    telling = suite.Telling(keep=2)
    for i in range(4):
        telling.add(f"fatal: [h{i}]: FAILED! => ")
        telling.add(f"    msg: why {i}")
    assert telling.lines() == ["fatal: [h2]: FAILED! => ", "    msg: why 2", "fatal: [h3]: FAILED! => ", "    msg: why 3"]


def test_a_failure_without_a_msg_takes_none_from_the_next_task() -> None:
    telling = suite.Telling()
    for line in ["fatal: [h]: FAILED! => ", "    rc: 0", "...ignoring", "", "TASK [Show it]", "ok: [h] => ",
                 "    msg: an unrelated debug"]:
        telling.add(line)
    assert telling.lines() == ["fatal: [h]: FAILED! => "]
