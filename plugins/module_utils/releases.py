# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The releases of one app on a host, for the fasterapi.deploy.gunicorn_release module.

A base directory holds ``releases/<name>/`` (``app/``, ``venv/`` and, once
the release is complete, ``release.json``) and two symlinks, ``current`` and
``previous``, each pointing to ``releases/<name>``. Links are replaced by a
rename, so a reader always sees the old or the new target.

Standard library only: this runs with the host's python3 (3.9 or later).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence

from ansible_collections.fasterapi.deploy.plugins.module_utils import app_lock

RELEASE_JSON = "release.json"
# The release's packages, resolved once with their hashes (uv pip compile).
LOCK = "requirements.lock"
# What `python -m venv` installs by itself.
_BOOTSTRAP = ("pip", "setuptools")
_PYTHON_VERSION = "import sys; print('%d.%d' % sys.version_info[:2])"
# The distributions installed in a venv, as name==version lines, sorted.
_FREEZE = ("import importlib.metadata as m, json; print(json.dumps(sorted({'%s==%s' % (d.metadata['Name'], d.version)"
           " for d in m.distributions() if d.metadata['Name']}, key=str.lower)))")


# What uv says when a pinned version is not on the index page it read.
_STALE_PAGE = "No solution found when resolving dependencies"


