"""The fasterapi.deploy.gunicorn_problems filter: registered, refusing what is not the role's variables, and the
library's answer (plugins/plugin_utils/gunicorn_checks.py, whose every refusal is tested in
tests/unit/plugins/plugin_utils/test_gunicorn_checks.py) with its arguments as Jinja passes them.
"""

from __future__ import annotations

import pytest

from ansible_collections.fasterapi.deploy.plugins.filter.gunicorn_problems import FilterModule, gunicorn_problems
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import gunicorn_checks

BAD = {"gunicorn_app_name": "shop", "gunicorn_workers": 0, "gunicorn_worker_class": "sync",
       "gunicorn_systemd_sandbox_overrides": {"NoSuchDirective": "yes"}}


def test_the_filter_is_registered_and_refuses_other_input() -> None:
    assert FilterModule().filters()["gunicorn_problems"] is gunicorn_problems
    with pytest.raises(Exception, match="mapping of the role's variables"):
        gunicorn_problems(["gunicorn_workers"])  # type: ignore[arg-type]


def test_the_filter_returns_the_checks_problems() -> None:
    found = gunicorn_problems(BAD, worker_classes=["asgi"], sandbox_directives=["ProcSubset"])
    assert found == gunicorn_checks.problems(BAD, True, ["asgi"], ["ProcSubset"])
    assert [problem["variable"] for problem in found] == [
        "gunicorn_app_src", "gunicorn_systemd_sandbox_overrides", "gunicorn_workers", "gunicorn_worker_class"]
    assert "expected some of ProcSubset" in found[1]["message"] and "expected one of asgi," in found[3]["message"]


@pytest.mark.parametrize(("needs_source", "source_missing"), [(True, True), ("yes", True), (False, False), ("false", False), (None, False)])
def test_needs_source_is_read_as_ansible_reads_a_boolean(needs_source: object, source_missing: bool) -> None:
    found = gunicorn_problems({}, needs_source=needs_source)  # type: ignore[arg-type]
    assert ("gunicorn_app_src" in [problem["variable"] for problem in found]) is source_missing


def test_absent_lists_of_the_role_are_empty() -> None:
    # Jinja passes None for an undefined-but-defaulted list: no worker class is known, no directive may be overridden.
    found = gunicorn_problems({"gunicorn_app_src": "/"}, worker_classes=None, sandbox_directives=None)  # type: ignore[arg-type]
    assert found == gunicorn_checks.problems({"gunicorn_app_src": "/"}, True, [], [])
