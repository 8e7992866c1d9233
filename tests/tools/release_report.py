"""Print, as JSON, what each release of an app on this host holds: its packages as
`uv pip freeze` lists them, its release.json, and its lock with the lock's mode.

    release_report.py BASE_DIR UV
    release_report.py --git-app BASE_DIR CONFIG_DIR

The second form says what an app deployed from git holds: which version
answers, whether its current release has a submodule's file and any .git
entry, and the deploy key's mode.

Standard library only (it runs on a test host).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

LOCK = "requirements.lock"


def report(base: str, uv: str) -> Dict[str, Any]:
    """Each release under BASE/releases: freeze (uv pip freeze), release (release.json), lock and lock_mode."""
    found: Dict[str, Any] = {}
    for release in sorted(glob.glob(os.path.join(base, "releases", "*"))):
        python = os.path.join(release, "venv", "bin", "python")
        lock = os.path.join(release, LOCK)
        entry: Dict[str, Any] = {"freeze": [], "release": None, "lock": None, "lock_mode": None}
        if os.path.exists(python):
            entry["freeze"] = subprocess.run([uv, "pip", "freeze", "--python", python], capture_output=True, text=True,
                                             check=True).stdout.split()
        if os.path.exists(os.path.join(release, "release.json")):
            with open(os.path.join(release, "release.json"), encoding="utf-8") as handle:
                entry["release"] = json.load(handle)
        if os.path.exists(lock):
            with open(lock, encoding="utf-8") as handle:
                entry["lock"] = handle.read()
            entry["lock_mode"] = oct(os.stat(lock).st_mode & 0o777)
        found[os.path.basename(release)] = entry
    return found


def git_app(base: str, config: str) -> Dict[str, Any]:
    """What the app in BASE deployed from git holds (an app that is not there: exists False)."""
    app = os.path.join(base, "current", "app")
    key = os.path.join(config, "git-deploy-key")
    found: Dict[str, Any] = {"exists": os.path.isdir(app)}
    if found["exists"]:
        found["version"] = open(os.path.join(app, "VERSION"), encoding="utf-8").read().strip()
        found["submodule_file"] = os.path.isfile(os.path.join(app, "vendor", "lib", "marker.txt"))
        found["git_entries"] = [os.path.join(top, name) for top, dirs, files in os.walk(app)
                                for name in dirs + files if name == ".git"]
        found["releases"] = sorted(os.listdir(os.path.join(base, "releases")))
    found["key_mode"] = oct(os.stat(key).st_mode & 0o777) if os.path.exists(key) else None
    return found


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "--git-app":
        print(json.dumps(git_app(args[1], args[2])))
        return
    if len(args) != 2:
        sys.exit(__doc__)
    print(json.dumps(report(args[0], args[1])))


if __name__ == "__main__":
    main()
