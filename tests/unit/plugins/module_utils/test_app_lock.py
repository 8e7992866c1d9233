"""plugins/module_utils/app_lock.py: an app's hashed lock read, checked against what the index lists, and added to."""

from __future__ import annotations

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import app_lock

WHERE = "app/requirements.txt"

# What `uv pip compile --generate-hashes` writes (uv 0.13), trimmed to two files per package.
COMPILED = """\
anyio==4.16.0 \\
    --hash=sha256:aa01 \\
    --hash=sha256:aa02
    # via starlette
click==8.1.7 \\
    --hash=sha256:cc01
    # via
    #   -r lock-pins.in
    #   uvicorn
starlette==0.38.6 \\
    --hash=sha256:ss01 \\
    --hash=sha256:ss02
    # via -r lock-pins.in
"""

LOCK = """\
# pip-compile --generate-hashes
anyio==4.16.0 \\
    --hash=sha256:aa01 \\
    --hash=sha256:aa02
click==8.1.7 --hash=sha256:cc01
Starlette==0.38.6 \\
    --hash=sha256:ss01
    # via -r requirements.in
"""


def test_a_file_with_hashes_is_a_lock_and_one_without_is_not() -> None:
    assert app_lock.is_hashed(LOCK)
    assert not app_lock.is_hashed("fastapi==0.115.0\n# --hash is only mentioned here\n".replace("--hash", "hash"))
    assert not app_lock.is_hashed("")


def test_parse_reads_every_pin_with_its_hashes_extras_and_markers() -> None:
    text = LOCK + "uvicorn[standard]==0.30.0 ; python_version >= '3.9' --hash=sha256:uu01 --hash=sha256:uu02\n--index-url https://pypi.org/simple\n"
    pins, options = app_lock.parse(text, WHERE)
    assert [(p.key, p.version, p.hashes) for p in pins] == [
        ("anyio", "4.16.0", ["sha256:aa01", "sha256:aa02"]), ("click", "8.1.7", ["sha256:cc01"]),
        ("starlette", "0.38.6", ["sha256:ss01"]), ("uvicorn", "0.30.0", ["sha256:uu01", "sha256:uu02"])]
    assert pins[3].requirement() == "uvicorn[standard]==0.30.0 ; python_version >= '3.9'"
    assert pins[3].requirement(extras=False) == "uvicorn==0.30.0 ; python_version >= '3.9'"
    assert options == ["--index-url https://pypi.org/simple"]


@pytest.mark.parametrize(("text", "message"), [
    ("fastapi==0.115.0 --hash=sha256:ff\nstarlette==0.38.6\n", r"app/requirements.txt: starlette==0.38.6 has no --hash"),
    ("fastapi>=0.115 --hash=sha256:ff\n", r"'fastapi>=0.115' is not pinned to one version"),
    ("fastapi @ https://example.org/f.whl --hash=sha256:ff\n", r"is not pinned to one version"),
    ("-e .\nfastapi==0.115.0 --hash=sha256:ff\n", r"has '-e \.'.*--no-emit-project"),
    ("-r other.txt\nfastapi==0.115.0 --hash=sha256:ff\n", r"has '-r other.txt', which a hashed lock cannot hold"),
])
def test_what_a_hashed_lock_cannot_be_is_refused_naming_the_file_and_the_package(text: str, message: str) -> None:
    with pytest.raises(app_lock.LockError, match=message):
        app_lock.parse(text, WHERE)


def test_parse_compiled_reads_what_needs_each_package() -> None:
    pins, via = app_lock.parse_compiled(COMPILED)
    assert [p.key for p in pins] == ["anyio", "click", "starlette"]
    assert via == {"anyio": ["starlette"], "click": ["-r lock-pins.in", "uvicorn"], "starlette": ["-r lock-pins.in"]}


def test_a_lock_whose_hashes_are_all_on_the_index_passes() -> None:
    app_lock.check(app_lock.parse(LOCK, WHERE)[0], COMPILED, WHERE)