class ReleaseError(Exception):
    """A step of a release failed; the message names it, ``output`` holds what the command said."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def link_target(link: str) -> str:
    """The release a symlink points to (its last path component), or "" when it is not a symlink."""
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def built_releases(releases: str) -> List[str]:
    """Releases whose release.json exists, newest build first."""
    built = []
    if os.path.isdir(releases):
        for name in os.listdir(releases):
            marker = os.path.join(releases, name, RELEASE_JSON)
            if os.path.isfile(marker):
                built.append((os.stat(marker).st_mtime, name))
    return [name for _mtime, name in sorted(built, reverse=True)]


def unfinished_releases(releases: str) -> List[str]:
    """Directories under RELEASES without release.json (interrupted builds), sorted."""
    if not os.path.isdir(releases):
        return []
    return sorted(name for name in os.listdir(releases) if not os.path.isfile(os.path.join(releases, name, RELEASE_JSON)))


def read_state(base: str) -> Dict[str, Any]:
    """Where current and previous point, and the built releases, newest first."""
    return {"current": link_target(os.path.join(base, "current")),
            "previous": link_target(os.path.join(base, "previous")),
            "built": built_releases(os.path.join(base, "releases"))}


def _point(base: str, link: str, release: str) -> None:
    """Point BASE/LINK at releases/RELEASE by an atomic rename."""
    temporary = os.path.join(base, ".%s.tmp" % link)
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(os.path.join("releases", release), temporary)
    os.replace(temporary, os.path.join(base, link))


def _write_atomically(path: str, text: str, mode: int) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def plan_switch(base: str, release: str, previous: Optional[str] = None) -> Dict[str, str]:
    """The links after pointing current at RELEASE: previous becomes PREVIOUS, by default the release current left."""
    state = read_state(base)
    if state["current"] == release:
        return {"current": release, "previous": state["previous"]}
    if previous is None:
        previous = state["current"]
    return {"current": release, "previous": previous or state["previous"]}


def switch(base: str, release: str, previous: Optional[str] = None, restart_marker: str = "") -> Dict[str, Any]:
    """Point current at RELEASE and previous at the release it replaces (or PREVIOUS).

    The restart marker ("rolling", unless one is already owed) is written
    before current moves: a run that dies in between still owes the restart.
    Returns the links before and after, and whether anything changed.
    """
    before = read_state(base)
    if not os.path.isfile(os.path.join(base, "releases", release, RELEASE_JSON)):
        raise ReleaseError("release %s is not built in %s/releases" % (release, base))
    after = plan_switch(base, release, previous)
    changed = after["current"] != before["current"]
    if changed:
        if after["previous"] and after["previous"] != before["previous"]:
            _point(base, "previous", after["previous"])
        if restart_marker and not os.path.exists(restart_marker):
            _write_atomically(restart_marker, "rolling\n", 0o600)
        _point(base, "current", release)
    return {"changed": changed, "before": {"current": before["current"], "previous": before["previous"]}, "after": after}


def plan_prune(base: str, keep: int) -> List[str]:
    """The releases beyond the KEEP newest built ones, never current or previous (interrupted builds too)."""
    releases = os.path.join(base, "releases")
    if not os.path.isdir(releases):
        return []
    kept = set(built_releases(releases)[:keep])
    kept |= {link_target(os.path.join(base, "current")), link_target(os.path.join(base, "previous"))}
    return sorted(name for name in os.listdir(releases) if name not in kept)


def prune(base: str, keep: int) -> List[str]:
    """Remove what plan_prune names; return the removed names."""
    removed = plan_prune(base, keep)
    for name in removed:
        shutil.rmtree(os.path.join(base, "releases", name))
    return removed


def remove(path: str) -> None:
    """Remove the release directory PATH, as far as it exists."""
    shutil.rmtree(path, ignore_errors=True)


def prepare(path: str) -> None:
    """An empty release directory with an empty app/ (anything left there by an interrupted build goes)."""
    if os.path.lexists(path):
        shutil.rmtree(path)
    os.makedirs(os.path.join(path, "app"), mode=0o755)
    os.chmod(path, 0o755)
    os.chmod(os.path.join(path, "app"), 0o755)


def copy_tree(src: str, dest: str) -> int:
    """Copy the working tree SRC (a git checkout, submodules included) into DEST, leaving out every .git entry.

    Symbolic links are copied as links; special files are refused. Returns
    the number of files copied.
    """
    count = 0
    for top, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        target = os.path.join(dest, os.path.relpath(top, src))
        os.makedirs(target, exist_ok=True)
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            if name == ".git":
                continue
            origin, copy = os.path.join(top, name), os.path.join(target, name)
            if os.path.islink(origin):
                os.symlink(os.readlink(origin), copy)
            elif os.path.isfile(origin):
                shutil.copy2(origin, copy)
            else:
                raise ReleaseError("copying the code failed: %s is not a file, directory or link" % origin)
            count += 1
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
    return count


def _safe_member(member: "tarfile.TarInfo", dest: str) -> bool:
    """Whether MEMBER stays inside DEST: a relative name without "..", a plain file, directory or link (a
    symlink's target may point anywhere, as the code's own links do; a hard link must stay inside)."""
    parts = member.name.split("/")
    if member.name.startswith("/") or ".." in parts:
        return False
    if member.islnk():
        target = os.path.normpath(os.path.join(dest, member.linkname))
        return not member.linkname.startswith("/") and target.startswith(os.path.join(dest, ""))
    return member.isfile() or member.isdir() or member.issym()


def unpack(archive: str, dest: str) -> int:
    """Unpack the tar ARCHIVE (gzipped or not) into the directory DEST; return the number of members.

    Refuses (ReleaseError) an archive with a member that would land outside
    DEST or is a device or fifo, before anything is written.
    """
    dest = os.path.abspath(dest)
    try:
        with tarfile.open(archive) as packed:
            members = packed.getmembers()
            bad = [member.name for member in members if not _safe_member(member, dest)]
            if bad:
                raise ReleaseError("unpacking the code failed: %s would land outside the release or is no plain file"
                                   % ", ".join(bad[:5]))
            for member in members:
                packed.extract(member, dest, set_attrs=not member.issym())
    except (tarfile.TarError, OSError) as err:
        raise ReleaseError("unpacking the code failed: %s" % err) from err
    return len(members)


Runner = Callable[[Sequence[str], Dict[str, str]], "subprocess.CompletedProcess[str]"]


def run(argv: Sequence[str], environment: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
    """Run a command with ENVIRONMENT added to this one's, capturing its output."""
    try:
        return subprocess.run(list(argv), env=dict(os.environ, **environment), capture_output=True, text=True, check=False)
    except OSError as err:  # a missing or unusable executable: like a shell's exit 127
        return subprocess.CompletedProcess(list(argv), 127, "", "%s: %s" % (argv[0], err.strerror))


