"""List an app's gunicorn processes (pid and parent) and its runtime directory.

Prints one JSON object: ``processes`` (``"PID:PPID"`` of each process of
--user whose command line matches --pattern, as pgrep and ps find them; so a
verifier can tell workers from a leftover master) and ``runtime_dir`` (the
names in --runtime-dir, hidden ones too, sorted). Fails when --runtime-dir
does not exist.
"""

import argparse
import json
import os
import subprocess


def processes(user: str, pattern: str) -> list[str]:
    """"PID:PPID" of each process of USER whose full command line matches PATTERN (none: [])."""
    pids = subprocess.run(["pgrep", "-d,", "-u", user, "-f", pattern], capture_output=True, text=True, check=False).stdout.strip()
    if not pids:
        return []
    listed = subprocess.run(["ps", "-o", "pid=,ppid=", "-p", pids], capture_output=True, text=True, check=False).stdout
    return [":".join(line.split()) for line in listed.splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", default="fasterapi", help="the app's user (default: %(default)s)")
    parser.add_argument("--pattern", default="gunicorn --config", help="what their command lines match (default: %(default)s)")
    parser.add_argument("--runtime-dir", default="/run/fasterapi", help="the app's runtime directory (default: %(default)s)")
    args = parser.parse_args()
    print(json.dumps({"processes": processes(args.user, args.pattern), "runtime_dir": sorted(os.listdir(args.runtime_dir))}))


if __name__ == "__main__":
    main()