def test_a_tampered_hash_is_refused_naming_the_package_and_the_hash() -> None:
    pins = app_lock.parse(LOCK.replace("sha256:aa02", "sha256:bad0"), WHERE)[0]
    with pytest.raises(app_lock.LockError, match=r"app/requirements.txt: the hash sha256:bad0 of anyio==4.16.0 matches none of "
                                                 r"the 2 files of anyio 4.16.0 on the index"):
        app_lock.check(pins, COMPILED, WHERE)


def test_a_package_the_lock_leaves_out_is_refused_naming_what_needs_it() -> None:
    pins = [pin for pin in app_lock.parse(LOCK, WHERE)[0] if pin.key != "anyio"]
    with pytest.raises(app_lock.LockError, match=r"app/requirements.txt does not name anyio, which starlette needs"):
        app_lock.check(pins, COMPILED, WHERE)


def test_a_pin_whose_markers_hold_nowhere_here_is_not_checked() -> None:
    pins = app_lock.parse(LOCK + "colorama==0.4.6 ; sys_platform == 'win32' --hash=sha256:c0\n", WHERE)[0]
    app_lock.check(pins, COMPILED, WHERE)


def test_the_collections_packages_are_appended_to_the_lock_as_it_is() -> None:
    pins = app_lock.parse(LOCK, WHERE)[0]
    collection = COMPILED + "gunicorn==27.0.1 \\\n    --hash=sha256:gg01\n    # via -r collection.in\n"
    added = app_lock.additions(pins, collection)
    assert [p.key for p in added] == ["gunicorn"]
    lock = app_lock.merged(LOCK, added)
    assert lock.startswith(LOCK)
    assert lock[len(LOCK):] == "\n" + app_lock.ADDED + "\ngunicorn==27.0.1 \\\n    --hash=sha256:gg01\n"
    assert app_lock.origin(lock, LOCK) == "app"
    assert app_lock.merged(LOCK, []) == LOCK


def test_origin_of_a_lock_the_role_resolved() -> None:
    assert app_lock.origin(COMPILED, "fastapi\n") == "resolved"
    assert app_lock.origin(COMPILED, None) == "resolved"
    assert app_lock.origin(COMPILED, LOCK) == "resolved"  # not the app's lock: resolved from something else


def test_unexpected_lists_what_the_lock_does_not_pin() -> None:
    installed = ["anyio==4.16.0", "Click==8.1.7", "pip==23.0.1", "setuptools==66.1.1", "starlette==0.38.7", "six==1.16.0"]
    assert app_lock.unexpected(installed, LOCK, bootstrap=("pip", "setuptools")) == ["starlette==0.38.7", "six==1.16.0"]
    assert app_lock.unexpected(installed, LOCK) == ["pip==23.0.1", "setuptools==66.1.1", "starlette==0.38.7", "six==1.16.0"]


def test_the_apps_own_wheel_named_by_its_path_is_in_the_lock() -> None:
    lock = LOCK + "fasterapi-sample-app @ file:///opt/app/releases/r/fasterapi_sample_app-1.0.7-py3-none-any.whl \\\n    --hash=sha256:ab\n"
    assert app_lock.direct_references(lock) == {"fasterapi-sample-app"}
    assert app_lock.unexpected(["fasterapi_sample_app==1.0.7", "anyio==4.16.0"], lock) == []
    assert app_lock.unexpected(["other-app==1.0.7"], lock) == ["other-app==1.0.7"]


def test_the_apps_own_wheel_as_uv_writes_it_a_path_is_in_the_lock() -> None:
    # uv pip compile --generate-hashes of a wheel file (uv 0.13): its path, its hash.
    lock = LOCK + "/opt/app/releases/r/fasterapi_sample_app-1.0.7-py3-none-any.whl \\\n    --hash=sha256:0f89\n    # via -r x.in\n"
    assert app_lock.direct_references(lock) == {"fasterapi-sample-app"}
    assert app_lock.unexpected(["fasterapi-sample-app==1.0.7", "anyio==4.16.0", "click==8.1.7"], lock) == []
