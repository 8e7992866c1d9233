"""Run the test suite's stages, two at a time, and time each of them.

`make test` runs this. A stage is a make target (lint, unit, sanity,
galaxy-import) or a Molecule scenario. Two lanes take stages from one list.
A scenario that sends load (its files run tests/tools/loadgen.py) is run as
two stages: its setup (the actions before the load: create, prepare,
converge, idempotence), which may run beside another scenario's load, and
the rest (side_effect, verify, destroy), which sends the load for a bounded
time. Two heavy loads never run at once: a run that let any two loads
overlap took longer, not less (3,129 s against 3,026 s, when the suite kept
this machine's CPU 96 % busy; rolling_restart's busy loops took their share
of the CPU for longer). A light load (BESIDE) may run beside any load that
is not busy (BUSY), another light one included; nothing that sends load
runs beside a busy one. Beside a load run the setups, the linters, the unit
tests and the scenarios without load. Each scenario has containers of its
own (their names begin with the scenario's name), so two never meet.

A stage's output goes to a log file while it runs and is printed whole when
it ends, so the CI log reads one stage at a time. A scenario's own actions
(create, converge, side_effect, verify, ...) are timed from the lines
Molecule prints at their start and end. The run closes with a table, one
`suite:` line a stage, so a CI log shows where the minutes went.

A failed stage does not stop the others (CI wants every failure of a run,
not the first); the exit status is that of the first stage that failed.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections import deque
from typing import Callable, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]

# The make targets that need no container, run as stages of their own.
STATIC_STAGES = ["lint", "unit", "sanity", "galaxy-import"]
# The make target that builds the test images (debootstrap, then docker
# import; a no-op while they are up to date): a stage every scenario needs,
# so the make targets above run while it builds (it took 84 s before the
# suite, on a fresh machine, beside the venv).
IMAGES = "images"

# Seconds each stage took on a 2-core machine (a CI run of 2026-12-06; companions, 2026-12-07; front_door
# with its canary releases, a run of 2026-12-07): the
# queue's order, longest first, so the two lanes end close together (a busy
# load first: see BUSY). A stage not listed counts as 300 s.
EXPECTED = {
    "molecule releases": 330, "molecule front_door": 1000, "molecule rolling_restart": 300,
    "molecule default": 430, "molecule real_hosts": 550, "molecule hardening": 175,
    "molecule operate": 360, "molecule ansible_versions": 150, "molecule migrations": 130, "molecule companions": 332,
    "sanity": 70, "lint": 45,
    "galaxy-import": 35, "unit": 65,
}

# How many scenarios may be set up and wait for their load at once. With one,
# a lane that finished a setup early stayed idle while the load before it ran,
# and the next load then waited for its own setup (a CI of 2026-12-04: 75 s
# before real_hosts' load). With two, a lane stayed idle for 283 s while
# rolling_restart's busy load ran, two setups waiting and the third not allowed
# to start (a CI of 2026-12-06). Three: what a setup starts waits three loads
# at most (operate's secret watcher runs for 30 minutes).
READY = 3
# Load stages whose load is light (one or two clients a host, a fifth of a
# core or less each): one may run beside another scenario's load, light or
# heavy, which leaves this machine's second lane less idle. Never beside
# rolling_restart, whose busy loops make the saturated CPU its test is about.
BESIDE = {"molecule operate", "molecule ansible_versions", "molecule migrations", "molecule releases",
          "molecule real_hosts", "molecule companions"}
# Its busy load goes first of the loads: nothing that sends load may run
# beside it, the scenarios without load and the setups may.
BUSY = {"molecule rolling_restart"}

# "INFO     default ➜ converge: Executing" / "... Executed: Successful"
_ACTION = re.compile(r"^(?:INFO|WARNING|ERROR)\s+(?P<scenario>[\w-]+) \S+ (?P<action>[\w-]+): "
                     r"(?P<what>Executing$|Executed: (?P<result>\w+))")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# Lines that say what failed: Ansible's fatal and failed tasks, pytest's failures
# ("path::test[case] FAILED", "FAILED path::test - why", an "E   assert" line).
# Ansible's "fatal: [host]" and "failed: [host] (item=...)" (not a report's "failed: {}"), pytest's
# "FAILED test" and "test FAILED [ 55%]" (even wrapped), its "E   " lines, errors and tracebacks.
_TELLING = re.compile(r"^(?:fatal: \[|failed: \[|FAILED(?! - RETRYING)[: ]|ERROR[: ]|FATAL: |E {3})|::\S+ FAILED\b"
                      r"| FAILED +\[ *\d+%\]|\bFAILED!|Traceback")
# Molecule 25 draws a box around a command's output: "  │ fatal: [host]: ...".
_BOX = re.compile(r"^[\s│┃|]+")
TAIL_LINES = 15
TELLING_LINES = 10
# An Ansible failure ("fatal: [h]: FAILED! =>", "failed: [h] (item=x) =>") prints its result after it, its msg
# among the first lines of that result (a result with a command's output puts it further on): the msg and the lines
# it wraps onto, up to a blank line.
_ANSIBLE_FAILURE = re.compile(r"^(?:fatal|failed): \[")
_MSG = re.compile(r"^\s*\"?msg\"?:")
# What ends a failure's printed result: a blank line, the next task or play, another host's result.
_RESULT_END = re.compile(r"^(?:$|TASK \[|PLAY |RUNNING HANDLER|ok: \[|changed: \[|skipping: \[|\.\.\.ignoring)")
MSG_SEARCH_LINES = 40
MSG_LINES = 6


def _bare(line: str) -> str:
    return _BOX.sub("", _COLOUR.sub("", line), count=1)


def is_telling(line: str) -> bool:
    """Whether a line of a failed stage's output says what failed."""
    return bool(_TELLING.search(_bare(line)))


