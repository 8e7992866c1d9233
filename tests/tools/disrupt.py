"""Disrupt a gunicorn app that systemd runs, under load, and measure what its clients saw.

Runs loadgen's clients against --url; --lead seconds in it runs the action
(a command; ``{master}`` in it becomes the unit's main PID, ``{worker}`` one
of the master's workers), then waits until the app has recovered:

  master   systemd runs a new main PID, and the app answers 200
  workers  the master has --workers workers again, one of them new, and
           the app answers 200
  answer   the app answers 200

It keeps the load running --tail seconds more, stops it and prints one JSON
report: the action's exit status and duration, ``recovered_after`` (seconds from the
action, or null when --limit ran out), old and new main PID, and loadgen's
report (requests answered and failed by kind, when failures happened, the
slowest answer). Put loadgen.py next to this file. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import MAX_DURATION, Load  # noqa: E402

EXPECTATIONS = ("master", "workers", "answer")


def main_pid(unit: str) -> int:
    """systemd's main PID of UNIT (0 when it has none)."""
    out = subprocess.run(["systemctl", "show", "--property=MainPID", "--value", unit],
                         capture_output=True, text=True, check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


def children(pid: int, proc: Path = Path("/proc")) -> set[int]:
    """Live (not zombie) processes whose parent is PID."""
    found: set[int] = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when a fresh GET of URL answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def recovered(expect: str, unit: str, url: str, old_master: int, old_workers: set[int], workers: int) -> bool:
    """Whether the app is back, as EXPECT defines it."""
    if expect == "master":
        pid = main_pid(unit)
        if pid in (0, old_master):
            return False
    elif expect == "workers":
        now = children(main_pid(unit))
        if len(now) < workers or not now - old_workers:
            return False
    return answers(url)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load = Load(args.url, args.clients, args.mode, MAX_DURATION, args.timeout, args.interval)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(args.lead)
    old_master = main_pid(args.unit) if args.unit else 0
    old_workers = children(old_master) if old_master else set()
    names = {"master": str(old_master), "worker": str(min(old_workers, default=0))}
    command = [part.format(**names) for part in args.command]
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(*command)
    action_rc = await process.wait()
    action_seconds = time.monotonic() - started
    recovered_after: float | None = None
    while time.monotonic() - started < args.limit:
        if await asyncio.to_thread(recovered, args.expect, args.unit, args.url, old_master, old_workers, args.workers):
            recovered_after = time.monotonic() - started
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(args.tail)
    load.stopping.set()
    report = (await running).as_dict()
    return {"command": command, "action_rc": action_rc, "action_seconds": round(action_seconds, 3), "expect": args.expect,
            "recovered_after": None if recovered_after is None else round(recovered_after, 3),
            "action_at": round(args.lead, 3), "old_master": old_master,
            "new_master": main_pid(args.unit) if args.unit else 0, "load": report}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="loopback URL the clients and the recovery check GET")
    parser.add_argument("--unit", default="", help="the systemd service ({master}, {worker} and recovery read it)")
    parser.add_argument("--expect", choices=EXPECTATIONS, default="answer", help="what recovery means")
    parser.add_argument("--workers", type=int, default=1, help="worker count to wait for (--expect workers)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--mode", choices=["fresh", "keepalive"], default="fresh")
    parser.add_argument("--interval", type=float, default=0.01, help="pause between a client's requests")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per connect or response")
    parser.add_argument("--lead", type=float, default=1.0, help="seconds of load before the action")
    parser.add_argument("--tail", type=float, default=1.0, help="seconds of load after recovery")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds to wait for recovery")
    parser.add_argument("--output", help="also write the JSON report here")
    parser.add_argument("command", nargs="+", help="the action, e.g. kill -9 {master}")
    args = parser.parse_args(argv)
    if ("{master}" in " ".join(args.command) or "{worker}" in " ".join(args.command)) and not args.unit:
        parser.error("{master} and {worker} need --unit")
    if args.expect != "answer" and not args.unit:
        parser.error(f"--expect {args.expect} needs --unit")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    text = json.dumps(asyncio.run(run(args)), indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
