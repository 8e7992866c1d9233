"""Requests per second of the role's defaults against other ways to run the same apps, in one run, one container.

    python3 tests/harness/perf.py [--rounds 3] [--seconds 8] [--connections 64] [--sweep-workers] [--backlog] [--only speed,uvicorn]   (make perf)

Deploys, into the demo container (tests/harness/demo.sh), the sample app
(tests/sample_app, a bare ASGI app) and a FastAPI app with a pydantic model
(tests/bench_app), each with the role's defaults as a systemd service. Then,
in the same container, starts each app in these other ways too, as transient
systemd units with the same worker count:

  defaults   the role's service, as deployed (sandboxed unit, gunicorn.conf.py as installed)
  speed      the same venv and gunicorn.conf.py with nothing on top: no access log, no recycling
  previous   the same with the role's defaults before 0.5.0: access log to journald, max_requests 10000 (jitter 1000)
  journald   speed with an access log line per request to journald (gunicorn_accesslog: "-")
  file       speed with an access log line per request to a file (gunicorn_accesslog: /var/log/<app>/access.log)
  buffered   the same file, written through a 1,000-line memory buffer (logging.handlers.MemoryHandler)
  asgi       the same gunicorn.conf.py with gunicorn's own asgi worker
  uvicorn    uvicorn's own process manager (uvicorn --workers N, no access log), same venv
  guide      the deployment guide's install: plain `pip install gunicorn uvicorn`, its gunicorn.conf.py
             (uvicorn.workers.UvicornWorker, access log to stdout, max_requests 10000)

With --sweep-workers, also the speed configuration with vCPUs, vCPUs + 1 and
2 x vCPUs + 1 workers (the guide's formula, the role's default), to check
the default worker count. Each is loaded with wrk on loopback (GET /),
rounds interleaved. Prints the
median requests/s of each, its ratio to the defaults (the median of the
ratios within each round, so that drift in the machine's speed between
rounds cancels out), the socket errors and non-2xx answers wrk saw, and how
many of each unit's log lines journald suppressed (its rate limit) during
the run.

With --only speed,uvicorn (for example), only those configurations and the
defaults: fewer units sharing the machine, more rounds in the same time.

With --backlog, also the sample app's speed configuration with a listen
backlog of 64 instead of the role's 2048, both loaded with fresh
connections (wrk -c512, Connection: close): requests/s, errors and the 99th
percentile latency, to check the default backlog.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# In the container this file runs from /root: ROOT is only used on the controller.
ROOT = Path(__file__).resolve().parent.parent.parent
CONTAINER = "fasterapi-demo"
INSIDE = "/root/fasterapi-perf.py"
# name, port of the role's service, app module; the apps are deployed under /opt/<name>.
APPS = {"sample": ("fasterapi", 8000), "fastapi": ("benchapi", 8001)}
CONFIGS = ("defaults", "speed", "previous", "journald", "file", "buffered", "asgi", "uvicorn", "guide")
PLAIN_VENV = "/opt/perf-plain-venv"
CONFIG_DIR = "/opt/perf-configs"  # readable by the apps' users


# On the controller.

def controller(args: argparse.Namespace) -> int:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    print("perf: deploying the sample app with the role's defaults (make demo)", flush=True)
    subprocess.run([str(ROOT / "tests/harness/demo.sh")], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    print("perf: deploying the FastAPI app (tests/bench_app) with the role's defaults", flush=True)
    extra = {"gunicorn_app_name": "benchapi", "gunicorn_app_src": str(ROOT / "tests/bench_app"),
             "gunicorn_bind": ["127.0.0.1:8001"], "gunicorn_environment": {}}
    subprocess.run(["ansible-playbook", "site.yml", "-i", "inventories/demo", "--extra-vars", json.dumps(extra)],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["docker", "cp", __file__, f"{CONTAINER}:{INSIDE}"], check=True)
    requirements = (ROOT / "tests/bench_app/requirements.txt").read_text().split()
    return subprocess.run(["docker", "exec", CONTAINER, "python3", INSIDE, "--inside", "--rounds", str(args.rounds),
                           "--seconds", str(args.seconds), "--connections", str(args.connections),
                           "--plain-requirements", " ".join(requirements)] + (["--sweep-workers"] if args.sweep_workers else [])
                          + (["--backlog"] if args.backlog else []) + (["--only", args.only] if args.only else []),
                          check=False).returncode


# In the container.

def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check).stdout


def role_workers(app: str) -> int:
    """The worker count of the app's installed gunicorn.conf.py (loaded by its venv's python, which has the hooks)."""
    code = f"import runpy; print(runpy.run_path('/etc/{app}/gunicorn.conf.py')['workers'])"
    return int(sh(f"/opt/{app}/current/venv/bin/python", "-c", code).strip())


def config_file(app: str, kind: str, port: int, workers: int) -> str:
    """A gunicorn.conf.py for KIND, written beside nothing the role owns."""
    os.makedirs(CONFIG_DIR, mode=0o755, exist_ok=True)
    path = f"{CONFIG_DIR}/{app}-{kind}.conf.py"
    base = kind.split("-")[0]
    if kind == "guide":
        text = f"""bind = "127.0.0.1:{port}"
