"""Make the sample app's versions for the Molecule scenarios, on the controller.

Each ``DIR=VERSION`` argument makes ``APPS/DIR``: a copy of the sample app
(tests/sample_app) whose VERSION file says VERSION. Options change some of
them: ``--break-import DIR`` makes its main.py import a module that does not
exist, ``--fail-startup DIR`` makes its lifespan startup fail (the sample app
reads a FAIL_STARTUP file), ``--fault DIR=JSON`` writes its FAULT file (the sample app's injected
errors or delay, for canary tests), and ``--requirements DIR=LINE`` writes its
requirements.txt (one line; repeat the option for more).

A file is written only when its content differs, so a second run changes
nothing. Prints the JSON list of the files written.

It replaces loops of ``ansible.builtin.copy`` over a directory: 15 versions
of 4 files took 58 s of a CI run that way (one module run a file), and well
under a second this way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Sequence

BROKEN_IMPORT = "import module_that_does_not_exist"
# The sample app's first statement: the broken import goes right after it.
FUTURE = "from __future__ import annotations"
FAIL_STARTUP = "startup fails on purpose\n"


def _pairs(values: Sequence[str], what: str) -> List[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or "/" in name or name in (".", ".."):
            raise SystemExit(f"make_app_versions: {what} {value!r} is not NAME=VALUE with a plain directory name")
        pairs.append((name, rest))
    return pairs


def _write(path: Path, content: bytes, written: List[str]) -> None:
    if path.is_file() and path.read_bytes() == content:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, 0o644)
    written.append(str(path))


def _sample_files(sample: Path) -> Dict[str, bytes]:
    """Every file of SAMPLE (relative path -> content), without caches."""
    files = {}
    for path in sorted(sample.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[str(path.relative_to(sample))] = path.read_bytes()
    return files


def with_broken_import(main: bytes) -> bytes:
    """MAIN with an import of a missing module after its __future__ import (once)."""
    lines = main.decode("utf-8").split("\n")
    if BROKEN_IMPORT in lines:
        return main
    if FUTURE not in lines:
        raise SystemExit(f"make_app_versions: the sample's main.py has no line {FUTURE!r} to put the broken import after")
    at = lines.index(FUTURE) + 1
    return "\n".join(lines[:at] + [BROKEN_IMPORT] + lines[at:]).encode("utf-8")


def make(apps: Path, sample: Path, versions: Sequence[tuple[str, str]], break_import: Sequence[str] = (),
         fail_startup: Sequence[str] = (), requirements: Sequence[tuple[str, str]] = (),
         faults: Sequence[tuple[str, str]] = ()) -> List[str]:
    """Make each version's directory under APPS; the files written."""
    names = [name for name, _version in versions]
    for name in list(break_import) + list(fail_startup) + [name for name, _line in requirements] + [name for name, _f in faults]:
        if name not in names:
            raise SystemExit(f"make_app_versions: {name} is not one of the versions made ({', '.join(names)})")
    wanted: Dict[str, List[str]] = {}
    for name, line in requirements:
        wanted.setdefault(name, []).append(line)
    sample_files = _sample_files(sample)
    written: List[str] = []
    for name, version in versions:
        top = apps / name
        for relative, content in sample_files.items():
            if relative == "main.py" and name in break_import:
                content = with_broken_import(content)
            elif relative == "requirements.txt" and name in wanted:
                content = "".join(line + "\n" for line in wanted[name]).encode("utf-8")
            elif relative == "VERSION":
                content = f"{version}\n".encode("utf-8")
            _write(top / relative, content, written)
        if name in wanted and "requirements.txt" not in sample_files:
            _write(top / "requirements.txt", "".join(line + "\n" for line in wanted[name]).encode("utf-8"), written)
        if "VERSION" not in sample_files:
            _write(top / "VERSION", f"{version}\n".encode("utf-8"), written)
        fault = top / "FAULT"
        if name in dict(faults):
            _write(fault, (json.dumps(json.loads(dict(faults)[name]), sort_keys=True) + "\n").encode("utf-8"), written)
        elif fault.exists():
            fault.unlink()
            written.append(str(fault))
        startup = top / "FAIL_STARTUP"
        if name in fail_startup:
            _write(startup, FAIL_STARTUP.encode("utf-8"), written)
        elif startup.exists():
            startup.unlink()
            written.append(str(startup))
    return written


def main(argv: Sequence[str] = tuple(sys.argv[1:])) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("apps", type=Path, help="the directory to make the versions in")
    parser.add_argument("versions", nargs="+", metavar="DIR=VERSION", help="a version to make, e.g. v1=1.0.1")
    parser.add_argument("--sample", type=Path, default=Path(__file__).resolve().parents[1] / "sample_app",
                        help="the app to copy (default: tests/sample_app)")
    parser.add_argument("--break-import", action="append", default=[], metavar="DIR", help="a version whose import fails")
    parser.add_argument("--fail-startup", action="append", default=[], metavar="DIR", help="a version whose startup fails")
    parser.add_argument("--fault", action="append", default=[], metavar="DIR=JSON", help="a version's FAULT file, e.g. v9={\"delay\": 0.2}")
    parser.add_argument("--requirements", action="append", default=[], metavar="DIR=LINE", help="a line of a version's requirements.txt")
    args = parser.parse_args(argv)
    if not (args.sample / "main.py").is_file():
        raise SystemExit(f"make_app_versions: {args.sample} has no main.py")
    written = make(args.apps, args.sample, _pairs(args.versions, "version"), args.break_import, args.fail_startup,
                   _pairs(args.requirements, "requirement"), _pairs(args.fault, "fault"))
    print(json.dumps(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
