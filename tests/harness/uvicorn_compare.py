"""Why gunicorn: uvicorn's own process manager against the collection's rolling restart, in one run, one container.

    python3 tests/harness/uvicorn_compare.py [--workers 3] [--restarts 5] [--clients 4] [--hogs N]   (make uvicorn-compare)

Deploys the sample app (tests/sample_app) into the demo container with the
role (tests/harness/demo.sh, then --workers workers), and starts, in the same
container, the same release's code and venv twice under uvicorn's own
process manager (`uvicorn main:app --workers N`, what `fastapi run --workers
N` runs) as transient systemd units, started as perf.py starts its `uvicorn`
configuration: through /opt/<app>/current, as the app user. Then:

1. Failed requests during restarts. Load on the three servers at once, for
   the whole step: loadgen clients with a new connection per request and
   clients on kept-alive connections, for each server, and --hogs busy
   loops on the same CPUs (default: one per CPU, as `make drain-compare`).
   --restarts rounds, each: SIGHUP to the first uvicorn's supervisor (it
   replaces its workers one by one, since uvicorn 0.51) until every worker
   is new; the second uvicorn stopped and started again by systemd (what
   loads a new release into uvicorn); `systemctl reload <app>` (the
   collection's hand-over). Counts requests sent and failed per server, by
   kind.
2. Late senders (no load): 20 connections opened before a restart, their
   request sent 1 s after the old workers were told to stop (uvicorn,
   SIGHUP: 1 s after its last old worker was replaced; the collection: 1 s
   after the old master got SIGTERM, tests/tools/late_sender.py). Answered
   or failed.
3. A new release: a copy of the sample app with another VERSION, deployed
   with the role, which builds releases/<new> beside the running one,
   switches /opt/<app>/current to it and hands its service over. Then SIGHUP
   to the first uvicorn, a restart of the second. For each server, before
   and after: the version its workers answer on /version, the venv
   (sys.prefix), directory and module they run from, and each worker
   process's argv[0] from /proc.

Prints two tables (counts, failed per 10,000 requests and per restart,
ratios) and puts the demo back to the role's defaults (--no-restore: not).
Standard library only in the container; loadgen.py, late_sender.py and
disrupt.py from tests/tools are copied beside this file there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
# In the container the tools sit beside this file; in the checkout, in tests/tools.
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT / "tests" / "tools")]
from disrupt import children  # noqa: E402
from late_sender import outcome  # noqa: E402

CONTAINER = "fasterapi-demo"
INSIDE_DIR = "/root/uvicorn-compare"
TOOLS = ("loadgen.py", "late_sender.py", "disrupt.py")
APP = "fasterapi"  # inventories/demo's app, deployed under /opt/fasterapi
NEW_VERSION = "2.0.0-uvicorn-compare"
# uvicorn restarted by SIGHUP; uvicorn restarted by systemd (stop, start: how it loads a new release); the role's app.
SERVERS = ("uvicorn", "uvicorn-restart", "collection")
PORTS = {"uvicorn": 8100, "uvicorn-restart": 8200, "collection": 8000}
UNITS = {"uvicorn": "uvicorn-compare", "uvicorn-restart": "uvicorn-compare-restart", "collection": APP}
LABELS = {"uvicorn": "`uvicorn --workers N`, SIGHUP (workers replaced one by one)",
          "uvicorn-restart": "`uvicorn --workers N`, `systemctl restart`",
          "collection": "the collection, `systemctl reload` (hand-over)"}
# What multiprocessing's spawn start method puts on a child's command line (uvicorn's workers).
SPAWN_MARK = "--multiprocessing-fork"


# Pure parts (tests/unit/test_uvicorn_compare.py).

def cmdline(pid: int, proc: Path = Path("/proc")) -> list[str]:
    """PID's argv ([] when it is gone)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def spawned_workers(supervisor: int, proc: Path = Path("/proc")) -> set[int]:
    """uvicorn's worker processes: SUPERVISOR's children that multiprocessing spawned (not its resource tracker)."""
    return {pid for pid in children(supervisor, proc) if SPAWN_MARK in cmdline(pid, proc)}


def restart_complete(old: set[int], now: set[int], workers: int) -> bool:
    """Whether every one of the WORKERS workers is a new process."""
    return len(now) == workers and not now & old


