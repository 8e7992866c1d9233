"""Stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test creates each sanity and unit test venv without pip and fetches
get-pip.py from a host of its own to put pip in; that host may not be
reachable from here. tests/harness/ansible-test.sh copies this file to where
ansible-test caches the script. It does the same from the package index:
ensurepip, then `pip install` of the packages ansible-test asks for
(`pip==<version>`), without setuptools and wheel unless asked.
"""

from __future__ import annotations

import subprocess
import sys

OWN_OPTIONS = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def run_quietly(*args: str) -> None:
    """Run python ARGS; show its output only when it fails."""
    done = subprocess.run([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    if done.returncode:
        sys.stdout.write(done.stdout)
        raise SystemExit(done.returncode)


def main() -> int:
    args = sys.argv[1:]
    run_quietly("-m", "ensurepip", "--default-pip")
    run_quietly("-m", "pip", "install", "--disable-pip-version-check", *[a for a in args if a not in OWN_OPTIONS])
    unwanted = [package for option, package in OWN_OPTIONS.items() if option in args]
    if unwanted:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *unwanted],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
