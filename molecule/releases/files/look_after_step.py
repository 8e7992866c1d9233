"""Look at one host after a deploy or rollback step of the releases scenario.

Prints one JSON object: ``versions`` (the versions that answered --requests
fresh requests to --url, sorted), ``runs_from`` (the sorted [cwd, prefix,
module] triples those answers gave), ``current_real`` (the resolved path of
/opt/APP/current), ``current`` and ``previous`` (their link targets;
``previous`` is "" when there is none), ``releases`` (the names under
/opt/APP/releases, sorted), ``listing`` (every path under /opt/APP, a
release's venv and code as one entry each), ``migrated`` (the text of
current/app/migrated.txt, or null), ``packages`` (the distributions
installed in current's venv, by name, sorted), ``main_pid`` (systemd's MainPID of the
unit APP, as text) and ``active`` (what ``systemctl is-active`` says).
"""

import argparse
import glob
import json
import os
import subprocess
import urllib.request
from typing import Any


def ask(url: str, requests: int) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The versions and the (cwd, prefix, module) triples that REQUESTS fresh requests to URL were answered with."""
    seen: set[str] = set()
    runs_from: set[tuple[str, str, str]] = set()
    for _request in range(requests):
        with urllib.request.urlopen(url, timeout=5) as response:
            answer = json.load(response)
        seen.add(answer["version"])
        runs_from.add((answer["cwd"], answer["prefix"], answer["module"]))
    return sorted(seen), sorted(runs_from)


def listing(base: str) -> list[str]:
    """Every directory and file under BASE, a release's venv and code counted as one entry each."""
    found = []
    for top, dirs, files in os.walk(base):
        if os.path.basename(top) in ("venv", "app") and os.path.dirname(os.path.dirname(top)).endswith("/releases"):
            dirs[:] = []
            continue
        found += [os.path.join(top, name) for name in dirs + files]
    return sorted(found)


def packages(venv: str) -> list[str]:
    """The names of the distributions installed in VENV (from their .dist-info directories)."""
    found = glob.glob(f"{venv}/lib/python3*/site-packages/*.dist-info")
    return sorted(os.path.basename(path).split("-")[0].lower().replace("_", "-") for path in found)


def look(app: str, url: str, requests: int) -> dict[str, Any]:
    """What the app answers and what its directory and unit show."""
    versions, runs_from = ask(url, requests)
    base = f"/opt/{app}"
    migrated = f"{base}/current/app/migrated.txt"
    with_migrated = None
    if os.path.exists(migrated):
        with open(migrated, encoding="utf-8") as handle:
            with_migrated = handle.read().strip()
    return {
        "versions": versions,
        "runs_from": runs_from,
        "current_real": os.path.realpath(f"{base}/current"),
        "current": os.readlink(f"{base}/current"),
        "previous": os.readlink(f"{base}/previous") if os.path.islink(f"{base}/previous") else "",
        "releases": sorted(os.listdir(f"{base}/releases")),
        "listing": listing(base),
        "migrated": with_migrated,
        "packages": packages(f"{base}/current/venv"),
        "main_pid": subprocess.check_output(["systemctl", "show", "-p", "MainPID", "--value", app], text=True).strip(),
        "active": subprocess.run(["systemctl", "is-active", app], capture_output=True, text=True, check=False).stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default="fasterapi", help="the app's name: its unit and /opt/APP (default: %(default)s)")
    parser.add_argument("--url", default="http://127.0.0.1:8000/version", help="where the app says its version (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=30, help="how many fresh requests to send (default: %(default)s)")
    args = parser.parse_args()
    print(json.dumps(look(args.app, args.url, args.requests)))


if __name__ == "__main__":
    main()