def _step(runner: Runner, what: str, argv: Sequence[str], environment: Dict[str, str]) -> str:
    done = runner(argv, environment)
    if done.returncode != 0:
        raise ReleaseError("%s failed (exit status %d)" % (what, done.returncode), (done.stdout + "\n" + done.stderr).strip())
    return done.stdout


def readable_mode(mode: int, is_dir: bool) -> int:
    """chmod u+rwX,go+rX,go-w of MODE (X: directories, and files executable by anyone)."""
    mode = (mode | 0o644) & ~0o022
    if is_dir or mode & 0o111:
        mode |= 0o111
    return mode & 0o7777


def own_by_root(path: str) -> None:
    """chown -R root:root and chmod -R u+rwX,go+rX,go-w PATH (symlinks left as they are)."""
    for top, dirs, files in os.walk(path):
        for name in [top] + [os.path.join(top, entry) for entry in dirs + files]:
            if os.path.islink(name):
                continue
            os.chown(name, 0, 0)
            os.chmod(name, readable_mode(os.stat(name).st_mode, os.path.isdir(name)))


def resolve(path: str, uv: str, python: str, packages: Sequence[str], requirements_file: str = "",
            requirements_text: str = "", extra_args: Sequence[str] = (), environment: Optional[Dict[str, str]] = None,
            runner: Runner = run, python_version: str = "", requirements_required: bool = False) -> Dict[str, str]:
    """The lock of release PATH: its PATH/requirements.lock when it has one, else resolved now.

    Resolving takes PACKAGES and the requirements file (REQUIREMENTS_FILE on
    the host when it exists, else REQUIREMENTS_TEXT) through ``uv pip
    compile --universal --generate-hashes`` for PYTHON's version and newer,
    so the one lock serves every host of a release whatever its platform
    (PYTHON_VERSION instead, when PYTHON is not here: a builder's run).
    Returns the lock text and where it came from (``release`` or ``resolved``).
    """
    kept = os.path.join(path, LOCK)
    if os.path.isfile(kept):
        with open(kept, encoding="utf-8") as handle:
            return {"lock": handle.read(), "source": "release"}
    environment = dict(environment or {})
    on_host = bool(requirements_file) and os.path.isfile(requirements_file)
    app_text = _read(requirements_file) if on_host else requirements_text
    if requirements_required and not on_host and not requirements_text:
        raise ReleaseError(_missing(requirements_file, path))
    if not python_version and not _runs(python):
        raise ReleaseError("the Python %s does not run on this host (gunicorn_python)" % python)
    version = python_version or _step(runner, "finding the Python version", [python, "-c", _PYTHON_VERSION], {}).strip()
    compile_argv = [uv, "pip", "compile", "--quiet", "--generate-hashes", "--no-header", "--python-version", version] + list(extra_args)
    if app_lock.is_hashed(app_text):
        return {"lock": _from_app_lock(_shown(requirements_file, path), app_text, packages, compile_argv, environment, runner),
                "source": "app"}
    with tempfile.TemporaryDirectory(prefix="fasterapi-lock-") as scratch:
        wanted = list(packages)
        if on_host:
            wanted.append("--requirement %s" % requirements_file)
        elif requirements_text.strip():
            with open(os.path.join(scratch, "requirements.txt"), "w", encoding="utf-8") as handle:
                handle.write(requirements_text)
            wanted.append("--requirement %s" % os.path.join(scratch, "requirements.txt"))
        source = os.path.join(scratch, "requirements.in")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in wanted))
        lock = _step(runner, "resolving its packages (uv pip compile)", compile_argv[:4] + ["--universal"] + compile_argv[4:] + [source],
                     environment)
    if not lock_packages(lock):
        raise ReleaseError("resolving its packages (uv pip compile) gave no lock", lock)
    return {"lock": lock, "source": "resolved"}


