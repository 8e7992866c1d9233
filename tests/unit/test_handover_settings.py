"""fasterapi_handover reads what it waits for from the host: the unit and the installed gunicorn.conf.py."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from _load import load_module

handover = load_module("roles/gunicorn/files/venv/fasterapi_handover.py", "fasterapi_handover")

# As systemd 252 (Debian 12) and 257 (Debian 13) print them (systemctl show -p ExecStart,Environment).
EXEC_START = ("{{ path=/opt/shop/current/venv/bin/python ; argv[]=/opt/shop/current/venv/bin/python "
              "/opt/shop/current/venv/bin/gunicorn --config {config} ; ignore_errors=no ; start_time=[n/a] ; "
              "stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }}")
ENVIRONMENT = ('"PATH=/opt/shop/current/venv/bin:/usr/bin:/bin" PYTHONUNBUFFERED=1 '
               'FASTERAPI_WORKER_READY_DIR=/run/shop/ready "A=1 2"')

CONFIG = """
bind = {bind!r}
workers = 3
worker_class = {worker_class!r}
graceful_timeout = 12
pidfile = "/run/shop/gunicorn.pid"
fasterapi_health_path = "/health"
fasterapi_health_status = [200, 204]
fasterapi_rolling_timeout = 45
"""


def _unit(monkeypatch: pytest.MonkeyPatch, config: Path, environment: str = ENVIRONMENT,
          load_state: str = "loaded") -> None:
    shown = {"ExecStart": EXEC_START.format(config=config), "Environment": environment, "LoadState": load_state}
    monkeypatch.setattr(handover, "systemd_show", lambda unit, properties="": shown)


@pytest.fixture()
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(bind: list[str] | None = None, worker_class: str = "fasterapi_deploy_worker.DrainingUvicornWorker",
              extra: str = "") -> Path:
        path = tmp_path / "gunicorn.conf.py"
        path.write_text(CONFIG.format(bind=bind or ["127.0.0.1:8000"], worker_class=worker_class) + extra)
        return path
    return write


def test_settings_come_from_the_installed_config(monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path]) -> None:
    config = write_config(bind=["0.0.0.0:9000", "unix:/run/shop/app.sock"])
    _unit(monkeypatch, config)
    conf = handover.load_settings("shop.service")
    assert conf.config == str(config)
    assert conf.workers == 3
    assert conf.pidfile == "/run/shop/gunicorn.pid"
    assert conf.graceful_timeout == 12
    assert conf.health_url == "http://127.0.0.1:9000/health"  # the wildcard probed on loopback
    assert conf.health_unix_socket is None
    assert conf.health_status == [200, 204]
    assert conf.rolling_timeout == 45
    assert conf.ready_dir == "/run/shop/ready"


def test_gunicorn_cmd_args_in_the_unit_win_over_the_file(monkeypatch: pytest.MonkeyPatch,
                                                         write_config: Callable[..., Path]) -> None:
    _unit(monkeypatch, write_config(), ENVIRONMENT + ' "GUNICORN_CMD_ARGS=--workers 7 --bind [::]:8100"')
    conf = handover.load_settings("shop.service")
    assert conf.workers == 7
    assert conf.health_url == "http://[::1]:8100/health"


@pytest.mark.parametrize(("bind", "url", "unix_socket"), [
    (["fd://3", "unix:/run/shop/s.sock"], "http://localhost/health", "/run/shop/s.sock"),
    (["[2001:db8::1]:8443"], "http://[2001:db8::1]:8443/health", None),
    (["localhost"], "http://localhost:8000/health", None),
])
def test_the_probe_is_the_first_tcp_or_unix_bind(monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path],
                                                 bind: list[str], url: str, unix_socket: str | None) -> None:
    _unit(monkeypatch, write_config(bind=bind))
    conf = handover.load_settings("shop.service")
    assert (conf.health_url, conf.health_unix_socket) == (url, unix_socket)


def test_other_worker_classes_have_no_ready_dir(monkeypatch: pytest.MonkeyPatch,
                                                write_config: Callable[..., Path]) -> None:
    _unit(monkeypatch, write_config(worker_class="uvicorn_worker.UvicornWorker"))
    assert handover.load_settings("shop.service").ready_dir == ""


def test_a_config_from_an_older_collection_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "gunicorn.conf.py"
    config.write_text('bind = ["127.0.0.1:8000"]\npidfile = "/run/shop/gunicorn.pid"\n')
    _unit(monkeypatch, config)
    with pytest.raises(handover.HandoverError, match="no fasterapi_health_path.*apply the role"):
        handover.load_settings("shop.service")


def test_a_broken_config_is_named(monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path]) -> None:
    _unit(monkeypatch, write_config(extra="raise RuntimeError('boom')\n"))
    with pytest.raises(handover.HandoverError, match="cannot load .*gunicorn.conf.py: RuntimeError: boom"):
        handover.load_settings("shop.service")


def test_a_unit_that_is_not_installed(monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path]) -> None:
    _unit(monkeypatch, write_config(), load_state="not-found")
    with pytest.raises(handover.HandoverError, match="not installed"):
        handover.load_settings("shop.service")


def test_a_unit_without_a_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handover, "systemd_show", lambda unit, properties="": {"ExecStart": "", "LoadState": "loaded"})
    with pytest.raises(handover.HandoverError, match=r"cannot read the unit's ExecStart= \(''\)"):
        handover.load_settings("shop.service")


def test_exec_start_and_environment_parsing() -> None:
    assert handover.exec_start_argv(EXEC_START.format(config="/etc/shop/gunicorn.conf.py")) == [
        "/opt/shop/current/venv/bin/python", "/opt/shop/current/venv/bin/gunicorn", "--config",
        "/etc/shop/gunicorn.conf.py"]
    assert handover.unit_environment(ENVIRONMENT)["A"] == "1 2"
    assert handover.gunicorn_arguments(["/x/python", "/x/gunicorn", "-c", "f.py"]) == ["-c", "f.py"]
    with pytest.raises(handover.HandoverError, match="does not run gunicorn"):
        handover.gunicorn_arguments(["/usr/bin/uvicorn", "main:app"])


def test_wait_gives_up_with_the_last_answer(monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path]) -> None:
    _unit(monkeypatch, write_config(bind=["127.0.0.1:1"]))
    conf = handover.load_settings("shop.service")
    with pytest.raises(handover.HandoverError, match=r"127.0.0.1:1/health did not answer with 200 or 204 within 0 s"):
        handover.wait_healthy(conf, 0)
