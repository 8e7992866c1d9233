"""tests/tools/make_app_lock.py makes the app locks the releases and real_hosts scenarios deploy."""

from __future__ import annotations

import pytest
from _load import load_module
from ansible_collections.fasterapi.deploy.plugins.module_utils import app_lock

make_app_lock = load_module("tests/tools/make_app_lock.py", "make_app_lock")

H = "%064x"
ROLE_LOCK = f"""\
anyio==4.16.0 \\
    --hash=sha256:{H % 1} \\
    --hash=sha256:{H % 2}
    # via watchfiles
gunicorn==27.0.1 \\
    --hash=sha256:{H % 3}
    # via -r requirements.in
six==1.17.0 \\
    --hash=sha256:{H % 4}
uvicorn==0.54.0 \\
    --hash=sha256:{H % 5}
watchfiles==1.1.0 \\
    --hash=sha256:{H % 6}
    # via uvicorn
"""


def test_the_apps_lock_leaves_out_the_collections_packages_and_is_a_lock_the_role_accepts() -> None:
    made = make_app_lock.make(ROLE_LOCK, ["gunicorn", "uvicorn"])
    pins, _options = app_lock.parse(made, "requirements.txt")
    assert [p.key for p in pins] == ["anyio", "six", "watchfiles"]
    app_lock.check(pins, made, "requirements.txt")  # what the index says of these pins: the same files


def test_a_tampered_lock_is_one_the_role_refuses() -> None:
    honest = make_app_lock.make(ROLE_LOCK, ["gunicorn", "uvicorn"])
    made = make_app_lock.make(ROLE_LOCK, ["gunicorn", "uvicorn"], tamper="six")
    assert f"sha256:{H % 4}" not in made and len(made) == len(honest)
    with pytest.raises(app_lock.LockError, match="of six==1.17.0 matches none"):
        app_lock.check(app_lock.parse(made, "requirements.txt")[0], honest, "requirements.txt")


def test_a_package_left_out_is_one_the_role_refuses() -> None:
    honest = make_app_lock.make(ROLE_LOCK, ["gunicorn", "uvicorn"])
    made = make_app_lock.make(ROLE_LOCK, ["gunicorn", "uvicorn"], leave_out="anyio")
    with pytest.raises(app_lock.LockError, match="does not name anyio, which watchfiles needs"):
        app_lock.check(app_lock.parse(made, "requirements.txt")[0], honest, "requirements.txt")


def test_a_name_not_in_the_lock_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "lock").write_text(ROLE_LOCK)
    assert make_app_lock.main([str(tmp_path / "lock"), str(tmp_path / "out"), "--tamper", "fastapi"]) == 2
    assert not (tmp_path / "out").exists()
