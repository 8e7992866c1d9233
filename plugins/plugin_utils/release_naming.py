# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A release's name, and the host that resolves a release's lock (controller side).

The gunicorn role builds each release in ``releases/<name>``, named
``<label>-<digest>``: the label says which version it is, the digest (12 hex
digits of a SHA-256) stands for everything the release is built from. The
same version deployed again gets the same name, is found built and changes
nothing. Hosts keep their release directories by these names, so a name must
not change for the same inputs: this module computes exactly what the role's
Jinja did before (``label ~ '-' ~ (inputs | to_json | hash('sha256'))[:12]``,
the label cleaned by ``regex_replace`` and cut by ``truncate(40, true, '')``),
quirks included (see :func:`release_label` and :func:`inputs_json`).

Every host that builds one release installs one lock (the exact packages
with their hashes), resolved once by one host: :func:`lock_hosts` picks it
per release, :func:`lock_plan` tells one host what to do about its lock.

Used by the filters of ``plugins/filter/release.py`` and by the
``lock_host`` filter of ``plugins/filter/gunicorn.py``; raises ``ValueError``
or ``TypeError``, which the filters turn into Ansible's errors.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

LABEL_LENGTH = 40
# Jinja's truncate keeps a text up to this many characters longer than the
# length whole (its "truncate.leeway" policy, 5 unless an environment sets
# another; Ansible's does not): a 45-character label stays whole, a 46-character one is cut to 40.
LABEL_LEEWAY = 5
DIGEST_LENGTH = 12
DEFAULT_LABEL = "release"
_LABEL_UNSAFE = re.compile("[^A-Za-z0-9._+-]+")
# "$" as Ansible's regex_replace and search tests have it: before a final newline too.
_WHEEL = re.compile("[.]whl$")

SOURCES = ("dir", "git", "archive", "package")

# The facts release/main.yml sets on each host, and the result the lock's
# resolution registers (release/build.yml).
RELEASE_FACT = "__gunicorn_release"
BUILT_FACT = "__gunicorn_built"
LOCK_RESULT = "__gunicorn_lock"


def _text(value: Any) -> str:
    """VALUE as Ansible's string filters and Jinja's ``~`` take it: a string as it is, str() of a number or a boolean."""
    return value if isinstance(value, str) else str(value)


def _jinja_truncate(text: str, length: int, leeway: int = LABEL_LEEWAY) -> str:
    """Jinja's ``truncate(length, killwords=true, end='')``: TEXT up to LENGTH + LEEWAY characters whole, else its first LENGTH."""
    if len(text) <= length + leeway:
        return text
    return text[:length]


def release_label(version: Any = "", source: str = "", git_version: Any = "HEAD", package: Any = "") -> str:
    """The first part of a release's name: which version of the app it is.

    The first of: VERSION (gunicorn_app_version); the git ref deployed
    (GIT_VERSION) when SOURCE is git and the ref is not HEAD; the package's
    file name without ``.whl`` when SOURCE is package; else ``release``.
    Runs of characters other than letters, digits and ``._+-`` become
    ``_``; a label longer than 45 characters is cut to its first 40.
    """
    label: Any = (version
                  or (git_version if source == "git" and git_version != "HEAD" else "")
                  or (_WHEEL.sub("", posixpath.basename(_text(package))) if source == "package" else "")
                  or DEFAULT_LABEL)
    return _jinja_truncate(_LABEL_UNSAFE.sub("_", _text(label)), LABEL_LENGTH)