backlog = 2048
worker_class = "uvicorn.workers.UvicornWorker"
workers = {workers}
worker_connections = 1000
max_requests = 10_000
max_requests_jitter = 1_000
timeout = 30
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sμs'
proc_name = "perf-{app}-guide"
preload_app = True
"""
    else:
        overrides = {
            "speed": 'accesslog = None\nmax_requests = 0\nmax_requests_jitter = 0\nos.environ["FASTERAPI_WORKER_MAX_MEMORY_MB"] = "0"\n',
            "previous": 'accesslog = "-"\nmax_requests = 10000\nmax_requests_jitter = 1000\n'
                        'os.environ["FASTERAPI_WORKER_MAX_MEMORY_MB"] = "0"\n',
            "journald": 'accesslog = "-"\nmax_requests = 0\nmax_requests_jitter = 0\n'
                        'os.environ["FASTERAPI_WORKER_MAX_MEMORY_MB"] = "0"\n',
            "file": f'accesslog = "/var/log/perf-{app}-{kind}/access.log"\nmax_requests = 0\nmax_requests_jitter = 0\n'
                    'os.environ["FASTERAPI_WORKER_MAX_MEMORY_MB"] = "0"\n',
            "buffered": 'accesslog = None\nmax_requests = 0\nmax_requests_jitter = 0\n'
                        'os.environ["FASTERAPI_WORKER_MAX_MEMORY_MB"] = "0"\n'
                        'logconfig_dict = {"version": 1, "disable_existing_loggers": False, "handlers": {'
                        f'"file": {{"class": "logging.FileHandler", "filename": "/var/log/perf-{app}-{kind}/access.log"}}, '
                        '"access": {"class": "logging.handlers.MemoryHandler", "capacity": 1000, "target": "file"}}, '
                        '"root": {"level": "INFO", "handlers": []}, '
                        '"loggers": {"gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False}}}\n',
            "backlog": 'accesslog = None\nmax_requests = 0\nmax_requests_jitter = 0\nbacklog = 64\n'
                       'os.environ["FASTERAPI_WORKER_MAX_MEMORY_MB"] = "0"\n',
            "asgi": 'worker_class = "asgi"\n',
        }[base] + f"workers = {workers}\n"
        text = (f"import os\nexec(compile(open('/etc/{app}/gunicorn.conf.py').read(), '/etc/{app}/gunicorn.conf.py', 'exec'))\n"
                f"{overrides}bind = ['127.0.0.1:{port}']\npidfile = None\ncontrol_socket_disable = True\n"
                f"proc_name = 'perf-{app}-{kind}'\n"
                # The role's hooks hand the unit's main PID over and re-exec into `current`: not for these units.
                "on_exit = pre_exec = when_ready = None\ndel on_exit, pre_exec, when_ready\n")
    Path(path).write_text(text, encoding="utf-8")
    os.chmod(path, 0o644)
    return path


def start(app: str, kind: str, port: int, workers: int) -> str:
    unit = f"perf-{app}-{kind}"
    venv = PLAIN_VENV if kind == "guide" else f"/opt/{app}/current/venv"
    if kind == "uvicorn":
        command = [f"{venv}/bin/uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--no-access-log"]
    else:
        # The guide runs `gunicorn main:app` with its config; the others take wsgi_app from the role's.
        command = [f"{venv}/bin/gunicorn", "--config", config_file(app, kind, port, workers)] + (["main:app"] if kind == "guide" else [])
    subprocess.run(["systemctl", "stop", unit], capture_output=True, check=False)
    subprocess.run(["systemctl", "reset-failed", unit], capture_output=True, check=False)
    if kind in ("file", "buffered"):
        logs = Path(f"/var/log/perf-{app}-{kind}")
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(mode=0o750)
        shutil.chown(logs, app, app)
    sh("systemd-run", "--quiet", "--unit", unit, "--property", f"User={app}", "--property", f"Group={app}",
       "--property", "Environment=PYTHONUNBUFFERED=1", "--working-directory", f"/opt/{app}/current/app", *command)
    for _attempt in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return unit
        except OSError:
            time.sleep(0.2)
    sys.exit(f"perf: {unit} did not answer on port {port}:\n" + sh("journalctl", "-u", unit, "-n", "30", "--no-pager", check=False))


def parse_wrk(out: str) -> tuple[float, int]:
    """Requests/s, and socket errors plus non-2xx/3xx answers, from wrk's report."""
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, errors + (int(non_2xx.group(1)) if non_2xx else 0)