def _shown(requirements_file: str, path: str) -> str:
    """The requirements file as the role's variable names it: relative to the code, or the path on the host."""
    code = os.path.join(path, "app") + os.sep
    name = requirements_file[len(code):] if requirements_file.startswith(code) else requirements_file or "requirements.txt"
    return "%s (gunicorn_app_requirements_file)" % name


def _missing(requirements_file: str, path: str) -> str:
    return "%s is not in the code; expected the file the app's requirements are in" % _shown(requirements_file, path)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _runs(python: str) -> bool:
    """Whether PYTHON names an executable here (a path, or a name on PATH)."""
    return bool(shutil.which(python))


def _from_app_lock(where: str, text: str, packages: Sequence[str], compile_argv: List[str], environment: Dict[str, str],
                   runner: Runner) -> str:
    """The app's hashed lock TEXT, checked against the index, with the collection's PACKAGES added (app_lock.py).

    The check resolves the lock's pins for this platform (every file of each
    pinned version is listed, whatever its platform); the additions are
    resolved universally, constrained to the lock's pins.
    """
    try:
        pins, options = app_lock.parse(text, where)
    except app_lock.LockError as err:
        raise ReleaseError(str(err)) from err
    with tempfile.TemporaryDirectory(prefix="fasterapi-lock-") as scratch:
        constraints = os.path.join(scratch, "constraints.txt")
        _write_atomically(constraints, "".join(pin.requirement(extras=False) + "\n" for pin in pins), 0o600)
        source = os.path.join(scratch, "lock-pins.in")
        _write_atomically(source, "".join(line + "\n" for line in options + [pin.requirement() for pin in pins]), 0o600)
        compiled = _step(runner, "checking the app's lock %s against the index (uv pip compile)" % where,
                         compile_argv + ["--constraint", constraints, source], environment)
        try:
            app_lock.check(pins, compiled, where)
        except app_lock.LockError as err:
            raise ReleaseError(str(err)) from err
        added: List[app_lock.Pin] = []
        if packages:
            wanted = os.path.join(scratch, "collection.in")
            _write_atomically(wanted, "".join(line + "\n" for line in options + list(packages)), 0o600)
            compiled = _step(runner, "resolving the collection's packages (%s) with the pins of the app's lock %s (uv pip compile; "
                                     "gunicorn_version, gunicorn_uvicorn_version and gunicorn_app_requirements must agree with them)"
                             % (", ".join(packages), where),
                             compile_argv[:4] + ["--universal"] + compile_argv[4:] + ["--constraint", constraints, wanted], environment)
            added = app_lock.additions(pins, compiled)
    return app_lock.merged(text, added)


def lock_packages(lock: str) -> List[str]:
    """The name==version of each requirement in LOCK (a compiled requirements file), markers left out."""
    found = []
    for line in lock.splitlines():
        if not line.strip() or line[0] in " \t#-":
            continue
        found.append(line.split(";")[0].split("\\")[0].strip())
    return found


def installed_packages(venv: str, runner: Runner = run) -> List[str]:
    """The distributions in VENV as name==version, sorted (what pip freeze lists, pip included)."""
    out = _step(runner, "listing the installed packages", [os.path.join(venv, "bin", "python"), "-c", _FREEZE], {})
    return [str(line) for line in json.loads(out)]


