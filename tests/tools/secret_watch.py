"""Where secret values leak: process command lines sampled while a run goes on, and lines of text (a journal, a play's output).

    python3 secret_watch.py watch --needles needles.json --output watch.json --duration 1200 [--interval 0.05]
    python3 secret_watch.py count --needles needles.json --journal | FILE...

``watch`` reads every process's /proc/PID/cmdline every INTERVAL seconds
until SIGTERM or DURATION, and writes how many samples it took, how many
processes it saw, and for each needle how many command lines held it (with
the first few, the needle masked). ``count`` prints, as JSON, how many
lines of its input (files, standard input, or the host's whole journal)
hold each needle, and how many hold any. Needles are
the secret values to look for (a JSON list); they are never written out,
only their positions in that list.

Standard library only: runs with a test host's python3.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Iterable, TextIO

MASK = "<needle %d>"


def load_needles(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        needles = json.load(handle)
    if not isinstance(needles, list) or not all(isinstance(n, str) and len(n) >= 8 for n in needles):
        raise SystemExit(f"{path}: expected a JSON list of strings of 8 characters or more")
    return needles


def mask(text: str, needles: list[str]) -> str:
    for index, needle in enumerate(needles):
        text = text.replace(needle, MASK % index)
    return text


def count_lines(lines: Iterable[str], needles: list[str]) -> dict[str, Any]:
    """How many LINES hold each needle (by position), and how many hold any, with the first few masked."""
    per_needle = [0] * len(needles)
    holding, examples, total = 0, [], 0
    for line in lines:
        total += 1
        found = [index for index, needle in enumerate(needles) if needle in line]
        for index in found:
            per_needle[index] += 1
        if found:
            holding += 1
            if len(examples) < 5:
                examples.append(mask(line.rstrip("\n"), needles)[:300])
    return {"lines": total, "lines_with_a_secret": holding, "per_needle": per_needle, "examples": examples}


class Watch:
    """Samples of every process's command line, and which held a needle."""

    def __init__(self, needles: list[str], proc: str = "/proc") -> None:
        self.needles, self.proc = needles, proc
        self.samples = 0
        self.processes: set[tuple[int, str]] = set()
        self.per_needle = [0] * len(needles)
        self.holding: set[tuple[int, str]] = set()
        self.examples: list[str] = []

    def sample(self) -> None:
        self.samples += 1
        for name in os.listdir(self.proc):
            if not name.isdigit():
                continue
            try:
                with open(os.path.join(self.proc, name, "cmdline"), "rb") as handle:
                    raw = handle.read()
            except OSError:
                continue
            if not raw:
                continue
            text = raw.replace(b"\0", b" ").decode("utf-8", "replace")
            key = (int(name), text[:200])
            new = key not in self.processes
            self.processes.add(key)
            found = [index for index, needle in enumerate(self.needles) if needle in text]
            if found and new:
                for index in found:
                    self.per_needle[index] += 1
                self.holding.add(key)
                if len(self.examples) < 5:
                    self.examples.append(mask(text, self.needles)[:300])

    def report(self) -> dict[str, Any]:
        return {"samples": self.samples, "processes_seen": len(self.processes),
                "command_lines_with_a_secret": len(self.holding), "per_needle": self.per_needle, "examples": self.examples}


def watch(needles: list[str], output: str, duration: float, interval: float, proc: str = "/proc") -> dict[str, Any]:
    state = Watch(needles, proc)
    stop = {"now": False}

    def on_term(_signum: int, _frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_term)
    until = time.monotonic() + duration
    while not stop["now"] and time.monotonic() < until:
        state.sample()
        time.sleep(interval)
    report = state.report()
    temporary = output + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(report, handle)
    os.replace(temporary, output)
    return report


def main(argv: list[str] | None = None, stdin: TextIO = sys.stdin) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("watch")
    run.add_argument("--needles", required=True)
    run.add_argument("--output", required=True)
    run.add_argument("--duration", type=float, default=1200.0)
    run.add_argument("--interval", type=float, default=0.05)
    count = sub.add_parser("count")
    count.add_argument("--needles", required=True)
    count.add_argument("--journal", action="store_true", help="count the lines of the whole journal (journalctl --output cat)")
    count.add_argument("files", nargs="*")
    args = parser.parse_args(argv)
    needles = load_needles(args.needles)
    if args.command == "watch":
        watch(needles, args.output, args.duration, args.interval)
        return 0
    if args.journal:
        journal = subprocess.run(["journalctl", "--output", "cat", "--no-pager"], capture_output=True, text=True, check=True,
                                 errors="replace")
        print(json.dumps(count_lines(journal.stdout.splitlines(), needles)))
    elif args.files:
        lines: list[str] = []
        for path in args.files:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines.extend(handle)
        print(json.dumps(count_lines(lines, needles)))
    else:
        print(json.dumps(count_lines(stdin, needles)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
