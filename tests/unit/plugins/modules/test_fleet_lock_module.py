"""The fleet_lock and ledger modules, run as Ansible runs them (arguments in, JSON out), on real files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.modules import fleet_lock, ledger


def run(module: Any, capsys: pytest.CaptureFixture[str], **args: Any) -> Dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_take_refuse_and_give_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(tmp_path / "locks" / "fasterapi.json")
    took = run(fleet_lock, capsys, path=path, run_id="run1", user="ana", controller="laptop", playbook="deploy", release="1.4.2")
    assert took["changed"] and took["holder"]["id"] == "run1" and took["message"] == "took the lock"
    assert (tmp_path / "locks").is_dir()
    refused = run(fleet_lock, capsys, path=path, run_id="run2", user="bo", controller="ci", playbook="rollback")
    assert refused["failed"] and "held by ana@laptop, playbook deploy, release 1.4.2" in refused["msg"]
    assert refused["holder"]["id"] == "run1"
    renewed = run(fleet_lock, capsys, path=path, run_id="run1", playbook="deploy")
    assert not renewed["changed"] and renewed["message"] == "renewed the lease"
    assert not run(fleet_lock, capsys, path=path, run_id="run2", state="absent")["changed"]
    gave = run(fleet_lock, capsys, path=path, run_id="run1", state="absent")
    assert gave["changed"] and gave["message"] == "gave the lock back" and not Path(path).exists()


def test_check_mode_changes_nothing_and_still_refuses(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    assert run(fleet_lock, capsys, path=path, run_id="run1", _ansible_check_mode=True)["changed"]
    assert not Path(path).exists()
    run(fleet_lock, capsys, path=path, run_id="run1", user="ana", controller="laptop")
    refused = run(fleet_lock, capsys, path=path, run_id="run2", _ansible_check_mode=True)
    assert refused["failed"] and "held by ana@laptop" in refused["msg"]


def test_breaking_names_the_holder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(tmp_path / "fasterapi.json")
    run(fleet_lock, capsys, path=path, run_id="run1", user="ana", controller="laptop", playbook="site")
    broken = run(fleet_lock, capsys, path=path, run_id="unlock", state="absent", force=True)
    assert broken["changed"] and broken["message"].startswith("broke the lock: held by ana@laptop, playbook site")


@pytest.mark.parametrize("args, words", [({"lease": 0}, "lease=0: it must be at least 1 second"),
                                         ({"wait": -1}, "wait=-1: it must be 0")])
def test_bad_numbers_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, args: Dict[str, int], words: str) -> None:
    out = run(fleet_lock, capsys, path=str(tmp_path / "l.json"), run_id="r", **args)
    assert out["failed"] and words in out["msg"] and not (tmp_path / "l.json").exists()


def test_ledger_appends_with_times_and_release_json_then_reads(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    release = tmp_path / "releases" / "1.4.2-aaaa"
    release.mkdir(parents=True)
    (release / "release.json").write_text(json.dumps({"name": "1.4.2-aaaa", "version": "1.4.2", "source": "git:0123abc",
                                                      "lock_sha256": "f00d"}))
    path = str(tmp_path / "ledger.jsonl")
    started = time.time() - 30
    out = run(ledger, capsys, path=path, started=started, release_json=str(release / "release.json"),
              record={"action": "deploy", "result": "ok", "release": "", "who": "ana@laptop"})
    record = out["record"]
    assert out["changed"] and record["seq"] == 1 and record["prev"] == ""
    assert (record["release"], record["version"], record["source"], record["lock"]) == ("1.4.2-aaaa", "1.4.2", "git:0123abc", "f00d")
    assert record["time"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    assert 30 <= record["duration_s"] < 60 and record["finished"] > record["time"]
    run(ledger, capsys, path=path, record={"action": "restart", "result": "failed", "release_json": "x"})
    read = run(ledger, capsys, path=path, state="read", last=1)
    assert not read["changed"] and read["count"] == 2 and read["problems"] == []
    assert [entry["action"] for entry in read["records"]] == ["restart"]


def test_ledger_refuses_its_own_fields_and_skips_an_app_never_set_up(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    refused = run(ledger, capsys, path=str(tmp_path / "ledger.jsonl"), record={"seq": 9})
    assert refused["failed"] and "seq are the ledger's own" in refused["msg"]
    skipped = run(ledger, capsys, path=str(tmp_path / "missing" / "ledger.jsonl"), record={"action": "site"})
    assert not skipped["changed"] and skipped["record"] is None and "does not exist" in skipped["msg"]
    assert run(ledger, capsys, path=str(tmp_path / "ledger.jsonl"), record={"action": "site"}, _ansible_check_mode=True)["changed"]
    assert not (tmp_path / "ledger.jsonl").exists()
