"""What the host itself shows of each app named on the command line, as JSON, for the status tests (default scenario)."""

import json
import os
import subprocess
import sys


def show(unit: str, prop: str) -> str:
    return subprocess.run(["systemctl", "show", f"--property={prop}", "--value", unit], capture_output=True, text=True, check=False).stdout.strip()


def look(app: str) -> dict:
    base = f"/opt/{app}"
    master = int(show(app, "MainPID"))
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False).stdout.split() if master else []
    security = subprocess.run(["systemd-analyze", "security", "--no-pager", f"{app}.service"], capture_output=True, text=True, check=False).stdout
    return {
        "active": show(app, "ActiveState"),
        "main_pid": master,
        "workers": sorted(int(pid) for pid in children),
        "current": os.path.basename(os.readlink(f"{base}/current")),
        "previous": os.path.basename(os.readlink(f"{base}/previous")) if os.path.islink(f"{base}/previous") else "",
        "releases": sorted(os.listdir(f"{base}/releases")),
        "restart_pending": os.path.exists(f"/etc/{app}/.restart-pending"),
        "exposure": security.strip().splitlines()[-1] if security.strip() else "",
    }


print(json.dumps({app: look(app) for app in sys.argv[1:]}))
