"""Request a path of the app that raises, several times, and look at its processes before and after.

Prints one JSON object: ``statuses`` (the HTTP status of each request to
BASE/raise), ``health`` (the status of BASE/health afterwards),
``master_before`` and ``master_after`` (systemd's main PID of --unit) and
``workers_before`` and ``workers_after`` (the master's children, sorted).
It uses main_pid and children of tests/tools/disrupt.py, found in --tools.
"""

import argparse
import importlib
import json
import sys
import urllib.error
import urllib.request
from typing import Any


def run(tools: str, unit: str, base: str, requests: int) -> dict[str, Any]:
    """The statuses of REQUESTS requests to BASE/raise, /health's status, and the unit's processes around them."""
    sys.path.insert(0, tools)
    disrupt = importlib.import_module("disrupt")
    master = disrupt.main_pid(unit)
    workers = sorted(disrupt.children(master))
    statuses: list[int] = []
    for _request in range(requests):
        try:
            with urllib.request.urlopen(f"{base}/raise", timeout=5):
                pass
            statuses.append(200)
        except urllib.error.HTTPError as err:
            statuses.append(err.code)
    with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
        health = response.status
    return {"statuses": statuses, "health": health, "master_before": master, "master_after": disrupt.main_pid(unit),
            "workers_before": workers, "workers_after": sorted(disrupt.children(disrupt.main_pid(unit)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools", default="/root", help="the directory of disrupt.py and loadgen.py (default: %(default)s)")
    parser.add_argument("--unit", default="fasterapi", help="the app's systemd unit (default: %(default)s)")
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="the app's URL, without a path (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=20, help="how many requests to BASE/raise (default: %(default)s)")
    args = parser.parse_args()
    print(json.dumps(run(args.tools, args.unit, args.base, args.requests)))


if __name__ == "__main__":
    main()