class Telling:
    """A stage's last KEEP telling lines (TELLING_LINES), each Ansible failure's with the msg it printed after it."""

    def __init__(self, keep: int = TELLING_LINES) -> None:
        self.groups: "deque[List[str]]" = deque(maxlen=keep)
        self._search = 0
        self._msg = 0

    def add(self, line: str) -> None:
        """Read the next LINE of the output (its newline stripped)."""
        bare = _bare(line)
        if _TELLING.search(bare):
            self.groups.append([line])
            self._search = MSG_SEARCH_LINES if _ANSIBLE_FAILURE.match(bare) else 0
            self._msg = 0
        elif self._msg and bare.strip():
            self.groups[-1].append(line)
            self._msg -= 1
        elif self._msg:
            self._msg = 0  # a blank line ends the msg
        elif self._search:
            self._search -= 1
            if _RESULT_END.match(bare.rstrip()):
                self._search = 0
            elif _MSG.match(bare):
                self.groups[-1].append(line)
                self._search, self._msg = 0, MSG_LINES - 1

    def lines(self) -> List[str]:
        """The telling lines kept, in order."""
        return [line for group in self.groups for line in group]


@dataclass
class Timing:
    """How long a stage, or one action of a scenario, took."""

    name: str
    seconds: float = 0.0
    rc: Optional[int] = None
    actions: List["Timing"] = field(default_factory=list)
    # A failed stage's telling lines (Ansible's fatal ones, pytest's FAILED) and
    # its last lines, printed again at the very end: CI keeps only a log's tail.
    evidence: List[str] = field(default_factory=list)


@dataclass
class Stage:
    """One thing to run: commands run in turn, the first that fails ends it.

    `load`: it sends load, so no other load stage runs beside it, unless one
    of the two is `beside` (a light load) and neither is `busy`. `needs`: the
    stage that must have ended well before this one starts. `on_failure`: run
    when a command fails (Molecule's destroy, so no container is left).
    """

    name: str
    commands: List[List[str]]
    molecule: bool = False
    load: bool = False
    needs: Optional[str] = None
    on_failure: Optional[List[str]] = None
    beside: bool = False
    busy: bool = False


class ActionClock:
    """Times the actions of a Molecule run from the lines it prints."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._started: Dict[Tuple[str, str], float] = {}
        self.actions: List[Timing] = []

    def feed(self, line: str) -> None:
        """Read one line of Molecule's output."""
        match = _ACTION.match(_COLOUR.sub("", line).rstrip("\n"))
        if not match:
            return
        key = (match["scenario"], match["action"])
        if match["what"] == "Executing":
            # verify prints "Executing" twice (the second names the tests): keep the first.
            self._started.setdefault(key, self._now())
            return
        started = self._started.pop(key, None)
        if started is None:
            return
        self.actions.append(Timing(name=match["action"], seconds=self._now() - started,
                                   rc=0 if match["result"] == "Successful" else 1))


def run_stage(stage: Stage, log: TextIO) -> Timing:
    """Run one stage with its output to `log`, and time it and its actions."""
    clock = ActionClock()
    started = time.monotonic()
    rc = 0
    for argv in stage.commands:
        rc = _command(argv, log, clock if stage.molecule else None)
        if rc != 0:
            if stage.on_failure:
                log.write(f"suite: {' '.join(argv)} exited {rc}: {' '.join(stage.on_failure)}\n")
                _command(stage.on_failure, log, None)
            break
    return Timing(name=stage.name, seconds=time.monotonic() - started, rc=rc, actions=clock.actions)


