# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""An app's ledger on a host: one JSON record per line for every change, each chained to the one before.

Every deploy, rollback, restart and failed attempt appends a record. Each
record carries ``seq`` (1, 2, ...) and ``prev``, the SHA-256 of the line
before it (the empty string for the first), so that an edited line breaks
the chain at the record after it. A head file beside the ledger holds the
seq and the digest of the last line, written after each append, so that a
ledger cut short or whose last line was edited is found too. This shows a
change made by hand; it does not stop one made by someone who rewrites the
whole chain and the head (root on the host can).

Appends take an exclusive ``flock`` on the ledger: two appends never
interleave. Standard library only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Tuple

HEAD_SUFFIX = ".head"


def digest(line: bytes) -> str:
    """The SHA-256 of a ledger LINE, without its newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _head_path(path: str) -> str:
    return path + HEAD_SUFFIX


def _read_head(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(_head_path(path), "rb") as handle:
            head = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"seq": -1, "digest": ""}
    return head if isinstance(head, dict) else {"seq": -1, "digest": ""}


def _write_atomically(path: str, content: bytes, mode: int) -> None:
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".ledger-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _lines(data: bytes) -> List[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


def _seq(line: bytes, fallback: int) -> int:
    try:
        seq = json.loads(line.decode("utf-8")).get("seq")
    except (ValueError, AttributeError):
        return fallback
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else fallback


def append(path: str, record: Dict[str, Any], mode: int = 0o644) -> Dict[str, Any]:
    """Append RECORD to the ledger at PATH (made if missing) and return it as written, with its seq and prev.

    The chain continues from the last line in the file, whatever the file
    holds: a ledger found broken stays broken where it was, and status says so.
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, mode)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        size = os.fstat(descriptor).st_size
        os.lseek(descriptor, 0, os.SEEK_SET)
        data = os.read(descriptor, size) if size else b""
        lines = _lines(data)
        written = dict(record)
        written["seq"] = _seq(lines[-1], len(lines)) + 1 if lines else 1
        written["prev"] = digest(lines[-1]) if lines else ""
        line = json.dumps(written, sort_keys=True, separators=(",", ":")).encode("utf-8")
        prefix = b"\n" if data and not data.endswith(b"\n") else b""
        os.write(descriptor, prefix + line + b"\n")
        os.fsync(descriptor)
        _write_atomically(_head_path(path), json.dumps({"seq": written["seq"], "digest": digest(line)}).encode() + b"\n",
                          mode)
    finally:
        os.close(descriptor)
    os.chmod(path, mode)
    return written


def _label(record: Optional[Dict[str, Any]], number: int) -> str:
    """How a message names a record: its seq, time, action and release."""
    if not record:
        return f"line {number}"
    what = " ".join(str(record[key]) for key in ("time", "action", "release") if record.get(key))
    seq = record.get("seq", number)
    return f"record {seq} ({what})" if what else f"record {seq}"


def read(path: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    """The ledger's records, and what is wrong with its chain (edited, removed or unreadable records), in file order."""
    head = _read_head(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        if head and head.get("seq"):
            return [], [f"the ledger {path} is missing, but its head file says it held {head.get('seq')} records"]
        return [], []
    lines = _lines(data)
    records: List[Dict[str, Any]] = []
    problems: List[str] = []
    last_seq = 0
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            problems.append(f"line {number} of {path} is not a ledger record: it was changed by hand")
            records.append({})
            last_seq += 1
            continue
        records.append(record)
        seq = record.get("seq")
        if seq != last_seq + 1:
            problems.append(f"{_label(record, number)} follows record {last_seq}: "
                            + ("records between them were removed" if isinstance(seq, int) and seq > last_seq + 1
                               else "the records are out of order"))
        elif record.get("prev") != (digest(lines[number - 2]) if number > 1 else ""):
            problems.append(f"{_label(records[number - 2], number - 1)} was changed after it was written" if number > 1
                            else f"{_label(record, number)} does not start the chain: records before it were removed")
        last_seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else last_seq + 1
    if head is not None and lines:
        head_seq = head.get("seq", -1)
        if not isinstance(head_seq, int) or head_seq < 0:
            problems.append(f"the ledger's head file {_head_path(path)} is not what the role writes")
        elif head_seq > last_seq:
            problems.append(f"the ledger was cut short: its last record is {last_seq}, its head file says {head_seq}")
        elif head_seq < last_seq:
            problems.append(f"records after {head_seq} were added by hand (the last is {last_seq})")
        elif head.get("digest") != digest(lines[-1]):
            problems.append(f"{_label(records[-1], len(lines))} was changed after it was written")
    elif head is not None and head.get("seq") and not lines:
        problems.append(f"the ledger {path} is empty, but its head file says it held {head.get('seq')} records")
    return [record for record in records if record], problems
