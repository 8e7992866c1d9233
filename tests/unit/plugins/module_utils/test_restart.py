"""plugins/module_utils/restart.py: which restart is owed and how, and what a failure report shows."""

from __future__ import annotations

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import restart


@pytest.mark.parametrize(("marker", "force", "kind"), [
    (None, "", ""), ("", "", ""), ("rolling\n", "", "rolling"), ("full\n", "", "full"),
    ("rolling\n", "full", "full"), ("full\n", "rolling", "full"), (None, "rolling", "rolling"), ("garbage", "", ""),
])
def test_owed_full_wins(marker: str | None, force: str, kind: str) -> None:
    assert restart.owed(marker, force) == kind


@pytest.mark.parametrize(("kind", "strategy", "active", "how"), [
    ("", "rolling", "active", ""),
    ("rolling", "rolling", "active", "rolling"),
    ("rolling", "rolling", "inactive", "full"),
    ("rolling", "rolling", "failed", "full"),
    ("full", "rolling", "active", "full"),
    ("rolling", "restart", "active", "full"),
])
def test_decide(kind: str, strategy: str, active: str, how: str) -> None:
    assert restart.decide(kind, strategy, active) == how


def test_why_full() -> None:
    assert restart.why_full("rolling", "rolling", "inactive") == "the unit was not running"
    assert restart.why_full("rolling", "restart", "active") == "gunicorn_restart_strategy is restart"
    assert restart.why_full("full", "rolling", "active") == "the unit or a credential changed"


def test_report_lines_puts_the_apps_errors_first_without_access_lines() -> None:
    journal = [
        "[2026-11-26 00:00:00 +0000] [7] [INFO] Booting worker with pid: 7",
        '127.0.0.1 "GET /version HTTP/1.1" 200 19 812μs',
        "[2026-11-26 00:00:01 +0000] [7] [ERROR] Exception in worker process",
        "Traceback (most recent call last):",
        '  File "/opt/app/current/app/main.py", line 9, in lifespan',
        "    raise RuntimeError('startup failed on purpose')",
        "RuntimeError: startup failed on purpose",
        "[2026-11-26 00:00:01 +0000] [7] [INFO] Worker exiting (pid: 7)",
    ]
    lines = restart.report_lines(journal)
    errors = lines[:lines.index("--- last lines ---")]
    assert errors == journal[2:7]
    assert not any("GET /version" in line for line in lines)
    assert lines[-1] == journal[-1]


def test_report_lines_keeps_the_last_errors_only() -> None:
    journal = ["[x] [1] [ERROR] error %d" % n for n in range(40)]
    lines = restart.report_lines(journal, errors=15, last=5)
    assert lines[:15] == journal[25:] and lines[16:] == journal[35:]


def test_rolling_summary_names_what_was_read_from_the_host() -> None:
    said = restart.rolling_summary({"old_master": 10, "new_master": 20, "workers": 3, "seconds_to_ready": 1.4,
                                    "health_url": "http://127.0.0.1:8000/health", "config": "/etc/shop/gunicorn.conf.py"})
    assert said == ("rolling restart, master 10 -> 20, 3 workers ready 1.4 s after USR2, "
                    "http://127.0.0.1:8000/health answered (as installed in /etc/shop/gunicorn.conf.py)")


def test_report_lines_show_the_apps_startup_error_not_gunicorns_halt() -> None:
    # The journal of a release whose lifespan startup fails, as gunicorn 27 and uvicorn 0.54 write it.
    journal = [
        "[2026-11-26 01:58:01 +0000] [5780] [INFO] Starting gunicorn 27.0.1",
        "[2026-11-26 01:58:01 +0000] [5781] [INFO] Waiting for application startup.",
        "[2026-11-26 01:58:01 +0000] [5781] [ERROR] startup failed on purpose (SAMPLE_APP_FAIL_STARTUP)",
        "[2026-11-26 01:58:01 +0000] [5781] [ERROR] Application startup failed. Exiting.",
        "[2026-11-26 01:58:01 +0000] [5780] [ERROR] Worker (pid:5781) exited with code 3",
        "Traceback (most recent call last):",
    ] + ['  File "/opt/x/venv/lib/python3.11/site-packages/gunicorn/arbiter.py", line %d, in run' % n for n in range(20)] + [
        "gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>",
        "[2026-11-26 01:58:02 +0000] [5780] [INFO] Shutting down: Master",
    ]
    lines = restart.report_lines(journal)
    errors = lines[:lines.index("--- last lines ---")]
    assert errors == journal[2:5]


def test_report_lines_keep_the_innermost_frames_of_an_apps_traceback() -> None:
    journal = ["Traceback (most recent call last):"] + ["  frame %d" % n for n in range(30)] + [
        "ModuleNotFoundError: No module named 'module_that_does_not_exist'"]
    lines = restart.report_lines(journal)
    assert lines[:lines.index("--- last lines ---")] == [journal[0]] + ["  frame %d" % n for n in range(25, 30)] + [journal[-1]]