def _command(argv: Sequence[str], log: TextIO, clock: Optional[ActionClock]) -> int:
    try:
        proc = subprocess.Popen(list(argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", bufsize=1)
    except OSError as err:
        # A command that cannot start (not on PATH, say) fails its stage, as the shell's 127 would.
        log.write(f"FATAL: cannot run {' '.join(argv)}: {err}\n")
        return 127
    with proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if clock is not None:
                clock.feed(line)
        return proc.wait()


def table(timings: Iterable[Timing], wall: float) -> List[str]:
    """The closing lines: each stage, its time and result, its actions' times."""
    lines = []
    total = 0.0
    for timing in timings:
        total += timing.seconds
        result = "ok" if timing.rc == 0 else f"FAILED (exit {timing.rc})"
        lines.append(f"suite: {timing.name:<28} {timing.seconds:6.0f} s  {result}")
        if timing.actions:
            parts = ", ".join(f"{a.name} {a.seconds:.0f}" for a in timing.actions)
            lines.append(f"suite:   {parts}")
    lines.append(f"suite: {'stages added up':<28} {total:6.0f} s")
    lines.append(f"suite: {'wall time':<28} {wall:6.0f} s")
    return lines


def recap(timings: Iterable[Timing]) -> List[str]:
    """What each failed stage printed that tells why, for the end of the log."""
    lines = []
    for timing in timings:
        if timing.rc:
            lines.append(f"suite: FAILED {timing.name} (exit {timing.rc}); its telling and last lines:")
            lines += [f"suite: | {_COLOUR.sub('', line)[:400]}" for line in timing.evidence]
    return lines


def scenarios(root: Path) -> List[str]:
    """Every scenario under molecule/ (a directory with a molecule.yml)."""
    return sorted(p.parent.name for p in (root / "molecule").glob("*/molecule.yml"))


def sends_load(root: Path, name: str) -> bool:
    """Whether scenario NAME runs the load generator (its files name it)."""
    return any(path.is_file() and path.suffix in (".yml", ".yaml", ".py") and _mentions_load(path)
               for path in (root / "molecule" / name).rglob("*"))


def test_sequence(root: Path, name: str) -> List[str]:
    """The actions of `molecule test -s NAME`, from the scenario's molecule.yml."""
    config = yaml.safe_load((root / "molecule" / name / "molecule.yml").read_text(encoding="utf-8")) or {}
    sequence = (config.get("scenario") or {}).get("test_sequence")
    if not sequence:
        raise SystemExit(f"run_suite: molecule/{name}/molecule.yml names no scenario.test_sequence")
    return [str(action) for action in sequence]


def plan(stages: Sequence[str], names: Sequence[str], root: Path = ROOT, images: bool = False) -> List[Stage]:
    """The stages to run, in the order they are taken when they may run.

    A scenario that sends load is two stages: its setup (the actions before
    the first that sends load: side_effect, or converge where converge.yml
    starts the load), which may run beside another scenario's load, and the
    rest, which may not. Load scenarios come first, the busy ones first, then
    longest first, each setup before its load; then the other scenarios, then
    the make targets. With IMAGES, `make images` is the first stage and every
    scenario needs it: the make targets (lint, unit, sanity) run beside it.
    """
    loaded: List[Stage] = []
    light: List[Stage] = []
    for name in names:
        destroy = ["molecule", "destroy", "-s", name]
        if not sends_load(root, name):
            light.append(Stage(f"molecule {name}", [["molecule", "test", "-s", name]], molecule=True))
            continue
        sequence = test_sequence(root, name)
        converge = root / "molecule" / name / "converge.yml"
        starts = "converge" if converge.is_file() and _mentions_load(converge) else "side_effect"
        split = sequence.index(starts) if starts in sequence else len(sequence)
        # The command line spells the actions with a hyphen (side-effect), the sequence with an underscore.
        commands = [["molecule", action.split(" ")[0].replace("_", "-"), "-s", name, *action.split(" ")[1:]]
                    for action in sequence]
        loaded.append(Stage(f"molecule {name} setup", commands[:split], molecule=True, on_failure=destroy))
        loaded.append(Stage(f"molecule {name}", commands[split:], molecule=True, load=True,
                            needs=f"molecule {name} setup", on_failure=destroy,
                            beside=f"molecule {name}" in BESIDE, busy=f"molecule {name}" in BUSY))

    def by_time(stage: Stage) -> int:
        return -EXPECTED.get(stage.name, 300)

    pairs = sorted(range(0, len(loaded), 2), key=lambda i: (not loaded[i + 1].busy, by_time(loaded[i + 1])))
    ordered = [stage for i in pairs for stage in loaded[i:i + 2]]
    ordered += sorted(light, key=by_time)
    ordered += sorted((Stage(t, [["make", "--no-print-directory", t]]) for t in stages), key=by_time)
    if images and names:
        for stage in ordered:
            if stage.molecule and not stage.needs:
                stage.needs = IMAGES
        ordered.insert(0, Stage(IMAGES, [["make", "--no-print-directory", "images"]]))
    return ordered


def _may_share(one: Stage, other: Stage) -> bool:
    """Whether two load stages may run at once: a light load beside a load that is not busy."""
    return (one.beside or other.beside) and not (one.busy or other.busy)


def _mentions_load(path: Path) -> bool:
    """Whether the file runs the load generator (names it, or the tasks that start it)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return "loadgen" in text or "start_load.yml" in text


def run(todo: Sequence[Stage], lanes: int, out: TextIO) -> List[Timing]:
    """Run the stages in `lanes` lanes; print each one's output when it ends.

    A lane takes the first waiting stage that may run now: no load stage
    beside another (but a light load beside a load that is not busy); none
    before the stage it needs has ended (one whose needed stage failed is not
    run); and a load stage's setup only while fewer than READY loads are set
    up and waiting or being set up, so that nothing a setup starts waits long.
    """
    waiting = list(todo)
    ended: Dict[str, int] = {}
    running: List[Stage] = []
    turn = threading.Condition()
    timings: List[Timing] = []
    began = time.monotonic()
    # The setups are what a load stage needs (the images stage, which every scenario needs, is not one).
    setups = {stage.needs for stage in todo if stage.load and stage.needs}

    def may_run(stage: Stage) -> bool:
        if stage.needs and stage.needs not in ended:
            return False
        if stage.load and any(other.load and not _may_share(stage, other) for other in running):
            return False
        if stage.name in setups:
            ready = [s for s in waiting if s.load and s.needs and ended.get(s.needs) == 0]
            if len(ready) + sum(other.name in setups for other in running) >= READY:
                return False
        return True

    def take() -> Optional[Stage]:
        with turn:
            while waiting:
                for stage in waiting:
                    if stage.needs and ended.get(stage.needs, 0) != 0:
                        waiting.remove(stage)
                        ended[stage.name] = ended[stage.needs]
                        timings.append(Timing(name=f"{stage.name} (not run: {stage.needs} failed)",
                                              rc=ended[stage.needs]))
                        turn.notify_all()
                        break
                    if may_run(stage):
                        waiting.remove(stage)
                        running.append(stage)
                        return stage
                else:
                    turn.wait()
            return None

    def lane() -> None:
        while True:
            stage = take()
            if stage is None:
                return
            with turn:
                print(f"suite: {time.monotonic() - began:6.0f} s  start {stage.name}", file=out, flush=True)
            with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
                timing = run_stage(stage, log)
                log.seek(0)
                with turn:
                    print(f"suite: ===== output of {stage.name} =====", file=out)
                    last: "deque[str]" = deque(maxlen=TAIL_LINES)
                    # The last telling lines: a scenario's side effects fail on purpose early on (expected
                    # failures), and what ended the stage (a failed test, the fatal task) comes last.
                    telling = Telling()
                    for line in log:
                        out.write(line)
                        if timing.rc:
                            last.append(line.rstrip("\n"))
                            telling.add(line.rstrip("\n"))
                    said = telling.lines()
                    timing.evidence = said + ["..."] + list(last) if said else list(last)
                    print(f"suite: {time.monotonic() - began:6.0f} s  end {stage.name}: "
                          f"{timing.seconds:.0f} s, exit {timing.rc}", file=out, flush=True)
                    timings.append(timing)
                    running.remove(stage)
                    ended[stage.name] = timing.rc if timing.rc is not None else 1
                    turn.notify_all()

    threads = [threading.Thread(target=lane, name=f"lane-{i}") for i in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stages", nargs="*", help=f"make targets to run (default: {' '.join(STATIC_STAGES)})")
    parser.add_argument("--scenarios", nargs="*", help="Molecule scenarios (default: all)")
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("SUITE_LANES", "2")),
                        help="stages run at once (default: 2, or $SUITE_LANES)")
    parser.add_argument("--no-images", dest="images", action="store_false",
                        help="do not run `make images` first (the scenarios' images are there)")
    args = parser.parse_args(argv)

    todo = plan(STATIC_STAGES if args.stages is None else args.stages,
                scenarios(ROOT) if args.scenarios is None else args.scenarios, images=args.images)
    began = time.monotonic()
    timings = run(todo, max(1, args.lanes), sys.stdout)
    for line in recap(timings) + table(timings, time.monotonic() - began):
        print(line)
    failed = [t for t in timings if t.rc != 0]
    if failed:
        return failed[0].rc or 1
    if len(timings) < len(todo):
        # A lane that died (an exception in the runner) must not pass for a green run.
        print(f"suite: FAILED: {len(todo) - len(timings)} of {len(todo)} stages did not end")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