@dataclass
class Tally:
    """Requests one server's clients sent and lost over its restarts."""

    server: str
    restarts: int
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_reports(cls, server: str, restarts: int, reports: dict[str, dict[str, Any]]) -> Tally:
        """From loadgen's JSON reports, one per mode (fresh, keepalive)."""
        tally = cls(server, restarts)
        for mode, report in reports.items():
            tally.sent[mode] = int(report["sent"])
            tally.failed[mode] = int(report["failed_total"])
            for kind, count in report["failed"].items():
                tally.kinds[f"{kind} ({mode})"] += int(count)
        return tally

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_failed(self) -> int:
        return sum(self.failed.values())

    def per_10k(self) -> float:
        """Failed requests per 10,000 sent."""
        return 10_000 * self.total_failed / self.total_sent if self.total_sent else 0.0

    def per_restart(self) -> float:
        return self.total_failed / self.restarts if self.restarts else 0.0


def ratio(part: float, whole: float) -> str:
    """PART / WHOLE for a table: "-" when WHOLE is 0 (no failure to compare with)."""
    return f"{part / whole:.2f}" if whole else "-"


def late_answered(late: dict[str, Any]) -> str:
    """"k of n" late senders answered, "-" when not measured."""
    return f"{late['answered']} of {late['connections']}" if late else "-"


def drops_table(tallies: list[Tally], late: dict[str, dict[str, Any]]) -> str:
    """Markdown: per server, sent / failed per mode, failed per 10,000 and per restart, the ratio to uvicorn, late senders."""
    base = next((tally for tally in tallies if tally.server == "uvicorn"), tallies[0])
    lines = ["| server | restarts | fresh connections: sent / failed | keep-alive: sent / failed | failed per 10,000 | "
             "failed per restart | failed, ratio to uvicorn | late senders answered | how requests failed |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for tally in tallies:
        answered = late.get(tally.server, {})
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(tally.kinds.items())) or "none"
        lines.append(f"| {LABELS.get(tally.server, tally.server)} | {tally.restarts} | {tally.sent.get('fresh', 0):,} / {tally.failed.get('fresh', 0):,} | "
                     f"{tally.sent.get('keepalive', 0):,} / {tally.failed.get('keepalive', 0):,} | {tally.per_10k():.1f} | "
                     f"{tally.per_restart():.1f} | {ratio(tally.per_10k(), base.per_10k())} | "
                     f"{late_answered(answered)} | {kinds} |")
    return "\n".join(lines)


def where_summary(answers: list[dict[str, Any]], workers: list[dict[str, Any]]) -> dict[str, str]:
    """What a server's /version answers and its worker processes say about the code and venv they run."""
    versions = Counter(str(answer.get("version")) for answer in answers)
    seen = {answer.get("pid") for answer in answers}

    def distinct(values: list[Any]) -> str:
        return ", ".join(sorted({str(value) for value in values})) or "?"

    return {
        "versions": ", ".join(f"{version} ({count} of {len(answers)})" for version, count in sorted(versions.items())),
        "workers_answering": f"{len(seen & {worker['pid'] for worker in workers})} of {len(workers)}",
        "prefix": distinct([answer.get("prefix") for answer in answers]),
        "cwd": distinct([answer.get("cwd") for answer in answers]),
        "module": distinct([answer.get("module") for answer in answers]),
        "argv0": distinct([(worker.get("argv") or ["?"])[0] for worker in workers]),
    }


