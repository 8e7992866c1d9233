"""The ledger's chain: appends from many processes, and every kind of change by hand named by read()."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any, Dict, List

from ansible_collections.fasterapi.deploy.plugins.module_utils import ledger


def record(number: int, action: str = "deploy") -> Dict[str, Any]:
    return {"time": f"2026-12-05T07:00:{number:02d}Z", "action": action, "release": f"r{number}", "result": "ok"}


def written(path: Path, count: int) -> List[bytes]:
    for number in range(1, count + 1):
        ledger.append(str(path), record(number))
    return path.read_bytes().splitlines()


def test_records_are_numbered_and_chained_and_read_back_intact(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    lines = written(path, 3)
    records = [json.loads(line) for line in lines]
    assert [entry["seq"] for entry in records] == [1, 2, 3]
    assert records[0]["prev"] == "" and records[1]["prev"] == ledger.digest(lines[0]) and records[2]["prev"] == ledger.digest(lines[1])
    got, problems = ledger.read(str(path))
    assert problems == [] and got == records
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert json.loads(Path(str(path) + ledger.HEAD_SUFFIX).read_text()) == {"seq": 3, "digest": ledger.digest(lines[2])}


def test_no_ledger_reads_as_empty(tmp_path: Path) -> None:
    assert ledger.read(str(tmp_path / "ledger.jsonl")) == ([], [])


def test_an_edited_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    lines = written(path, 4)
    lines[1] = lines[1].replace(b'"result":"ok"', b'"result":"failed"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    _records, problems = ledger.read(str(path))
    assert problems == ["record 2 (2026-12-05T07:00:02Z deploy r2) was changed after it was written"]


def test_an_edited_last_record_is_named_from_the_head_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    lines = written(path, 3)
    lines[2] = lines[2].replace(b'"release":"r3"', b'"release":"r9"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert ledger.read(str(path))[1] == ["record 3 (2026-12-05T07:00:03Z deploy r9) was changed after it was written"]


def test_a_removed_record_a_cut_and_an_added_one_are_named(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    lines = written(path, 5)
    path.write_bytes(b"\n".join(lines[:2] + lines[3:]) + b"\n")
    assert ledger.read(str(path))[1] == ["record 4 (2026-12-05T07:00:04Z deploy r4) follows record 2: records between them were removed"]
    path.write_bytes(b"\n".join(lines[:4]) + b"\n")
    assert ledger.read(str(path))[1] == ["the ledger was cut short: its last record is 4, its head file says 5"]
    path.write_bytes(b"\n".join(lines[1:]) + b"\n")
    assert ledger.read(str(path))[1] == ["record 2 (2026-12-05T07:00:02Z deploy r2) follows record 0: records between them were removed"]
    extra = json.dumps(dict(record(6), seq=6, prev=ledger.digest(lines[4]))).encode()
    path.write_bytes(b"\n".join(lines + [extra]) + b"\n")
    assert ledger.read(str(path))[1] == ["records after 5 were added by hand (the last is 6)"]


def test_a_line_that_is_not_a_record_is_named_and_the_rest_still_read(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    lines = written(path, 3)
    lines[0] = b"hello"
    path.write_bytes(b"\n".join(lines) + b"\n")
    records, problems = ledger.read(str(path))
    assert [entry["seq"] for entry in records] == [2, 3]
    assert problems == ["line 1 of %s is not a ledger record: it was changed by hand" % path,
                        "line 1 was changed after it was written"]


def test_a_broken_ledger_keeps_its_break_where_it_was_after_more_appends(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    lines = written(path, 3)
    lines[0] = lines[0].replace(b"r1", b"rX")
    path.write_bytes(b"\n".join(lines) + b"\n")
    ledger.append(str(path), record(4))
    assert ledger.read(str(path))[1] == ["record 1 (2026-12-05T07:00:01Z deploy rX) was changed after it was written"]


def test_a_missing_ledger_whose_head_remains_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    written(path, 2)
    path.unlink()
    assert ledger.read(str(path)) == ([], [f"the ledger {path} is missing, but its head file says it held 2 records"])


def _append_many(path: str, worker: int) -> None:
    for number in range(25):
        ledger.append(path, {"worker": worker, "n": number, "pad": "x" * 3000})


def test_appends_from_many_processes_never_interleave_and_keep_the_chain(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.jsonl")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, worker)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    records, problems = ledger.read(path)
    assert problems == []
    assert [entry["seq"] for entry in records] == list(range(1, 101))
    for worker in range(4):
        assert [entry["n"] for entry in records if entry["worker"] == worker] == list(range(25))
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".ledger-")]
