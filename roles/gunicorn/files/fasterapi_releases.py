"""The releases of one app on a host, for the fasterapi.deploy.gunicorn role.

The role runs this file's text with ``python3 -c`` (nothing to install
first), as one round trip each:

  state BASE CONFIG UV   where current and previous point, the built releases
                         (those with release.json) newest first, whether
                         CONFIG exists and UV is executable
  prune BASE KEEP        remove every release but the KEEP newest built ones
                         and those current and previous point to (an
                         interrupted build, without release.json, goes too)

Each prints JSON. Releases live in BASE/releases; current and previous are
symlinks in BASE. Standard library only, Python 3.9+ (the hosts' python3).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any


def target(link: str) -> str:
    """The release a symlink points to (its last path component), or "" when it is not a symlink."""
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def built_releases(releases: str) -> list[str]:
    """Releases whose release.json exists, newest build first."""
    built = []
    if os.path.isdir(releases):
        for name in os.listdir(releases):
            marker = os.path.join(releases, name, "release.json")
            if os.path.isfile(marker):
                built.append((os.stat(marker).st_mtime, name))
    return [name for _, name in sorted(built, reverse=True)]


def state(base: str, config: str, uv: str) -> dict[str, Any]:
    """What the role needs to know before it builds or switches a release."""
    return {"current": target(os.path.join(base, "current")),
            "previous": target(os.path.join(base, "previous")),
            "built": built_releases(os.path.join(base, "releases")),
            "config": os.path.isfile(config), "uv": os.access(uv, os.X_OK)}


def prune(base: str, keep: int) -> list[str]:
    """Remove the releases beyond the KEEP newest, never current or previous; return the removed names."""
    releases = os.path.join(base, "releases")
    kept = set(built_releases(releases)[:keep])
    kept |= {target(os.path.join(base, "current")), target(os.path.join(base, "previous"))}
    removed = sorted(name for name in os.listdir(releases) if name not in kept)
    for name in removed:
        shutil.rmtree(os.path.join(releases, name))
    return removed


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "state":
        print(json.dumps(state(argv[1], argv[2], argv[3])))
        return 0
    if len(argv) == 3 and argv[0] == "prune" and argv[2].isdigit():
        print(json.dumps(prune(argv[1], int(argv[2]))))
        return 0
    print("usage: state BASE CONFIG UV | prune BASE KEEP", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
