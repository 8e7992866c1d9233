# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""An app's own hashed lock: read it, check it against the index, and add the collection's packages to it.

An app that ships a requirements file with ``--hash`` options (``pip-compile
--generate-hashes``, ``uv pip compile --generate-hashes``, ``uv export``)
has chosen every file it runs. Such a lock is installed as it is, never
resolved again: each of its requirements must be pinned (``name==version``)
and hashed, each hash must name a file of that version on the index, and it
must name every package its packages need. The collection's own packages
(gunicorn, uvicorn, uvicorn-worker, and the role's extra requirements) are
resolved against the lock's pins and appended, pinned and hashed too.

The checks read what ``uv pip compile --generate-hashes`` says about the
lock's pins (every file of each pinned version, whatever the platform):
pure functions here, the commands in releases.py. Standard library only.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

_HASH = re.compile(r"--hash[=\s]+(\S+)")
_DIRECT = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*@\s*\S+")
_PIN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*==\s*([^\s;=*]+)\s*(?:;\s*(.+?))?\s*$")
# Options a hashed lock may carry: where packages come from, and how.
_KEPT_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--no-index", "--prefer-binary",
                 "--only-binary", "--no-binary", "--trusted-host")
ADDED = "# Added by fasterapi.deploy: the collection's packages and what they need, not in the app's lock, pinned and hashed."


class LockError(Exception):
    """The app's lock cannot be installed as it is; the message names the file and the package."""


def canonical(name: str) -> str:
    """A project name as the index knows it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text: str) -> List[str]:
    """TEXT's requirement lines, continuations joined and comments removed."""
    lines: List[str] = []
    pending = ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


class Pin:
    """One requirement of a lock: name==version, its extras, markers and hashes."""

    def __init__(self, name: str, extras: str, version: str, markers: str, hashes: Sequence[str]) -> None:
        self.name = name
        self.key = canonical(name)
        self.extras = extras
        self.version = version
        self.markers = markers
        self.hashes = list(hashes)

    def requirement(self, extras: bool = True) -> str:
        """The pin without its hashes (for a resolver's input or constraints)."""
        text = "%s%s==%s" % (self.name, self.extras if extras else "", self.version)
        return text + (" ; " + self.markers if self.markers else "")


def is_hashed(text: str) -> bool:
    """Whether requirements TEXT pins hashes (pip then installs it in hash-checking mode)."""
    return bool(_HASH.search(text))


def parse(text: str, where: str) -> Tuple[List[Pin], List[str]]:
    """The pins of a hashed lock and the option lines it keeps; LockError naming WHERE and the package otherwise."""
    pins: List[Pin] = []
    options: List[str] = []
    for line in logical_lines(text):
        hashes = _HASH.findall(line)
        spec = _HASH.sub("", line).strip()
        if spec.startswith("-"):
            option = re.split(r"[=\s]", spec, maxsplit=1)[0]
            if option not in _KEPT_OPTIONS:
                raise LockError("%s has %r, which a hashed lock cannot hold (only pinned, hashed packages and index options%s)"
                                % (where, spec, "; export it with --no-emit-project" if option in ("-e", "--editable") else ""))
            options.append(spec)
            continue
        found = _PIN.match(spec)
        if not found:
            raise LockError("%s: %r is not pinned to one version (name==version), which a hashed lock needs" % (where, spec))
        name, extras, version, markers = found.group(1), found.group(2) or "", found.group(3), found.group(4) or ""
        if not hashes:
            raise LockError("%s: %s==%s has no --hash; in a hashed lock every package needs one" % (where, name, version))
        pins.append(Pin(name, extras, version, markers, hashes))
    return pins, options


def parse_compiled(text: str) -> Tuple[List[Pin], Dict[str, List[str]]]:
    """The pins of ``uv pip compile --generate-hashes`` output, and for each package what needs it (its ``# via``)."""
    pins: List[Pin] = []
    via: Dict[str, List[str]] = {}
    current = ""
    in_via = False
    for raw in text.splitlines():
        stripped = raw.strip()
        if raw and not raw[0].isspace() and not stripped.startswith("#"):
            in_via = False
        if stripped.startswith("# via"):
            rest = stripped[len("# via"):].strip()
            in_via = not rest
            if rest and current:
                via.setdefault(current, []).append(rest)
            continue
        if in_via and stripped.startswith("#"):
            if current:
                via.setdefault(current, []).append(stripped.lstrip("#").strip())
            continue
        if raw and not raw[0].isspace() and not stripped.startswith(("#", "-")):
            found = _PIN.match(_HASH.sub("", stripped.rstrip("\\")).strip())
            if found:
                current = canonical(found.group(1))
    for line in logical_lines(text):
        found = _PIN.match(_HASH.sub("", line).strip())
        if found:
            pins.append(Pin(found.group(1), found.group(2) or "", found.group(3), found.group(4) or "", _HASH.findall(line)))
    return pins, via