def bench(port: int, seconds: int, connections: int) -> tuple[float, int]:
    return parse_wrk(sh("wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/"))


def parse_latency(out: str) -> tuple[str, str]:
    """The 99th percentile and the longest latency from wrk --latency's report."""
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE)
    most = re.search(r"^[ \t]*Latency[ \t]+[0-9.]+\w+[ \t]+\S+[ \t]+(\S+)", out, re.MULTILINE)
    return (p99.group(1) if p99 else "?", most.group(1) if most else "?")


def bench_fresh(port: int, seconds: int) -> tuple[float, int, str, str]:
    """Requests/s, errors, the 99th percentile and the longest latency with a new connection per request, 512 at a time."""
    out = sh("wrk", "-t2", "-c512", f"-d{seconds}s", "--latency", "-H", "Connection: close", f"http://127.0.0.1:{port}/")
    return (*parse_wrk(out), *parse_latency(out))


def ratios(results: list[tuple[float, int]], defaults: list[tuple[float, int]]) -> float:
    """The median over rounds of requests/s relative to the defaults in the same round."""
    return statistics.median(rps / base for (rps, _e), (base, _f) in zip(results, defaults))


def parse_suppressed(text: str) -> dict[str, int]:
    """Per unit, the lines journald's "Suppressed N messages from UNIT" says it dropped."""
    counts: dict[str, int] = {}
    for number, unit in re.findall(r"Suppressed (\d+) messages from (\S+)", text):
        counts[unit.rstrip(".")] = counts.get(unit.rstrip("."), 0) + int(number)
    return counts


def suppressed_since(since: float) -> dict[str, int]:
    """Per unit, the log lines journald suppressed since SINCE."""
    return parse_suppressed(sh("journalctl", "--no-pager", "-o", "cat", f"--since=@{int(since)}", "-t", "systemd-journald",
                               check=False))


