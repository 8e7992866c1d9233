"""Look at an app's sockets and units: who answers on its ports, and whether systemd listens.

Prints one JSON object: ``main`` (systemd's main PID of --unit), ``answers_from``
(for each --ports port, the ``ppid`` the app's /version answered with, i.e. its
master), ``socket_unit_file`` (whether /etc/systemd/system/UNIT.socket exists)
and ``systemd_listens`` (whether ``ss`` shows systemd among the listeners on
--systemd-port).
"""

import argparse
import json
import os
import subprocess
import urllib.request
from typing import Any


def answer(port: int) -> int:
    """The ppid that http://127.0.0.1:PORT/version answers with."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5) as response:
        return json.load(response)["ppid"]


def look(unit: str, ports: list[int], systemd_port: int) -> dict[str, Any]:
    """The unit's main PID, who answers on PORTS, its socket unit file, and whether systemd listens on SYSTEMD_PORT."""
    main = int(subprocess.check_output(["systemctl", "show", "--property=MainPID", "--value", unit]))
    listeners = subprocess.check_output(["ss", "-Hltnp"], text=True)
    return {"main": main, "answers_from": [answer(port) for port in ports],
            "socket_unit_file": os.path.exists(f"/etc/systemd/system/{unit}.socket"),
            "systemd_listens": "systemd" in "".join(line for line in listeners.splitlines() if f":{systemd_port} " in line)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unit", default="sockapp", help="the app's unit, without .service (default: %(default)s)")
    parser.add_argument("--ports", type=int, nargs="+", default=[8100, 81], help="ports on 127.0.0.1 to ask /version (default: %(default)s)")
    parser.add_argument("--systemd-port", type=int, default=8100, help="the port whose listeners are looked at (default: %(default)s)")
    args = parser.parse_args()
    print(json.dumps(look(args.unit, args.ports, args.systemd_port)))


if __name__ == "__main__":
    main()