def check(pins: Sequence[Pin], compiled: str, where: str) -> None:
    """Refuse a lock whose hashes name no file on the index, or that leaves out a package its packages need.

    COMPILED is ``uv pip compile --generate-hashes`` of the lock's pins,
    constrained to them: every file of each pinned version, and the
    packages they need.
    """
    index_pins, via = parse_compiled(compiled)
    on_index: Dict[Tuple[str, str], Set[str]] = {}
    for pin in index_pins:
        on_index.setdefault((pin.key, pin.version), set()).update(pin.hashes)
    named = {pin.key for pin in pins}
    for pin in index_pins:
        if pin.key not in named:
            needed_by = [name for name in via.get(pin.key, []) if canonical(name) in named]
            raise LockError("%s does not name %s, which %s needs (%s==%s); a hashed lock must name every package it installs"
                            % (where, pin.name, ", ".join(needed_by) or "the lock", pin.name, pin.version))
    for pin in pins:
        files = on_index.get((pin.key, pin.version))
        if files is None:
            continue  # its markers hold for no Python this release supports
        for digest in pin.hashes:
            if digest not in files:
                raise LockError("%s: the hash %s of %s==%s matches none of the %d files of %s %s on the index (a tampered or "
                                "stale lock)" % (where, digest, pin.name, pin.version, len(files), pin.name, pin.version))


def additions(pins: Sequence[Pin], compiled: str) -> List[Pin]:
    """The packages of COMPILED (the collection's own, resolved against the lock's pins) that the lock does not name."""
    named = {pin.key for pin in pins}
    return [pin for pin in parse_compiled(compiled)[0] if pin.key not in named]


def merged(text: str, added: Sequence[Pin]) -> str:
    """The app's lock TEXT as it is, then the pins ADDED with their hashes."""
    if not added:
        return text if text.endswith("\n") else text + "\n"
    lines = [text.rstrip("\n"), "", ADDED]
    for pin in added:
        lines.append(" \\\n".join([pin.requirement()] + ["    --hash=%s" % digest for digest in pin.hashes]))
    return "\n".join(lines) + "\n"


def origin(lock: str, requirements: Optional[str]) -> str:
    """Where a release's LOCK came from: ``app`` (the app's hashed lock REQUIREMENTS, plus the collection's packages) or ``resolved``."""
    if requirements is not None and is_hashed(requirements) and lock.startswith(requirements.rstrip("\n")):
        return "app"
    return "resolved"


def direct_references(text: str) -> Set[str]:
    """The canonical names of TEXT's requirements by path or URL: ``name @ url``, or a wheel file's path (the app's own)."""
    found = set()
    for line in logical_lines(text):
        spec = _HASH.sub("", line).strip()
        match = _DIRECT.match(spec)
        if match:
            found.add(canonical(match.group(1)))
        elif spec.split(";")[0].strip().endswith(".whl"):
            # A wheel's file name begins with its project (separators as _) and version.
            found.add(canonical(spec.split(";")[0].strip().rsplit("/", 1)[-1].split("-")[0]))
    return found


def unexpected(installed: Sequence[str], lock: str, bootstrap: Sequence[str] = ()) -> List[str]:
    """The name==version INSTALLED that LOCK does not pin (BOOTSTRAP: names a new venv brings, allowed when not pinned).

    A ``name @ url`` requirement of the lock (the app's own wheel) allows that name at its version.
    """
    pinned = {(canonical(pin.name), pin.version) for pin in parse_compiled(lock)[0]}
    direct = direct_references(lock)
    names = {key for key, _version in pinned} | direct
    allowed = {canonical(name) for name in bootstrap}
    found = []
    for line in installed:
        name, version = line.split("==", 1) if "==" in line else (line, "")
        key = canonical(name)
        if (key, version) in pinned or key in direct or (key in allowed and key not in names):
            continue
        found.append(line)
    return found