def _plain(value: Any, where: str = "inputs") -> Any:
    """VALUE as plain JSON types (a lazy or tagged container of Ansible's is read item by item)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {_plain(key, where): _plain(item, f"{where}[{key!r}]")
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{where} is a {type(value).__name__}, which a release's name cannot be computed from "
                    "(strings, numbers, booleans, null, lists and mappings can)")


def inputs_json(inputs: Any) -> str:
    """INPUTS as Ansible's ``to_json`` filter writes them: ``json.dumps`` with its defaults.

    That is: keys in their order (not sorted), ``", "`` and ``": "`` between
    items, every character beyond ASCII escaped (``\\u00e9``). Written out
    here, so that a release's name does not change with Ansible's encoder.
    """
    return json.dumps(_plain(inputs), ensure_ascii=True, separators=(", ", ": "), sort_keys=False, allow_nan=True)


def inputs_digest(inputs: Any) -> str:
    """The SHA-256 (hex) of :func:`inputs_json`, as ``to_json | hash('sha256')`` gives it."""
    return hashlib.sha256(inputs_json(inputs).encode("utf-8")).hexdigest()


def release_name(inputs: Any, label: str) -> str:
    """``<label>-<first 12 hex digits of the inputs' digest>``: a release's directory name."""
    return f"{label}-{inputs_digest(inputs)[:DIGEST_LENGTH]}"


def source_ref(kind: str, *, tree: Any = "", commit: Any = "", archive_checksum: Any = "", file_checksum: Any = "",
               strip_components: Any = 0, package: Any = "") -> str:
    """What a release's code is, as one string (the first of its inputs, and release.json's source).

    KIND is the source (gunicorn role's _gunicorn_source): ``dir:<TREE>`` (the
    tree_digest of the code directory), ``git:<COMMIT>``,
    ``archive:<ARCHIVE_CHECKSUM or sha256:FILE_CHECKSUM>:strip=<STRIP_COMPONENTS>``,
    ``wheel:sha256:<FILE_CHECKSUM>:<PACKAGE's file name>`` for a PACKAGE ending in
    ``.whl``, else ``package:<PACKAGE>`` (a requirement specifier). Raises
    ValueError when what KIND needs is missing.
    """
    def needed(value: Any, what: str) -> str:
        if not value:
            raise ValueError(f"a release from source {kind!r} needs {what}")
        return _text(value)

    if kind == "dir":
        return "dir:" + needed(tree, "the code directory's digest (tree)")
    if kind == "git":
        return "git:" + needed(commit, "the commit deployed (commit)")
    if kind == "archive":
        checksum = (_text(archive_checksum) if archive_checksum
                    else "sha256:" + needed(file_checksum, "gunicorn_app_archive_checksum or the archive's SHA-256 (file_checksum)"))
        return f"archive:{checksum}:strip={_text(strip_components)}"
    if kind == "package":
        if _WHEEL.search(_text(package)):
            return (f"wheel:sha256:{needed(file_checksum, 'the wheel file SHA-256 (file_checksum)')}:"
                    f"{posixpath.basename(_text(package))}")
        return "package:" + _text(package)
    raise ValueError(f"unknown release source {kind!r}; expected one of {', '.join(SOURCES)}")


def lock_hosts(hosts: Iterable[str], releases: Mapping[str, Any], built: Mapping[str, Any]) -> dict[str, str]:
    """For each release in RELEASES (host: release), the host that gives its lock.

    HOSTS is the play's hosts in order; BUILT maps a host to the releases
    built on it. A host that has the release built already (its kept lock)
    comes first, else the first host that deploys it, so every host of a
    release installs one lock, whenever it joined. Raises TypeError unless
    RELEASES and BUILT are mappings.
    """
    if not isinstance(releases, Mapping) or not isinstance(built, Mapping):
        raise TypeError("lock_host expects a mapping of host to release and one of host to built releases")
    hosts = list(hosts)
    chosen: dict[str, str] = {}
    for host in hosts:
        release = releases.get(host)
        if release and host in built and release in (built.get(host) or []) and release not in chosen:
            chosen[release] = host
    for host in hosts:
        release = releases.get(host)
        if release and release not in chosen:
            chosen[release] = host
    return chosen


def _fact(hostvars: Mapping[str, Any], host: str, name: str, default: Any) -> Any:
    """HOSTVARS[HOST][NAME], or DEFAULT when the host or the variable is not there."""
    variables = hostvars.get(host) if isinstance(hostvars, Mapping) else None
    if not isinstance(variables, Mapping) or name not in variables:
        return default
    value = variables[name]
    return default if value is None else value


def _ran(result: Any) -> bool:
    return isinstance(result, Mapping) and not result.get("skipped", False)


def lock_plan(hosts: Iterable[str], hostvars: Mapping[str, Any], release: str, host: str, *,
              offline: bool = False, lock: bool = True) -> dict[str, Any]:
    """What HOST, which builds RELEASE, does about the release's lock.

    HOSTS are the play's hosts in order, all batches of a serial play
    (ansible_play_hosts_all); HOSTVARS holds each one's RELEASE_FACT (its
    release, absent where not named yet) and BUILT_FACT (the releases built
    there, the one built in an earlier batch included). The lock host is
    :func:`lock_hosts`' choice. Returns:

    - ``host``: the lock host; ``built``: whether it has the release built (it
      keeps the lock the release was built from);
    - ``resolve``: whether HOST runs the resolution (it is the lock host, or
      the lock host has the release built: HOST asks it for its kept lock);
      never when LOCK (gunicorn_lock) is off;
    - ``on_builder``: whether the resolution runs on the controller: HOST is
      OFFLINE (reaches no package index) and the lock host has no kept lock;
    - after the resolution, ``text`` (the lock: HOST's own result, else the
      lock host's LOCK_RESULT; "" when LOCK is off) and ``problem`` (why there
      is no lock to install, "" when there is one).
    """
    hosts = list(hosts)
    releases = {name: _fact(hostvars, name, RELEASE_FACT, "") for name in hosts}
    built = {name: _fact(hostvars, name, BUILT_FACT, []) for name in hosts}
    chosen = lock_hosts(hosts, releases, built).get(release)
    if not chosen:
        raise ValueError(f"no host of the play ({', '.join(hosts) or 'none'}) has release {release!r} to build")
    kept = release in (built.get(chosen) or [])
    plan: dict[str, Any] = {"host": chosen, "built": kept, "resolve": bool(lock) and (chosen == host or kept),
                            "on_builder": bool(offline) and not kept, "text": "", "problem": ""}
    if not lock:
        return plan
    own = _fact(hostvars, host, LOCK_RESULT, None)
    result = own if _ran(own) else _fact(hostvars, chosen, LOCK_RESULT, None)
    if isinstance(result, Mapping) and result.get("failed", False):
        plan["problem"] = f"resolving its packages on {chosen} failed (that host's error says why)"
    elif not _ran(result):
        plan["problem"] = (f"{chosen}, which resolves its packages for every host that builds it, did not resolve them "
                           "(it stopped before, or gunicorn_lock is off there)")
    elif not isinstance(result.get("lock"), str):
        plan["problem"] = f"resolving its packages on {chosen} returned no lock"
    else:
        plan["text"] = result["lock"]
    return plan