def release_table(rows: list[tuple[str, str, str, dict[str, str]]]) -> str:
    """Markdown: per server and moment, `current`, the versions answered, the workers' venv, cwd and argv[0]."""
    lines = ["| server | when | /opt/<app>/current -> | version answered (answers) | workers that answered | "
             "worker venv (sys.prefix) | worker cwd | app module loaded | worker argv[0] (/proc) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for server, when, current, summary in rows:
        lines.append(f"| {LABELS.get(server, server)} | {when} | {current} | {summary['versions']} | "
                     f"{summary['workers_answering']} | {summary['prefix']} | {summary['cwd']} | {summary['module']} | "
                     f"{summary['argv0']} |")
    return "\n".join(lines)


# In the container.

def main_pid(unit: str) -> int:
    out = subprocess.run(["systemctl", "show", "--property=MainPID", "--value", unit],
                         capture_output=True, text=True, check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


def worker_pids(server: str) -> set[int]:
    if server == "collection":
        return children(main_pid(APP))
    return spawned_workers(main_pid(UNITS[server]))


def answers(port: int, path: str = "/health") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_for_workers(server: str, old: set[int], workers: int, most: float = 120.0) -> tuple[set[int], float]:
    """Wait until a uvicorn supervisor runs WORKERS workers, none of them in OLD; the new set and the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < most:
        now = worker_pids(server)
        if restart_complete(old, now, workers) and answers(PORTS[server]):
            return now, time.monotonic() - started
        time.sleep(0.05)
    sys.exit(f"uvicorn-compare: {server}'s workers were not all replaced within {most} s: {sorted(worker_pids(server))}")


def hup_uvicorn(workers: int) -> dict[str, Any]:
    """SIGHUP to uvicorn's supervisor, then wait until it has replaced every worker."""
    old = worker_pids("uvicorn")
    os.kill(main_pid(UNITS["uvicorn"]), signal.SIGHUP)
    new, seconds = wait_for_workers("uvicorn", old, workers)
    return {"old": sorted(old), "new": sorted(new), "seconds": round(seconds, 2)}


def start_uvicorn(server: str, workers: int) -> dict[str, Any]:
    """uvicorn's own process manager, from the release `current` points to, as the app user (as perf.py starts it)."""
    unit = UNITS[server]
    subprocess.run(["systemctl", "stop", unit], capture_output=True, check=False)
    subprocess.run(["systemctl", "reset-failed", unit], capture_output=True, check=False)
    venv = f"/opt/{APP}/current/venv"
    started = time.monotonic()
    subprocess.run(["systemd-run", "--quiet", "--unit", unit, "--property", f"User={APP}", "--property", f"Group={APP}",
                    "--property", "Environment=PYTHONUNBUFFERED=1", "--working-directory", f"/opt/{APP}/current/app",
                    f"{venv}/bin/uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(PORTS[server]),
                    "--workers", str(workers), "--no-access-log"], check=True)
    new, _seconds = wait_for_workers(server, set(), workers)
    return {"supervisor": main_pid(unit), "workers": sorted(new), "seconds": round(time.monotonic() - started, 2)}


def restart_uvicorn(workers: int) -> dict[str, Any]:
    """What loads a new release into uvicorn: the service stopped (systemd's SIGTERM to all) and started again."""
    started = time.monotonic()
    subprocess.run(["systemctl", "stop", UNITS["uvicorn-restart"]], check=True)
    result = start_uvicorn("uvicorn-restart", workers)
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def late_uvicorn(workers: int, connections: int, late: float) -> dict[str, Any]:
    """late_sender.py's test against uvicorn: idle connections, SIGHUP, and their request LATE s after the last old worker went."""
    port = PORTS["uvicorn"]
    request = f"GET /version HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _number in range(connections)]
    time.sleep(0.3)  # the running workers accept them
    restart = hup_uvicorn(workers)
    time.sleep(late)
    outcomes = Counter(outcome(sock, request, 15.0) for sock in sockets)
    for sock in sockets:
        sock.close()
    return {"connections": connections, "late": late, "restart_seconds": restart["seconds"],
            "answered": outcomes.pop("answered", 0), "failed": dict(outcomes)}


def drops(args: argparse.Namespace) -> dict[str, Any]:
    """Steps 1 and 2: each server restarted under load (rounds interleaved, load on all three throughout), then late senders."""
    hogs = [subprocess.Popen(["python3", "-c", "while True: pass"]) for _hog in range(args.hogs)]
    loads: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
    out = Path(INSIDE_DIR)
    for server in SERVERS:
        for mode in ("fresh", "keepalive"):
            report = out / f"load-{server}-{mode}.json"
            report.unlink(missing_ok=True)
            loads[(server, mode)] = subprocess.Popen(
                ["python3", str(out / "loadgen.py"), "--url", f"http://127.0.0.1:{PORTS[server]}/version",
                 "--clients", str(args.clients), "--mode", mode, "--duration", "600", "--interval", "0.002",
                 "--output", str(report)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds: dict[str, list[float]] = {server: [] for server in SERVERS}
    try:
        time.sleep(2)
        for _round in range(args.restarts):
            seconds["uvicorn"].append(hup_uvicorn(args.workers)["seconds"])
            time.sleep(1)
            seconds["uvicorn-restart"].append(restart_uvicorn(args.workers)["seconds"])
            time.sleep(1)
            started = time.monotonic()
            subprocess.run(["systemctl", "reload", APP], check=True)
            seconds["collection"].append(round(time.monotonic() - started, 2))
            time.sleep(1)
    finally:
        for process in loads.values():
            process.send_signal(signal.SIGTERM)
        for process in loads.values():
            process.wait(timeout=60)
        for hog in hogs:
            hog.kill()
            hog.wait()
    reports = {server: {mode: json.loads((out / f"load-{server}-{mode}.json").read_text()) for mode in ("fresh", "keepalive")}
               for server in SERVERS}
    time.sleep(2)
    late = {"uvicorn": late_uvicorn(args.workers, 20, 1.0)}
    sender = subprocess.run(["python3", str(out / "late_sender.py"), "--unit", APP, "--port", str(PORTS["collection"]),
                             "--connections", "20", "--late", "1.0"], capture_output=True, text=True, check=True)
    late["collection"] = json.loads(sender.stdout.strip().splitlines()[-1])
    return {"reports": reports, "restart_seconds": seconds, "late": late, "hogs": args.hogs, "clients": args.clients}


def sample_versions(port: int, count: int) -> list[dict[str, Any]]:
    """COUNT answers of /version, each on a new connection."""
    found = []
    for _number in range(count):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/version", headers={"Connection": "close"})
        with urllib.request.urlopen(request, timeout=5) as response:
            found.append(json.loads(response.read()))
    return found


def where(count: int) -> dict[str, Any]:
    """Step 3, one moment: what `current` points to, and what each server's workers answer and run from."""
    found: dict[str, Any] = {"current": os.path.realpath(f"/opt/{APP}/current")}
    for server in SERVERS:
        found[server] = {"answers": sample_versions(PORTS[server], count),
                         "workers": [{"pid": pid, "argv": cmdline(pid)} for pid in sorted(worker_pids(server))]}
    found["uvicorn_supervisor"] = cmdline(main_pid(UNITS["uvicorn"]))
    return found


def uvicorn_version() -> str:
    return subprocess.run([f"/opt/{APP}/current/venv/bin/python", "-c", "import uvicorn; print(uvicorn.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def inside(args: argparse.Namespace) -> int:
    if args.inside == "start":
        result: dict[str, Any] = {server: start_uvicorn(server, args.workers) for server in SERVERS[:2]}
        result["uvicorn_version"] = uvicorn_version()
    elif args.inside == "drops":
        result = drops(args)
    elif args.inside == "where":
        result = where(args.samples)
    elif args.inside == "switch":
        result = {"uvicorn": hup_uvicorn(args.workers), "uvicorn-restart": restart_uvicorn(args.workers)}
    else:
        for server in SERVERS[:2]:
            subprocess.run(["systemctl", "stop", UNITS[server]], capture_output=True, check=False)
        result = {}
    print(json.dumps(result))
    return 0


# On the controller.

def in_container(step: str, args: argparse.Namespace) -> dict[str, Any]:
    out = subprocess.run(["docker", "exec", CONTAINER, "python3", f"{INSIDE_DIR}/uvicorn_compare.py", "--inside", step,
                          "--workers", str(args.workers), "--restarts", str(args.restarts), "--clients", str(args.clients),
                          "--hogs", str(args.hogs), "--samples", str(args.samples)],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def converge(env: dict[str, str], extra: dict[str, Any] | None = None) -> None:
    command = ["ansible-playbook", "site.yml", "-i", "inventories/demo"]
    if extra:
        command += ["--extra-vars", json.dumps(extra)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def new_release_source(into: Path) -> Path:
    """A copy of the sample app that answers NEW_VERSION: a new release for the role."""
    target = into / "sample_app"
    shutil.copytree(ROOT / "tests/sample_app", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "VERSION").write_text(NEW_VERSION + "\n", encoding="utf-8")
    return target


def release_name(path: str) -> str:
    return "releases/" + Path(path).name


def report(args: argparse.Namespace, measured: dict[str, Any], before: dict[str, Any], switch: dict[str, Any],
           after: dict[str, Any]) -> None:
    """Print the two tables and the figures behind them."""
    tallies = [Tally.from_reports(server, args.restarts, measured["reports"][server]) for server in SERVERS]
    print(f"\n## Failed requests over {args.restarts} restarts of each, under load "
          f"({measured['clients']} fresh-connection + {measured['clients']} keep-alive clients per server, "
          f"{measured['hogs']} busy loops), then late senders (20 idle connections, their request 1 s after the old "
          "workers were told to stop)\n")
    print(drops_table(tallies, measured["late"]))
    print()
    for server in SERVERS:
        print(f"{server}: seconds per restart {measured['restart_seconds'][server]}; "
              f"late senders {measured['late'].get(server, '-')}")
    rows = []
    whens = {"uvicorn": "after the switch, SIGHUP", "uvicorn-restart": "after the switch, `systemctl restart`",
             "collection": "after the switch, the role's hand-over"}
    for server in SERVERS:
        rows.append((server, "before", release_name(before["current"]),
                     where_summary(before[server]["answers"], before[server]["workers"])))
        rows.append((server, whens[server], release_name(after["current"]),
                     where_summary(after[server]["answers"], after[server]["workers"])))
    hup = switch["uvicorn"]
    print(f"\n## A new release ({NEW_VERSION}) deployed by the role beside the running one and `current` switched; "
          f"then uvicorn's workers replaced on SIGHUP ({hup['seconds']} s, pids {hup['old']} -> {hup['new']})\n")
    print(release_table(rows))
    print(f"\nuvicorn's supervisor (SIGHUP): argv {before['uvicorn_supervisor']}")


def controller(args: argparse.Namespace) -> int:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    print("uvicorn-compare: the demo container with the role's defaults (make demo)", flush=True)
    subprocess.run([str(ROOT / "tests/harness/demo.sh")], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    workers = {"gunicorn_workers": args.workers}
    print(f"uvicorn-compare: the role's app with {args.workers} workers", flush=True)
    converge(env, workers)
    subprocess.run(["docker", "exec", CONTAINER, "mkdir", "-p", INSIDE_DIR], check=True)
    for path in [Path(__file__).resolve()] + [ROOT / "tests/tools" / tool for tool in TOOLS]:
        subprocess.run(["docker", "cp", str(path), f"{CONTAINER}:{INSIDE_DIR}/{path.name}"], check=True)
    try:
        started = in_container("start", args)
        print(f"uvicorn-compare: uvicorn {started['uvicorn_version']} --workers {args.workers} on ports "
              f"{PORTS['uvicorn']} and {PORTS['uvicorn-restart']}, the role's service on {PORTS['collection']}; "
              f"{args.restarts} restarts of each under load ({args.clients} + {args.clients} clients per server, "
              f"{args.hogs} busy loops)", flush=True)
        measured = in_container("drops", args)
        before = in_container("where", args)
        with tempfile.TemporaryDirectory() as scratch:
            print(f"uvicorn-compare: deploying a new release ({NEW_VERSION}) with the role", flush=True)
            converge(env, {**workers, "gunicorn_app_src": str(new_release_source(Path(scratch)))})
        switch = in_container("switch", args)
        after = in_container("where", args)
        report(args, measured, before, switch, after)
    finally:
        in_container("stop", args)
        if not args.no_restore:
            print("\nuvicorn-compare: back to the demo's defaults", flush=True)
            converge(env)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=3, help="workers of both servers (default 3)")
    parser.add_argument("--restarts", type=int, default=5, help="rolling restarts of each under load (default 5)")
    parser.add_argument("--clients", type=int, default=4, help="load clients per mode and server (default 4)")
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 1, help="busy loops during the restarts (default: CPUs)")
    parser.add_argument("--samples", type=int, default=60, help="/version requests per server and moment (default 60)")
    parser.add_argument("--no-restore", action="store_true", help="leave the demo as the measurement left it")
    parser.add_argument("--inside", choices=["start", "drops", "where", "switch", "stop"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1 or args.restarts < 1 or args.clients < 1 or args.hogs < 0 or args.samples < 1:
        parser.error("--workers, --restarts, --clients and --samples must be at least 1, --hogs not negative")
    return inside(args) if args.inside else controller(args)


if __name__ == "__main__":
    sys.exit(main())