def inside(args: argparse.Namespace) -> int:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if not Path(PLAIN_VENV, "bin", "gunicorn").exists():
        subprocess.run(["python3", "-m", "venv", PLAIN_VENV], check=True)
        subprocess.run([f"{PLAIN_VENV}/bin/pip", "install", "-q", "--cert", "/usr/local/share/fasterapi-host-ca.crt",
                        "--cache-dir", "/var/cache/fasterapi-pip", "gunicorn", "uvicorn", *args.plain_requirements.split()], check=True)
    versions = sh(f"{PLAIN_VENV}/bin/python", "-c", "import gunicorn, uvicorn; print(gunicorn.__version__, uvicorn.__version__)").split()
    started = time.time()
    units: dict[tuple[str, str], tuple[str, int]] = {}
    workers = {}
    cpus = len(os.sched_getaffinity(0))
    sweep = {f"speed-w{count}": count for count in sorted({cpus, cpus + 1, 2 * cpus + 1})} if args.sweep_workers else {}
    for label, (app, port) in APPS.items():
        workers[label] = role_workers(app)
        units[(label, "defaults")] = (f"{app}.service", port)
        for offset, kind in enumerate(CONFIGS[1:], start=1):
            if not args.only or kind in args.only.split(","):
                units[(label, kind)] = (start(app, kind, port + 100 * offset, workers[label]), port + 100 * offset)
        for offset, (kind, count) in enumerate(sweep.items(), start=len(CONFIGS)):
            units[(label, kind)] = (start(app, kind, port + 100 * offset, count), port + 100 * offset)
    if args.backlog:
        app, port = APPS["sample"]
        port += 100 * (len(CONFIGS) + len(sweep))
        backlog = (start(app, "backlog-64", port, workers["sample"]), port)
    print(f"perf: {', '.join(f'{label} app {workers[label]} workers' for label in APPS)}; guide install: gunicorn {versions[0]}, "
          f"uvicorn {versions[1]} (no uvloop, no httptools); wrk -t2 -c{args.connections} -d{args.seconds}s, {args.rounds} "
          "rounds, interleaved", flush=True)
    results: dict[tuple[str, str], list[tuple[float, int]]] = {key: [] for key in units}
    if args.backlog:
        units[("sample", "backlog-64")] = backlog  # loaded with fresh connections only, after the rounds
    for number in range(1, args.rounds + 1):
        for key in results:
            results[key].append(bench(units[key][1], args.seconds, args.connections))
        print(f"round {number}: " + ", ".join(f"{label}/{kind} {results[(label, kind)][-1][0]:,.0f}" for label, kind in results),
              flush=True)
    suppressed = suppressed_since(started)
    for label in APPS:
        print(f"\n{label} app, medians of {args.rounds} rounds:\n| configuration | requests/s | ratio to defaults | "
              "socket errors + non-2xx | journald suppressed |\n| --- | --- | --- | --- | --- |")
        for kind in [kind for app_label, kind in results if app_label == label]:
            unit = units[(label, kind)][0]
            median = statistics.median(rps for rps, _errors in results[(label, kind)])
            errors = sum(errors for _rps, errors in results[(label, kind)])
            dropped = suppressed.get(unit if unit.endswith(".service") else unit + ".service", 0)
            print(f"| {kind} | {median:,.0f} | {ratios(results[(label, kind)], results[(label, 'defaults')]):.2f} | "
                  f"{errors} | {dropped:,} |")
    if args.backlog:
        fresh: dict[str, list[tuple[float, int, str, str]]] = {"speed": [], "backlog-64": []}
        for _number in range(args.rounds):
            for kind in fresh:
                fresh[kind].append(bench_fresh(units[("sample", kind)][1], args.seconds))
        print(f"\nsample app, a new connection per request (wrk -c512, Connection: close), {args.rounds} rounds:\n"
              "| configuration | requests/s (median) | socket errors + non-2xx (sum) | 99th percentile latency per round | "
              "longest latency per round |\n| --- | --- | --- | --- | --- |")
        for kind, rows in fresh.items():
            print(f"| {kind} (backlog {2048 if kind == 'speed' else 64}) | {statistics.median(r[0] for r in rows):,.0f} | "
                  f"{sum(r[1] for r in rows)} | {', '.join(r[2] for r in rows)} | {', '.join(r[3] for r in rows)} |")
    for key, (unit, _port) in units.items():
        if key[1] != "defaults":
            subprocess.run(["systemctl", "stop", unit], capture_output=True, check=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("FASTERAPI_PERF_ROUNDS", "3")))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FASTERAPI_PERF_SECONDS", "8")))
    parser.add_argument("--connections", type=int, default=int(os.environ.get("FASTERAPI_PERF_CONNECTIONS", "64")))
    parser.add_argument("--sweep-workers", action="store_true", help="also vCPUs, vCPUs + 1 and 2 x vCPUs + 1 workers")
    parser.add_argument("--backlog", action="store_true", help="also fresh connections against backlogs 2048 and 64")
    parser.add_argument("--only", default="", help="only these configurations besides the defaults, comma-separated")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain-requirements", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backlog and args.only and "speed" not in args.only.split(","):
        parser.error("--backlog compares against speed: add it to --only")
    return inside(args) if args.inside else controller(args)


if __name__ == "__main__":
    sys.exit(main())
