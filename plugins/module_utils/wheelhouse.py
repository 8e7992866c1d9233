# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A wheelhouse for hosts that reach no package index: the wheels of a lock for one target.

On a builder that reaches the index (the controller), a release's lock
(exact versions with the hashes of every platform's files) is narrowed to
one target, a Python version on a glibc and CPU, by ``uv pip compile
--python-platform``; pip downloads those wheels (binary only) for the
target's tags, and every downloaded file's sha256 must be one of the
lock's, so the hosts install exactly what an online host installs.

Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
import tempfile
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_VERSION = re.compile(r"^\d+\.\d+$")
_GLIBC = re.compile(r"^2\.(\d+)$")
# The CPUs uv can narrow a lock for (--python-platform <machine>-manylinux_2_N).
MACHINES = ("x86_64", "aarch64")
# The manylinux_2_N uv 0.13 knows as a --python-platform (it refuses 2_41, Debian 13's glibc).
UV_MANYLINUX = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)


class WheelhouseError(Exception):
    """A step failed; the message names it, ``output`` holds what the command said."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def check_target(python_version: str, machine: str, glibc: str) -> None:
    """Raise WheelhouseError unless the target is one pip and uv have tags for."""
    if not _VERSION.match(python_version):
        raise WheelhouseError("python_version %r is not MAJOR.MINOR" % python_version)
    if machine not in MACHINES:
        raise WheelhouseError("machine %r is none of %s" % (machine, ", ".join(MACHINES)))
    if not _GLIBC.match(glibc):
        raise WheelhouseError("glibc %r is not a glibc 2.x version (musl hosts are not supported)" % glibc)


def target_name(python_version: str, machine: str, glibc: str) -> str:
    """A directory name for the target, like cp311-manylinux_2_36_x86_64."""
    return "cp%s-manylinux_%s_%s" % (python_version.replace(".", ""), glibc.replace(".", "_"), machine)


def uv_platform(machine: str, glibc: str) -> str:
    """uv's --python-platform for the host: the newest manylinux_2_N uv knows that the host's glibc runs."""
    minor = int(_GLIBC.match(glibc).group(1)) if _GLIBC.match(glibc) else 17
    return "%s-manylinux_2_%d" % (machine, max([m for m in UV_MANYLINUX if m <= minor] or [UV_MANYLINUX[0]]))


def platform_tags(machine: str, glibc: str) -> List[str]:
    """pip's --platform values a host with this glibc and CPU installs: manylinux_2_N down to 2_5, and the legacy aliases."""
    newest = int(_GLIBC.match(glibc).group(1)) if _GLIBC.match(glibc) else 17
    tags = ["manylinux_2_%d_%s" % (minor, machine) for minor in range(newest, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags += ["%s_%s" % (name, machine) for minor, name in sorted(legacy.items(), reverse=True) if minor <= newest]
    return tags + ["linux_%s" % machine]


def lock_hashes(lock: str) -> Dict[str, str]:
    """Every sha256 in LOCK, mapped to the requirement line it belongs to."""
    found: Dict[str, str] = {}
    requirement = ""
    for line in lock.splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith("#"):
            requirement = line.split(";")[0].split("\\")[0].strip()
        for digest in _HASH.findall(line):
            found[digest] = requirement
    return found


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(what: str, argv: Sequence[str], environment: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(list(argv), env=dict(os.environ, **environment), capture_output=True, text=True, check=False)
    except OSError as err:
        raise WheelhouseError("%s failed: %s: %s" % (what, argv[0], err.strerror)) from err
    if done.returncode != 0:
        raise WheelhouseError("%s failed (exit status %d)" % (what, done.returncode), (done.stdout + "\n" + done.stderr).strip())
    return done.stdout


def build(dest: str, lock: str, python_version: str, machine: str, glibc: str, uv: str, pip_python: str,
          extra: Sequence[str] = (), environment: Optional[Mapping[str, str]] = None) -> Dict[str, List[str]]:
    """Put the wheels of LOCK (and of EXTRA, unhashed requirements such as uv itself) for the target into DEST.

    Returns the wheels the lock's target set needs (``wheels``) and those
    downloaded now (``downloaded``; a wheel already in DEST is kept).
    """
    check_target(python_version, machine, glibc)
    environment = dict(environment or {})
    os.makedirs(dest, mode=0o755, exist_ok=True)
    before = set(os.listdir(dest))
    tags = [arg for tag in platform_tags(machine, glibc) for arg in ("--platform", tag)]
    download = [pip_python, "-m", "pip", "download", "--disable-pip-version-check", "--no-input", "--no-deps",
                "--only-binary=:all:", "--python-version", python_version, "--implementation", "cp",
                "--abi", "cp" + python_version.replace(".", ""), "--abi", "abi3", "--abi", "none", "--dest", dest] + tags
    wanted: List[str] = []
    if lock.strip():
        with tempfile.TemporaryDirectory(prefix="fasterapi-wheelhouse-") as scratch:
            universal = os.path.join(scratch, "requirements.lock")
            with open(universal, "w", encoding="utf-8") as handle:
                handle.write(lock)
            pins = _run("narrowing the lock to %s" % target_name(python_version, machine, glibc),
                        [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--python-platform",
                         uv_platform(machine, glibc), "--python-version", python_version, universal],
                        environment)
            wanted = [line.strip() for line in pins.splitlines() if line.strip() and not line.startswith(("#", " "))]
            target = os.path.join(scratch, "target.txt")
            with open(target, "w", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in wanted))
            _run("downloading the wheels (pip download)", download + ["--requirement", target], environment)
    if extra:
        _run("downloading %s (pip download)" % ", ".join(extra), download + list(extra), environment)
    after = set(os.listdir(dest))
    if lock.strip():
        known = lock_hashes(lock)
        for name in sorted(after - before):
            if name.endswith(".whl") and not _belongs_to(name, extra) and sha256(os.path.join(dest, name)) not in known:
                os.unlink(os.path.join(dest, name))
                raise WheelhouseError("%s is not a file the lock names (its sha256 is none of the lock's hashes)" % name)
    return {"wheels": sorted(after), "downloaded": sorted(after - before), "requirements": wanted}


def bundle(dest: str, host_has: Sequence[str]) -> Tuple[str, List[str]]:
    """Pack the files of DEST that the host lacks (not named in HOST_HAS) into one new tar file.

    One archive goes to the host in one transfer, where copying a directory
    costs a stat, a transfer and a module run per file. Members are owned by
    root, mode 0644, at the top of the archive. Returns the archive's path
    and the names in it; ("", []) when the host lacks nothing.
    """
    has = set(host_has)
    missing = sorted(name for name in os.listdir(dest) if name not in has and os.path.isfile(os.path.join(dest, name)))
    if not missing:
        return "", []
    handle, path = tempfile.mkstemp(prefix="fasterapi-wheels-", suffix=".tar")
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            for name in missing:
                info = tar.gettarinfo(os.path.join(dest, name), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = 0o644
                with open(os.path.join(dest, name), "rb") as member:
                    tar.addfile(info, member)
    except BaseException:
        os.unlink(path)
        raise
    return path, missing


def _belongs_to(wheel: str, requirements: Sequence[str]) -> bool:
    project = re.sub(r"[-_.]+", "-", wheel.split("-")[0]).lower()
    return any(re.sub(r"[-_.]+", "-", re.split(r"[=<>!~\[ ;]", r, maxsplit=1)[0]).lower() == project for r in requirements)