def build(path: str, installer: str, python: str, packages: Sequence[str], uv: str = "",
          requirements_file: str = "", extra_args: Sequence[str] = (), environment: Optional[Dict[str, str]] = None,
          venv_files: Optional[Dict[str, str]] = None, metadata: Optional[Dict[str, Any]] = None, runner: Runner = run,
          lock: str = "", requirements_required: bool = False) -> List[str]:
    """Build PATH/venv for the code in PATH/app, write VENV_FILES (name: text) into it, and write release.json last.

    With LOCK (a requirements file with hashes, from resolve()), it is kept
    as PATH/requirements.lock and installed instead of PACKAGES and
    REQUIREMENTS_FILE, every hash checked; release.json records the
    packages installed either way. Returns the steps done. On failure
    removes PATH (a half-built release must not be mistaken for a built one)
    and raises ReleaseError.
    """
    environment = dict(environment or {})
    metadata = dict(metadata or {})
    steps = []
    venv = os.path.join(path, "venv")
    try:
        own_by_root(os.path.join(path, "app"))
        requirements = list(packages)
        app_text = _read(requirements_file) if requirements_file and os.path.isfile(requirements_file) else None
        if requirements_required and app_text is None:
            raise ReleaseError(_missing(requirements_file, path))
        if app_text is not None:
            requirements += ["--requirement", requirements_file]
        if not lock and app_text is not None and app_lock.is_hashed(app_text):
            raise ReleaseError("%s pins hashes: it is installed as the app's lock, which needs the role's lock "
                               "(gunicorn_lock: true)" % requirements_file)
        if lock:
            _write_atomically(os.path.join(path, LOCK), lock, 0o644)
            requirements = ["--require-hashes", "--requirement", os.path.join(path, LOCK)]
        what = "installing its dependencies with %s" % installer
        if installer == "uv":
            _step(runner, what, [uv, "venv", "--quiet", "--python", python, venv], environment)
            install = [uv, "pip", "install", "--python", os.path.join(venv, "bin", "python"), "--compile-bytecode"]
        else:
            _step(runner, what, [python, "-m", "venv", venv], environment)
            install = [os.path.join(venv, "bin", "pip"), "install", "--require-virtualenv"]
        if requirements:
            argv = install + list(extra_args) + requirements
            try:
                _step(runner, what, argv, environment)
            except ReleaseError as err:
                # The lock pins what the index listed when it was resolved. uv's cached copy of an index page can be
                # older (kept as long as the index allows, and a CDN may answer with an old page): read them again, once.
                if not (lock and installer == "uv" and _STALE_PAGE in err.output):
                    raise
                _step(runner, what, argv + ["--refresh"], environment)
                steps.append("index pages read again")
        steps.append("venv")
        metadata["packages"] = installed_packages(venv, runner)
        if lock:
            # What the lock does not pin got in some other way: refused (the installers' hash checks should make this impossible).
            stray = app_lock.unexpected(metadata["packages"], lock, bootstrap=_BOOTSTRAP if installer == "pip" else ())
            if stray:
                raise ReleaseError("checking the installed packages against the lock failed: %s not in the lock" % ", ".join(stray))
            metadata["lock_sha256"] = hashlib.sha256(lock.encode("utf-8")).hexdigest()
        # Which path the release took: the app's own lock, a lock resolved by the role, or no lock.
        metadata["lock_source"] = app_lock.origin(lock, app_text) if lock else "none"
        what = "installing the collection's worker, hooks and hand-over tool"
        purelib = _step(runner, what, [os.path.join(venv, "bin", "python"), "-c",
                                       "import sysconfig; print(sysconfig.get_paths()['purelib'])"], {}).strip()
        installed = []
        for name, text in sorted((venv_files or {}).items()):
            if os.path.basename(name) != name or not name.endswith(".py"):
                raise ReleaseError("%s failed: %r is not a module file name" % (what, name))
            target = os.path.join(purelib, name)
            _write_atomically(target, text, 0o644)
            installed.append(target)
        steps.append("venv files")
        # The app user cannot write __pycache__: compile now.
        _step(runner, "compiling the code", [os.path.join(venv, "bin", "python"), "-m", "compileall", "-q",
                                             os.path.join(path, "app")] + installed, {})
        steps.append("bytecode")
        _write_atomically(os.path.join(path, RELEASE_JSON), json.dumps(metadata, indent=2, sort_keys=True) + "\n", 0o644)
        steps.append(RELEASE_JSON)
    except (ReleaseError, OSError) as err:
        shutil.rmtree(path, ignore_errors=True)
        if isinstance(err, ReleaseError):
            raise
        raise ReleaseError("building the release failed: %s" % err) from err
    return steps
