"""Make an app's own hashed lock from a lock the role resolved, as an app team would ship one.

Reads LOCK (a release's requirements.lock: ``uv pip compile --universal
--generate-hashes`` output), leaves out the entries named by --drop (the
collection's own packages, which the role adds back) and writes the rest to
OUT. For the refusals the role must make, --tamper NAME changes the last
hex digit of NAME's first hash, and --leave-out NAME removes NAME too (a
package another one needs). A name that is not in the lock is an error
(exit 2): the test would prove nothing. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Dict, List


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(text: str) -> Dict[str, List[str]]:
    """The lock's entries by canonical name, each as its lines (the requirement, its hashes, its comments)."""
    found: Dict[str, List[str]] = {}
    current = ""
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = canonical(re.split(r"[=<>!~\[ ;]", line, maxsplit=1)[0])
            found[current] = []
        if current:
            found[current].append(line)
    return found


def tampered(lines: List[str]) -> List[str]:
    """LINES with the last hex digit of the first hash changed."""
    out = list(lines)
    for number, line in enumerate(out):
        found = re.search(r"--hash=sha256:[0-9a-f]{64}", line)
        if found:
            end = found.end() - 1
            digit = "0" if line[end] != "0" else "1"
            out[number] = line[:end] + digit + line[end + 1:]
            return out
    raise ValueError("no sha256 hash")


def make(text: str, drop: List[str], tamper: str = "", leave_out: str = "") -> str:
    """The app's lock made from the role's lock TEXT (see the module's docstring)."""
    found = entries(text)
    wanted = [canonical(name) for name in drop + ([tamper] if tamper else []) + ([leave_out] if leave_out else [])]
    missing = [name for name in wanted if name not in found]
    if missing:
        raise KeyError(", ".join(missing))
    out = ["# The app's lock: its packages, pinned and hashed (made by tests/tools/make_app_lock.py)."]
    for key, lines in found.items():
        if key in [canonical(name) for name in drop] or key == canonical(leave_out):
            continue
        out += tampered(lines) if key == canonical(tamper) else lines
    return "\n".join(out) + "\n"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lock", help="the role's lock to start from")
    parser.add_argument("out", help="where to write the app's lock")
    parser.add_argument("--drop", nargs="*", default=["gunicorn", "uvicorn", "uvicorn-worker"],
                        help="packages to leave out, which the role adds (default: %(default)s)")
    parser.add_argument("--tamper", default="", help="a package whose first hash to change")
    parser.add_argument("--leave-out", default="", help="a package to leave out that another one needs")
    args = parser.parse_args(argv)
    with open(args.lock, encoding="utf-8") as handle:
        text = handle.read()
    try:
        made = make(text, args.drop, args.tamper, args.leave_out)
    except (KeyError, ValueError) as err:
        print("make_app_lock: not in %s: %s" % (args.lock, err), file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(made)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
