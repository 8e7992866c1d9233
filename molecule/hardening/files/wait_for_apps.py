"""Wait until each app answers /health after the host restarted, and say when it did.

Prints one JSON object: ``seconds`` (for each --ports port, the seconds from
SINCE, a Unix time such as the controller's when it ran ``docker restart``,
until the port first answered /health with 200; null when it did not within
--limit seconds of this program's start) and ``active`` (what
``systemctl is-active`` says of each --units unit).
"""

import argparse
import json
import subprocess
import time
import urllib.request


def answered(ports: list[int], since: float, limit: float) -> dict[int, float | None]:
    """For each port in turn, the seconds from SINCE until http://127.0.0.1:PORT/health answered 200."""
    started = time.monotonic()
    answered_at: dict[int, float | None] = {}
    for port in ports:
        answered_at[port] = None
        while answered_at[port] is None and time.monotonic() - started < limit:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        answered_at[port] = round(time.time() - since, 2)
            except OSError:
                time.sleep(0.05)
    return answered_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("since", type=float, help="the Unix time to count from")
    parser.add_argument("--ports", type=int, nargs="+", default=[8000, 8100], help="the apps' ports on 127.0.0.1 (default: %(default)s)")
    parser.add_argument("--units", nargs="+", default=["fasterapi.service", "sockapp.service", "sockapp.socket"],
                        help="the units to ask systemctl is-active about (default: %(default)s)")
    parser.add_argument("--limit", type=float, default=60, help="seconds to wait in all (default: %(default)s)")
    args = parser.parse_args()
    seconds = answered(args.ports, args.since, args.limit)
    state = {unit: subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, check=False).stdout.strip()
             for unit in args.units}
    print(json.dumps({"seconds": seconds, "active": state}))


if __name__ == "__main__":
    main()
