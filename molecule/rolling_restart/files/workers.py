"""The workers an app's master runs now, and with --journal-cursor where the unit's journal stands.

Prints one JSON object: ``workers`` (the PIDs of the children of the unit's
MainPID, as pgrep prints them: strings) and, with --journal-cursor,
``cursor`` (the cursor of the unit's journal now, for journalctl
--after-cursor). Fails, as pgrep does, when the master has no child.
"""

import argparse
import json
import subprocess
import sys


def journal_cursor(unit: str) -> str:
    """The cursor of UNIT's journal at its end."""
    shown = subprocess.run(["journalctl", "--unit", unit, "--lines", "0", "--show-cursor", "--quiet"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return shown.removeprefix("-- cursor: ")


def workers(unit: str) -> list[str]:
    """The children of UNIT's main PID (exit 1 when there are none, as pgrep does)."""
    master = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", unit], capture_output=True, text=True, check=False).stdout.strip()
    found = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        sys.exit(f"pgrep -P {master!r}: exit {found.returncode} {found.stderr.strip()}")
    return found.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unit", default="fasterapi", help="the app's unit (default: %(default)s)")
    parser.add_argument("--journal-cursor", action="store_true", help="say where the unit's journal stands too")
    args = parser.parse_args()
    # The cursor first, as before: the journal's end before the workers are read.
    shown: dict[str, object] = {"cursor": journal_cursor(args.unit)} if args.journal_cursor else {}
    shown["workers"] = workers(args.unit)
    print(json.dumps(shown))


if __name__ == "__main__":
    main()
