# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A fleet's deploy lock: one file on one host of the fleet, naming who holds it and until when.

``site``, ``deploy``, ``rollback`` and ``rolling_restart`` take the lock
before they change anything and give it back at the end. The lock file
holds its holder (an id made for the run, the controller's user and host,
the playbook, the release, since when) and the end of its lease. A run
renews the lease as it goes; a lock whose lease ended (its controller
died) is taken over by the next run, which says whose it was. Any change
to the lock is made under an exclusive ``flock`` on a guard file beside
it, so two runs that start at the same moment cannot both take it.
Standard library only.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Tuple

HOLDER_FIELDS = ("id", "user", "controller", "playbook", "release")


class LockHeld(Exception):
    """Another run holds the lock; the message says who, since when and until when."""

    def __init__(self, message: str, holder: Dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


def stamp(seconds: float) -> str:
    """SECONDS since the epoch as an ISO 8601 UTC time, to the second."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(holder: Dict[str, Any], now: float) -> str:
    """Who holds the lock, in words: user@controller, playbook, release, since when, lease left."""
    who = f"{holder.get('user') or '?'}@{holder.get('controller') or '?'}"
    parts = [f"held by {who}", f"playbook {holder.get('playbook') or '?'}"]
    if holder.get("release"):
        parts.append(f"release {holder['release']}")
    since = holder.get("since")
    if isinstance(since, (int, float)):
        parts.append(f"since {stamp(since)} ({int(now - since)} s ago)")
    expires = holder.get("expires")
    if isinstance(expires, (int, float)):
        parts.append(f"lease ends {stamp(expires)}" + (f" (in {int(expires - now)} s)" if expires > now else " (ended)"))
    parts.append(f"run id {holder.get('id') or '?'}")
    return ", ".join(parts)


def _read(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            holder = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # Unreadable: held by no one we can name, and taken over like an expired one.
        return {"id": "", "expires": 0}
    return holder if isinstance(holder, dict) else {"id": "", "expires": 0}


def _write(path: str, holder: Dict[str, Any]) -> None:
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".lock-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(holder, out, sort_keys=True)
            out.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class _Guard:
    """An exclusive flock on PATH.guard while the lock is read and changed."""

    def __init__(self, path: str) -> None:
        self.path = path + ".guard"
        self.descriptor = -1

    def __enter__(self) -> "_Guard":
        self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.descriptor, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_exc: object) -> None:
        os.close(self.descriptor)


def acquire(path: str, holder: Dict[str, Any], lease: int, wait: int, now: Callable[[], float] = time.time,
            sleep: Callable[[float], None] = time.sleep, poll: float = 1.0) -> Tuple[bool, Dict[str, Any], Optional[Dict[str, Any]]]:
    """Take the lock at PATH for HOLDER (its id and who it is) for LEASE seconds, or renew it when HOLDER has it.

    Waits up to WAIT seconds for another run's lock, then raises LockHeld.
    Returns (changed, the holder as written, the expired holder taken over or None).
    """
    deadline = now() + wait
    while True:
        with _Guard(path):
            current = _read(path)
            moment = now()
            if current is None or current.get("id") == holder["id"] or float(current.get("expires") or 0) <= moment:
                written = dict(holder)
                mine = current is not None and current.get("id") == holder["id"]
                written["since"] = current.get("since", moment) if mine and current else moment
                written["expires"] = moment + lease
                written["renewed"] = moment
                _write(path, written)
                taken_over = current if current is not None and not mine else None
                return not mine, written, taken_over
        if moment >= deadline:
            raise LockHeld(
                f"another run has the deploy lock ({path}): {describe(current, moment)}."
                + (f" Waited {wait} s." if wait else "")
                + " It ends with that run, or when its lease ends. To break it on purpose (only when that run is dead),"
                " run playbook fasterapi.deploy.unlock.", current)
        sleep(min(poll, max(deadline - moment, 0.0)))


def release(path: str, run_id: str, force: bool = False) -> Tuple[bool, Optional[Dict[str, Any]]]:
    """Give back the lock at PATH held by RUN_ID (or by anyone, with FORCE). Returns (changed, the holder removed)."""
    with _Guard(path):
        current = _read(path)
        if current is None or (not force and current.get("id") != run_id):
            return False, current
        os.unlink(path)
        return True, current


def peek(path: str) -> Optional[Dict[str, Any]]:
    """The lock's holder, read without changing anything, or None when the lock is free."""
    return _read(path)
