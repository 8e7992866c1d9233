"""Every refusal of the gunicorn role's variables (plugins/plugin_utils/gunicorn_checks.py), without a host.

The cases apply one bad setting (as --extra-vars would) over the settings of
molecule/hardening/bad_input.yml (the converged app): the 39 cases that
scenario used to run against live hosts, then the ones added since. Each
asserts the variable at fault and the text the operator reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2.nativetypes import NativeEnvironment

from ansible_collections.fasterapi.deploy.plugins.plugin_utils import gunicorn_checks

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "gunicorn"
DEFAULTS: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
ROLE_VARS: dict[str, Any] = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
SAMPLE_APP = str(ROOT / "tests" / "sample_app")
# molecule/hardening/bad_input.yml's play and role vars (the converged app).
CONVERGED: dict[str, Any] = {
    "gunicorn_app_src": SAMPLE_APP, "gunicorn_health_path": "/health", "gunicorn_workers": 2,
    "gunicorn_bind": ["127.0.0.1:8000", "127.0.0.1:80"], "gunicorn_systemd_privileged_ports": True,
    "gunicorn_systemd_read_write_paths": ["/srv/fasterapi-uploads"], "gunicorn_timeout": 5,
    "gunicorn_environment": {"SAMPLE_APP_PROBES": "1", "SAMPLE_APP_SECRET": "s3cr3t-converge-0001"},
}


def settings(*layers: dict[str, Any], vcpus: int = 2) -> dict[str, Any]:
    """The role's defaults with LAYERS on top, templates rendered as Ansible would (native types)."""
    merged: dict[str, Any] = {**DEFAULTS}
    for layer in layers:
        merged.update(layer)
    env = NativeEnvironment()
    context = {"ansible_facts": {"processor_vcpus": vcpus}}
    for _round in range(5):
        rendered = {name: env.from_string(value).render({**merged, **context}) if isinstance(value, str) and "{{" in value else value
                    for name, value in merged.items()}
        if rendered == merged:
            break
        merged = rendered
    return merged


def problems(extra: dict[str, Any], needs_source: bool = True, base: dict[str, Any] | None = None) -> list[dict[str, str]]:
    return gunicorn_checks.problems(settings(CONVERGED if base is None else base, extra), needs_source=needs_source,
                                    worker_classes=ROLE_VARS["_gunicorn_worker_classes_known"],
                                    sandbox_directives=list(ROLE_VARS["_gunicorn_sandbox"]))


# name: (extra vars, variable at fault, fragments of its message)
MOLECULE_CASES: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "app name": ({"gunicorn_app_name": "Bad Name"}, "gunicorn_app_name", ['gunicorn_app_name="Bad Name"', "expected 1-31 characters"]),
    "app module": ({"gunicorn_app_module": "main"}, "gunicorn_app_module", ['gunicorn_app_module="main"', "module:callable"]),
    "root user": ({"gunicorn_user": "root"}, "gunicorn_user", ['gunicorn_user="root"', "must not run as root"]),
    "empty bind": ({"gunicorn_bind": []}, "gunicorn_bind", ["gunicorn_bind is empty", "expected at least one address"]),
    "port range": ({"gunicorn_bind": ["127.0.0.1:99999"]}, "gunicorn_bind", ["gunicorn_bind", "127.0.0.1:99999", "outside 1-65535"]),
    "relative unix socket": ({"gunicorn_bind": ["unix:app.sock"]}, "gunicorn_bind", ["gunicorn_bind", "unix:app.sock", "absolute file path"]),
    "ipv6 without brackets": ({"gunicorn_bind": ["::1:8000"]}, "gunicorn_bind", ["gunicorn_bind", "::1:8000", "in brackets"]),
    "privileged port": ({"gunicorn_systemd_privileged_ports": False}, "gunicorn_bind",
                        ["gunicorn_bind", "127.0.0.1:80", "below 1024", "gunicorn_systemd_privileged_ports=true"]),
    "public bind, loopback allow-list": ({"gunicorn_bind": ["0.0.0.0:8000"]}, "gunicorn_systemd_ip_address_allow",
                                         ["gunicorn_systemd_ip_address_allow", "only loopback may connect", "0.0.0.0:8000"]),
    "allow-list entry": ({"gunicorn_systemd_ip_address_allow": ["localhost", "db.example.org"]}, "gunicorn_systemd_ip_address_allow",
                         ["gunicorn_systemd_ip_address_allow", "'db.example.org' is not an IP address or CIDR prefix"]),
    "no workers": ({"gunicorn_workers": 0}, "gunicorn_workers", ["gunicorn_workers=0", "1 or more"]),
    # The argument spec refuses it first in the main entry point; the filter too, for the others.
    "workers not a number": ({"gunicorn_workers": "many"}, "gunicorn_workers", ['gunicorn_workers="many"', "a whole number"]),
    "timeout zero": ({"gunicorn_timeout": 0}, "gunicorn_timeout", ["gunicorn_timeout=0", "above 0"]),
    "graceful beyond stop": ({"gunicorn_graceful_timeout": 60, "gunicorn_systemd_timeout_stop_sec": 45}, "gunicorn_systemd_timeout_stop_sec",
                             ["gunicorn_systemd_timeout_stop_sec=45", "gunicorn_graceful_timeout=60"]),
    "keepalive negative": ({"gunicorn_keepalive": -1}, "gunicorn_keepalive", ["gunicorn_keepalive=-1", "0 or more"]),
    "health path": ({"gunicorn_health_path": "health"}, "gunicorn_health_path", ['gunicorn_health_path="health"', "starting with /"]),
    "health status": ({"gunicorn_health_status": [700]}, "gunicorn_health_status", ["gunicorn_health_status=[700]", "100 to 599"]),
    "worker class syntax": ({"gunicorn_worker_class": "not a class"}, "gunicorn_worker_class",
                            ['gunicorn_worker_class="not a class"', "dotted path"]),
    "env name digit": ({"gunicorn_environment": {"1BAD": "x"}}, "gunicorn_environment", ["gunicorn_environment", "1BAD", "not starting with a digit"]),
    "env name dash": ({"gunicorn_environment": {"BAD-NAME": "x"}}, "gunicorn_environment", ["gunicorn_environment", "BAD-NAME", "letters, digits and _"]),
    "control socket mode": ({"gunicorn_control_socket_mode": "999"}, "gunicorn_control_socket_mode",
                            ['gunicorn_control_socket_mode="999"', "octal mode"]),
    "relative base dir": ({"gunicorn_base_dir": "opt/app"}, "gunicorn_base_dir", ['gunicorn_base_dir="opt/app"', "absolute paths"]),
    "installer": ({"gunicorn_installer": "conda"}, "gunicorn_installer", ["gunicorn_installer", "conda", "uv, pip"]),
    "restart strategy": ({"gunicorn_restart_strategy": "sometimes"}, "gunicorn_restart_strategy",
                         ["gunicorn_restart_strategy", "sometimes", "rolling, restart"]),
    "writable code": ({"gunicorn_systemd_read_write_paths": ["/opt/fasterapi/current/app"]}, "gunicorn_systemd_read_write_paths",
                      ["gunicorn_systemd_read_write_paths", "/opt/fasterapi/current/app", "code and venvs"]),
    "relative writable path": ({"gunicorn_systemd_read_write_paths": ["uploads"]}, "gunicorn_systemd_read_write_paths",
                               ["gunicorn_systemd_read_write_paths", "uploads", "absolute paths"]),
    "unknown sandbox directive": ({"gunicorn_systemd_sandbox_overrides": {"MemoryDenyWriteExec": "no"}}, "gunicorn_systemd_sandbox_overrides",
                                  ["gunicorn_systemd_sandbox_overrides", "MemoryDenyWriteExec", "not in the role's sandbox"]),
    "socket activation of a host name": ({"gunicorn_systemd_socket_activation": True, "gunicorn_bind": ["localhost:8000"]}, "gunicorn_bind",
                                         ["gunicorn_bind", "localhost:8000", "IP addresses and unix paths only"]),
    "drain seconds": ({"gunicorn_worker_drain_seconds": -1}, "gunicorn_worker_drain_seconds", ["gunicorn_worker_drain_seconds=-1", "from 0 to 3600"]),
    "releases to keep": ({"gunicorn_releases_keep": 0}, "gunicorn_releases_keep", ["gunicorn_releases_keep=0", "1 or more"]),
    "two sources": ({"gunicorn_app_package": "myapp==1.0"}, "gunicorn_app_src", ["more than one source", "gunicorn_app_src", "gunicorn_app_package"]),
    "archive url without checksum": ({"gunicorn_app_src": "", "gunicorn_app_archive": "https://example.org/app.tar.gz"}, "gunicorn_app_archive",
                                     ['gunicorn_app_archive="https://example.org/app.tar.gz"', "sha256:<hex>"]),
    "max requests": ({"gunicorn_max_requests": -5}, "gunicorn_max_requests", ["gunicorn_max_requests=-5", "0 (off) or more"]),
    "python path": ({"gunicorn_python": "python3"}, "gunicorn_python", ['gunicorn_python="python3"', "absolute path"]),
    "gunicorn version": ({"gunicorn_version": "latest"}, "gunicorn_version", ['gunicorn_version="latest"', "release number to pin"]),
    "index url": ({"gunicorn_pip_index_url": "pypi.internal/simple"}, "gunicorn_pip_index_url",
                  ['gunicorn_pip_index_url="pypi.internal/simple"', "http(s) URL"]),
    "extra setting name": ({"gunicorn_extra_settings": {"Bad-Name": 1}}, "gunicorn_extra_settings",
                           ["gunicorn_extra_settings", "Bad-Name", "gunicorn setting names"]),
    "trusted host": ({"gunicorn_pip_extra_args": ["--trusted-host", "pypi.org"]}, "gunicorn_pip_extra_args", ["gunicorn_pip_extra_args", "--trusted-host"]),
}

NEW_CASES: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "migrate commands as a string": ({"gunicorn_migrate_commands": "alembic upgrade head"}, "gunicorn_migrate_commands",
                                     ['gunicorn_migrate_commands="alembic upgrade head"', "expected a list"]),
    "empty contract command": ({"gunicorn_contract_commands": ["alembic upgrade head", " "]}, "gunicorn_contract_commands",
                               ["gunicorn_contract_commands", "non-empty strings"]),
    "release command not a string": ({"gunicorn_release_commands": [["make", "assets"]]}, "gunicorn_release_commands",
                                     ["gunicorn_release_commands", "shell commands"]),
    "migrate host not a name": ({"gunicorn_migrate_host": ["app1"]}, "gunicorn_migrate_host", ["gunicorn_migrate_host", "inventory name"]),
    "log rotate": ({"gunicorn_log_rotate": 0}, "gunicorn_log_rotate", ["gunicorn_log_rotate=0", "rotated files to keep, 1 or more"]),
    "max memory": ({"gunicorn_worker_max_memory_mb": -5}, "gunicorn_worker_max_memory_mb", ["gunicorn_worker_max_memory_mb=-5", "0 (off) or more"]),
    "max age": ({"gunicorn_worker_max_age": "soon"}, "gunicorn_worker_max_age", ["gunicorn_worker_max_age", "0 (off) or more"]),
    "env max memory": ({"gunicorn_environment": {"FASTERAPI_WORKER_MAX_MEMORY_MB": "1"}}, "gunicorn_environment",
                       ["gunicorn_worker_max_memory_mb"]),
    # Module paths gunicorn cannot import.
    "module as a file name": ({"gunicorn_app_module": "main.py:app"}, "gunicorn_app_module", ["main.py:app", "without .py"]),
    "module as a path": ({"gunicorn_app_module": "src/main:app"}, "gunicorn_app_module", ["src/main:app", "with dots"]),
    "module without callable": ({"gunicorn_app_module": "main:"}, "gunicorn_app_module", ['"main:"', "not an attribute name"]),
    "callable with trailing dot": ({"gunicorn_app_module": "main:app."}, "gunicorn_app_module", ["main:app.", "not an attribute name"]),
    "factory call unclosed": ({"gunicorn_app_module": "main:create_app("}, "gunicorn_app_module", ["create_app(", "factory call"]),
    "module with a keyword": ({"gunicorn_app_module": "api.class.main:app"}, "gunicorn_app_module", ["class is a Python keyword"]),
    "module with a double dot": ({"gunicorn_app_module": "api..main:app"}, "gunicorn_app_module", ["not a dotted module path"]),
    "module not a string": ({"gunicorn_app_module": 42}, "gunicorn_app_module", ["gunicorn_app_module=42", "not a string"]),
    # Reserved account, group and unit names.
    "app name of a system account": ({"gunicorn_app_name": "nobody"}, "gunicorn_app_name", ['"nobody"', "system account or unit"]),
    "app name of a system unit": ({"gunicorn_app_name": "ssh"}, "gunicorn_app_name", ['"ssh"', "system account or unit"]),
    "app name of systemd": ({"gunicorn_app_name": "systemd-resolved"}, "gunicorn_app_name", ["system account or unit"]),
    "user nobody": ({"gunicorn_user": "nobody"}, "gunicorn_user", ['gunicorn_user="nobody"', "account of the system or another service"]),
    "user www-data": ({"gunicorn_user": "www-data"}, "gunicorn_user", ['gunicorn_user="www-data"', "app's own"]),
    "group shadow": ({"gunicorn_group": "shadow"}, "gunicorn_group", ['gunicorn_group="shadow"', "account of the system"]),
    "group sudo": ({"gunicorn_group": "sudo"}, "gunicorn_group", ['gunicorn_group="sudo"', "account of the system"]),
    "group root by id": ({"gunicorn_group": "0"}, "gunicorn_group", ['gunicorn_group="0"', "must not run as root"]),
    "release user syntax": ({"gunicorn_release_commands_user": "Deploy User"}, "gunicorn_release_commands_user", ["an account name"]),
    # Worker classes that cannot serve an ASGI app.
    "sync worker": ({"gunicorn_worker_class": "sync"}, "gunicorn_worker_class", ['"sync"', "cannot serve an ASGI app"]),
    "gthread worker": ({"gunicorn_worker_class": "gthread"}, "gunicorn_worker_class", ['"gthread"', "WSGI worker class"]),
    "gevent worker path": ({"gunicorn_worker_class": "gunicorn.workers.ggevent.GeventWorker"}, "gunicorn_worker_class",
                           ["GeventWorker", "cannot serve an ASGI app"]),
    "egg worker": ({"gunicorn_worker_class": "egg:gunicorn#eventlet"}, "gunicorn_worker_class", ["cannot serve an ASGI app"]),
    # Environment values no process environment can hold intact (never shown).
    "env value with a nul": ({"gunicorn_environment": {"TOKEN": "a\x00b"}}, "gunicorn_environment",
                             ['"TOKEN"', "cannot be given to the app intact", "NUL", "gunicorn_credentials"]),
    "env value not unicode": ({"gunicorn_environment": {"TOKEN": "a\udc80b"}}, "gunicorn_environment", ['"TOKEN"', "valid Unicode"]),
    "env value too long": ({"gunicorn_environment": {"BLOB": "x" * 131072}}, "gunicorn_environment", ['"BLOB"', "128 KiB"]),
    # Credentials (systemd's LoadCredential=) and metrics.
    "credential bad name": ({"gunicorn_credentials": {"../x": {"content": "a"}}}, "gunicorn_credentials", ['"../x"', "file name"]),
    "credential two sources": ({"gunicorn_credentials": {"key": {"content": "a", "src": "/etc/hostname"}}},
                               "gunicorn_credentials.key", ["either src", "(not shown)"]),
    "credential a string": ({"gunicorn_credentials": {"key": "s3cr3t"}}, "gunicorn_credentials.key", ["either src"]),
    "credential relative src": ({"gunicorn_credentials": {"key": {"src": "files/tls.key"}}}, "gunicorn_credentials.key.src",
                                ['"files/tls.key"', "absolute path"]),
    "credential missing src": ({"gunicorn_credentials": {"key": {"src": "/nonexistent/tls.key"}}}, "gunicorn_credentials.key.src",
                               ["absolute path of a file on the controller"]),
    "credential nul content": ({"gunicorn_credentials": {"key": {"content": "a\x00b"}}}, "gunicorn_credentials.key.content",
                               ["binary data comes from a file"]),
    "statsd no port": ({"gunicorn_statsd_host": "127.0.0.1"}, "gunicorn_statsd_host", ['"127.0.0.1"', "HOST:PORT"]),
    "statsd name filtered": ({"gunicorn_statsd_host": "statsd.example.org:8125"}, "gunicorn_statsd_host",
                             ["expected an IP address", "IPAddressAllow"]),
    "statsd prefix": ({"gunicorn_statsd_prefix": "my app"}, "gunicorn_statsd_prefix", ['"my app"', "prefix"]),
    "extra statsd_host": ({"gunicorn_extra_settings": {"statsd_host": "127.0.0.1:8125"}}, "gunicorn_extra_settings",
                          ['"statsd_host"', "gunicorn_statsd_host"]),
    "env prometheus dir": ({"gunicorn_environment": {"PROMETHEUS_MULTIPROC_DIR": "/tmp/p"}, "gunicorn_prometheus_multiproc": True},
                           "gunicorn_environment", ['"PROMETHEUS_MULTIPROC_DIR"', "gunicorn_prometheus_multiproc"]),
    "env keys of the file": ({"gunicorn_environment": {"FASTERAPI_ENVIRONMENT_KEYS": "A"}}, "gunicorn_environment",
                             ['"FASTERAPI_ENVIRONMENT_KEYS"', "lists its variables"]),
    "env value a list": ({"gunicorn_environment": {"HOSTS": ["a", "b"]}}, "gunicorn_environment", ['"HOSTS"', "a list"]),
    "env value a mapping": ({"gunicorn_environment": {"CONF": {"a": 1}}}, "gunicorn_environment", ['"CONF"', "a mapping"]),
    "env value null": ({"gunicorn_environment": {"EMPTY": None}}, "gunicorn_environment", ['"EMPTY"', "null"]),
    "env not a mapping": ({"gunicorn_environment": ["A=1"]}, "gunicorn_environment", ["gunicorn_environment=<list, not shown>", "a mapping"]),
    # Environment names the unit or systemd set.
    "env PATH": ({"gunicorn_environment": {"PATH": "/usr/bin"}}, "gunicorn_environment", ['"PATH"', "venv first"]),
    "env GUNICORN_CMD_ARGS": ({"gunicorn_environment": {"GUNICORN_CMD_ARGS": "--daemon"}}, "gunicorn_environment",
                              ['"GUNICORN_CMD_ARGS"', "gunicorn_extra_settings"]),
    "env LISTEN_FDS": ({"gunicorn_environment": {"LISTEN_FDS": "1"}}, "gunicorn_environment", ['"LISTEN_FDS"', "systemd sets it"]),
    "env drain seconds": ({"gunicorn_environment": {"FASTERAPI_WORKER_DRAIN_SECONDS": "1"}}, "gunicorn_environment",
                          ["gunicorn_worker_drain_seconds"]),
    # gunicorn_extra_settings that break the hand-over, the sandbox or the role's own settings.
    "extra reuse_port": ({"gunicorn_extra_settings": {"reuse_port": True}}, "gunicorn_extra_settings", ['"reuse_port"', "hand-over"]),
    "extra daemon": ({"gunicorn_extra_settings": {"daemon": True}}, "gunicorn_extra_settings", ['"daemon"', "Type=notify"]),
    "extra user": ({"gunicorn_extra_settings": {"user": "www-data"}}, "gunicorn_extra_settings", ['"user"', "gunicorn_user"]),
    "extra initgroups": ({"gunicorn_extra_settings": {"initgroups": True}}, "gunicorn_extra_settings", ['"initgroups"', "CAP_SETGID"]),
    "extra raw_env": ({"gunicorn_extra_settings": {"raw_env": ["A=1"]}}, "gunicorn_extra_settings", ['"raw_env"', "gunicorn_environment"]),
    "extra pidfile": ({"gunicorn_extra_settings": {"pidfile": "/tmp/g.pid"}}, "gunicorn_extra_settings", ['"pidfile"', "hand-over"]),
    "extra chdir": ({"gunicorn_extra_settings": {"chdir": "/srv"}}, "gunicorn_extra_settings", ['"chdir"', "release layout"]),
    "extra on_exit": ({"gunicorn_extra_settings": {"on_exit": "x"}}, "gunicorn_extra_settings", ['"on_exit"', "left out"]),
    "extra workers": ({"gunicorn_extra_settings": {"workers": 4}}, "gunicorn_extra_settings", ['"workers"', "from gunicorn_workers"]),
    "extra bind": ({"gunicorn_extra_settings": {"bind": ["0.0.0.0:80"]}}, "gunicorn_extra_settings", ['"bind"', "from gunicorn_bind"]),
    "extra check_config": ({"gunicorn_extra_settings": {"check_config": True}}, "gunicorn_extra_settings", ['"check_config"', "exit"]),
    "extra umask": ({"gunicorn_extra_settings": {"umask": 0}}, "gunicorn_extra_settings", ['"umask"', "UMask=0027"]),
    "extra worker_tmp_dir read-only": ({"gunicorn_extra_settings": {"worker_tmp_dir": "/opt/fasterapi/tmp"}}, "gunicorn_extra_settings",
                                       ['"worker_tmp_dir"="/opt/fasterapi/tmp"', "may write"]),
    # Settings that contradict each other.
    "reload with preload": ({"gunicorn_extra_settings": {"reload": True}}, "gunicorn_extra_settings",
                            ['"reload"', "gunicorn_preload_app=true"]),
    "drain longer than graceful": ({"gunicorn_worker_drain_seconds": 5, "gunicorn_graceful_timeout": 3}, "gunicorn_worker_drain_seconds",
                                   ["gunicorn_worker_drain_seconds=5", "less than gunicorn_graceful_timeout=3"]),
    "config dir inside base dir": ({"gunicorn_config_dir": "/opt/fasterapi/etc"}, "gunicorn_config_dir",
                                   ['gunicorn_config_dir="/opt/fasterapi/etc"', "apart from gunicorn_base_dir=/opt/fasterapi"]),
    "unix socket in the code": ({"gunicorn_bind": ["unix:/opt/fasterapi/app.sock"]}, "gunicorn_bind", ["unix:/opt/fasterapi/app.sock", "read-only"]),
    "log file outside the log dir": ({"gunicorn_accesslog": "/srv/logs/access.log"}, "gunicorn_accesslog",
                                     ['gunicorn_accesslog="/srv/logs/access.log"', "below gunicorn_log_dir=/var/log/fasterapi"]),
    "log file relative": ({"gunicorn_errorlog": "error.log"}, "gunicorn_errorlog", ['gunicorn_errorlog="error.log"', "below gunicorn_log_dir"]),
    "log dir outside /var/log": ({"gunicorn_accesslog": "/srv/log/a.log", "gunicorn_log_dir": "/srv/log"}, "gunicorn_log_dir",
                                 ['gunicorn_log_dir="/srv/log"', "below /var/log/"]),
    "fd binds only": ({"gunicorn_bind": ["fd://3"]}, "gunicorn_bind", ["at least one of them TCP or unix"]),
    "duplicate binds": ({"gunicorn_bind": ["127.0.0.1:8000", "127.0.0.1:8000"]}, "gunicorn_bind", ["expected distinct addresses"]),
    "bind as a string": ({"gunicorn_bind": "127.0.0.1:8000"}, "gunicorn_bind", ["expected a list of addresses"]),
    # Directories the role would take over.
    "base dir top level": ({"gunicorn_base_dir": "/opt"}, "gunicorn_base_dir", ['gunicorn_base_dir="/opt"', "not a top-level directory"]),
    "base dir root": ({"gunicorn_base_dir": "/"}, "gunicorn_base_dir", ['gunicorn_base_dir="/"', "absolute paths"]),
    "config dir of the system": ({"gunicorn_config_dir": "/etc/systemd"}, "gunicorn_config_dir", ['"/etc/systemd"', "directory of the system"]),
    "base dir not normalized": ({"gunicorn_base_dir": "/opt/app/../etc"}, "gunicorn_base_dir", ['"/opt/app/../etc"', "normalized"]),
    "base dir trailing slash": ({"gunicorn_base_dir": "/opt/app/"}, "gunicorn_base_dir", ['"/opt/app/"', "normalized"]),
    "writable config dir": ({"gunicorn_systemd_read_write_paths": ["/etc/fasterapi"]}, "gunicorn_systemd_read_write_paths",
                            ["/etc/fasterapi", "outside /opt/fasterapi"]),
    "writable system dir": ({"gunicorn_systemd_read_write_paths": ["/etc/cron.d"]}, "gunicorn_systemd_read_write_paths",
                            ["/etc/cron.d", "the system's directories"]),
    "writable shared dir": ({"gunicorn_systemd_read_write_paths": ["/var/lib"]}, "gunicorn_systemd_read_write_paths", ['"/var/lib"', "shared directory"]),
    "sandbox override with a mapping": ({"gunicorn_systemd_sandbox_overrides": {"ProcSubset": {"a": 1}}}, "gunicorn_systemd_sandbox_overrides",
                                        ['"ProcSubset"', "list of strings"]),
    # Sources and options that git or pip would take as something else.
    "git version as an option": ({"gunicorn_app_src": "", "gunicorn_app_git_repo": "https://git.example.org/app.git",
                                  "gunicorn_app_git_version": "--upload-pack=touch /tmp/x"}, "gunicorn_app_git_version", ["not an option of git"]),
    "git version empty": ({"gunicorn_app_src": "", "gunicorn_app_git_repo": "https://git.example.org/app.git", "gunicorn_app_git_version": ""},
                          "gunicorn_app_git_version", ["a branch, tag or commit"]),
    "index url in pip arguments": ({"gunicorn_pip_extra_args": ["--index-url=https://user:token@pypi.internal/simple"]}, "gunicorn_pip_extra_args",
                                   ["never on its command line", "https://***@pypi.internal/simple"]),
    "missing code directory": ({"gunicorn_app_src": "/nonexistent/code"}, "gunicorn_app_src", ["not a directory on the controller"]),
    "missing wheel": ({"gunicorn_app_src": "", "gunicorn_app_package": "/nonexistent/app-1.0-py3-none-any.whl"}, "gunicorn_app_package",
                      [".whl file on the controller"]),
    "no source": ({"gunicorn_app_src": ""}, "gunicorn_app_src", ["are all empty"]),
    "loglevel for entry points without a spec": ({"gunicorn_loglevel": "verbose"}, "gunicorn_loglevel", ["debug, info, warning"]),
    "git deploy key missing": ({"gunicorn_app_src": "", "gunicorn_app_git_repo": "git@git.example.org:app.git",
                                "gunicorn_app_git_key_file": "/nonexistent/deploy_key"}, "gunicorn_app_git_key_file",
                               ["a private key file on the controller"]),
    "git known hosts not known_hosts lines": ({"gunicorn_app_git_known_hosts": ["AAAAC3NzaC1lZDI1NTE5"]}, "gunicorn_app_git_known_hosts",
                                              ["ssh-keyscan output"]),
    # Proxies in front (fasterapi.deploy.nginx on other hosts).
    "trusted proxy a name": ({"gunicorn_trusted_proxies": ["nginx.example.org"]}, "gunicorn_trusted_proxies",
                             ["gunicorn_trusted_proxies", "nginx.example.org", "IP addresses or CIDR prefixes"]),
    "trusted proxy any": ({"gunicorn_trusted_proxies": ["any"]}, "gunicorn_trusted_proxies", ['["any"]', "loopback is trusted"]),
    "forwarded_allow_ips by hand": ({"gunicorn_extra_settings": {"forwarded_allow_ips": "*"}}, "gunicorn_extra_settings",
                                    ['"forwarded_allow_ips"', "gunicorn_trusted_proxies"]),
    # Hosts without a package index.
    "offline with a git source": ({"gunicorn_app_src": "", "gunicorn_app_git_repo": "https://git.example.org/app.git", "gunicorn_offline": True},
                                  "gunicorn_offline", ["gunicorn_offline=true with gunicorn_app_git_repo", "gunicorn_app_src"]),
    "offline without the lock": ({"gunicorn_offline": True, "gunicorn_lock": False}, "gunicorn_lock", ["must stay true with gunicorn_offline"]),
    "find-links that are relative": ({"gunicorn_pip_find_links": ["wheels"]}, "gunicorn_pip_find_links", ["absolute paths on the host"]),
    "index timeout too long": ({"gunicorn_pip_index_timeout": 900}, "gunicorn_pip_index_timeout", ["1 to 300"]),
    # Companions and scheduled jobs (plugins/plugin_utils/companion_checks.py).
    "companion name": ({"gunicorn_companions": [{"name": "my worker", "command": "celery -A shop worker"}]}, "gunicorn_companions[0].name",
                       ['gunicorn_companions[0].name="my worker"', "letters, digits, _ and -"]),
    "companion name twice": ({"gunicorn_companions": [{"name": "worker", "command": "celery -A shop worker"},
                                                      {"name": "worker", "command": "arq shop.Settings"}]}, "gunicorn_companions[1].name",
                             ['gunicorn_companions[1].name="worker" is a duplicate of gunicorn_companions[0].name']),
    "timer named as a companion": ({"gunicorn_companions": [{"name": "sync", "command": "python -m shop.sync"}],
                                    "gunicorn_timers": [{"name": "sync", "command": "python -m shop.sync", "on_calendar": "daily"}]},
                                   "gunicorn_timers[0].name", ["is also a companion's name"]),
    "companion without a command": ({"gunicorn_companions": [{"name": "worker", "command": ""}]}, "gunicorn_companions[0].command",
                                    ["gunicorn_companions[0].command", "a command from the venv"]),
    "companion command unbalanced quote": ({"gunicorn_companions": [{"name": "worker", "command": "celery -A 'shop worker"}]},
                                           "gunicorn_companions[0].command", ["gunicorn_companions[0].command"]),
    "companion stop timeout below the longest job": ({"gunicorn_longest_job_seconds": 300,
                                                      "gunicorn_companions": [{"name": "worker", "command": "celery -A shop worker",
                                                                               "stop_timeout": 60}]},
                                                     "gunicorn_companions[0].stop_timeout",
                                                     ["gunicorn_companions[0].stop_timeout=60 is below gunicorn_longest_job_seconds=300",
                                                      "expected at least 300"]),
    "companion stop signal": ({"gunicorn_companions": [{"name": "worker", "command": "x", "stop_signal": "SIGSTOP"}]},
                              "gunicorn_companions[0].stop_signal", ['"SIGSTOP"', "SIGTERM"]),
    "companion instances": ({"gunicorn_companions": [{"name": "worker", "command": "x", "instances": 0}]},
                            "gunicorn_companions[0].instances", ["from 1 to 64"]),
    "singleton twice": ({"gunicorn_companions": [{"name": "beat", "command": "celery -A shop beat", "singleton": True, "instances": 2}]},
                        "gunicorn_companions[0].instances", ["expected 1 for a singleton"]),
    "companion unknown key": ({"gunicorn_companions": [{"name": "worker", "command": "x", "stop_timout": 60}]},
                              "gunicorn_companions[0]", ["unknown keys", "stop_timout"]),
    "companions not a list": ({"gunicorn_companions": {"name": "worker"}}, "gunicorn_companions", ["expected a list"]),
    "timer without a calendar": ({"gunicorn_timers": [{"name": "cleanup", "command": "python -m shop.cleanup"}]},
                                 "gunicorn_timers[0].on_calendar", ["OnCalendar= expression"]),
    "timer delay": ({"gunicorn_timers": [{"name": "cleanup", "command": "x", "on_calendar": "daily", "randomized_delay_sec": -1}]},
                    "gunicorn_timers[0].randomized_delay_sec", ["at least 0"]),
    "longest job negative": ({"gunicorn_longest_job_seconds": -1}, "gunicorn_longest_job_seconds", ["0 when not declared"]),
    "timer singleton": ({"gunicorn_timers": [{"name": "report", "command": "x", "on_calendar": "daily", "singleton": "maybe"}]},
                        "gunicorn_timers[0].singleton", ['gunicorn_timers[0].singleton="maybe"', "true or false"]),
}


def _check(extra: dict[str, Any], variable: str, fragments: list[str]) -> None:
    found = problems(extra)
    assert variable in [problem["variable"] for problem in found], found
    text = "\n".join(problem["message"] for problem in found)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    for problem in found:
        assert set(problem) == {"variable", "value", "expected", "message"} and problem["expected"] in problem["message"]


def test_the_molecule_cases_are_all_here() -> None:
    assert len(MOLECULE_CASES) == 38  # the 39th, a worker class the release cannot import, needs the release (below)


@pytest.mark.parametrize("name", MOLECULE_CASES)
def test_molecule_case_is_refused_by_name(name: str) -> None:
    _check(*MOLECULE_CASES[name])


@pytest.mark.parametrize("name", NEW_CASES)
def test_new_case_is_refused_by_name(name: str) -> None:
    _check(*NEW_CASES[name])


@pytest.mark.parametrize("vcpus", [1, 4])
def test_defaults_with_a_source_are_valid(vcpus: int) -> None:
    assert gunicorn_checks.problems(settings({"gunicorn_app_src": SAMPLE_APP}, vcpus=vcpus),
                                    worker_classes=ROLE_VARS["_gunicorn_worker_classes_known"],
                                    sandbox_directives=list(ROLE_VARS["_gunicorn_sandbox"])) == []


def test_the_converged_settings_are_valid() -> None:
    assert problems({}) == []


def test_defaults_without_a_source_are_valid_where_no_release_is_built() -> None:
    assert problems({"gunicorn_app_src": ""}, needs_source=False) == []
    assert [p["variable"] for p in problems({"gunicorn_app_src": ""})] == ["gunicorn_app_src"]
    # Two sources stay wrong for every entry point.
    assert "more than one source" in problems({"gunicorn_app_package": "myapp==1.0"}, needs_source=False)[0]["message"]


@pytest.mark.parametrize("extra", [
    {"gunicorn_worker_class": "nosuchmodule.Worker"},  # refused by the release's import check (release_check.yml)
    {"gunicorn_worker_class": "uvicorn.workers.UvicornWorker"},  # deprecated: a warning, not a refusal
    {"gunicorn_worker_class": "asgi"},
    {"gunicorn_app_module": "mypkg.asgi:create_app(debug=False)"},
    {"gunicorn_extra_settings": {"reload": True}, "gunicorn_preload_app": False},
    # A proxy on another host: trusted and let in, so a public bind is reachable.
    {"gunicorn_bind": ["0.0.0.0:8000"], "gunicorn_trusted_proxies": ["10.0.0.2", "fd00::/64"]},
    {"gunicorn_extra_settings": {"worker_tmp_dir": "/dev/shm"}},
    {"gunicorn_accesslog": "/var/log/fasterapi/access.log", "gunicorn_errorlog": "-"},
    {"gunicorn_accesslog": "/srv/fasterapi-uploads/logs/access.log"},
    {"gunicorn_environment": {"GREETING": "hello, \"world\" $HOME `x` \\", "PORT": 8000, "DEBUG": False}},
    # Multi-line, tabs and any Unicode arrive intact (systemd keeps them inside double quotes).
    {"gunicorn_environment": {"PEM": "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n", "T": "a\tb", "PW": "pässwörd ✓"}},
    {"gunicorn_environment": {"PROMETHEUS_MULTIPROC_DIR": "/var/lib/fasterapi/prom"}},
    {"gunicorn_credentials": {"tls.key": {"src": "/etc/hostname"}, "api-token": {"content": "line 1\nline 2\n"}}},
    {"gunicorn_statsd_host": "127.0.0.1:8125", "gunicorn_statsd_prefix": "shop.web-1"},
    {"gunicorn_statsd_host": "[fd00::5]:8125"}, {"gunicorn_statsd_host": "localhost:8125"},
    {"gunicorn_statsd_host": "statsd.example.org:8125", "gunicorn_systemd_ip_address_allow": ["any"]},
    {"gunicorn_prometheus_multiproc": True},
    {"gunicorn_systemd_socket_activation": True, "gunicorn_systemd_privileged_ports": False,
     "gunicorn_bind": ["0.0.0.0:80", "unix:/run/fasterapi/app.sock"], "gunicorn_systemd_ip_address_allow": ["any"]},
    {"gunicorn_systemd_sandbox_overrides": {"MemoryDenyWriteExecute": "no", "ProcSubset": None, "SystemCallFilter": ["@system-service"]}},
    {"gunicorn_app_src": "", "gunicorn_app_archive": "https://example.org/app.tar.gz", "gunicorn_app_archive_checksum": "sha256:" + "a" * 64},
    {"gunicorn_workers": "3", "gunicorn_timeout": "30"},  # -e key=value gives strings
    {"gunicorn_longest_job_seconds": 120,
     "gunicorn_companions": [{"name": "worker", "command": "celery -A shop worker", "instances": 2, "stop_timeout": 150},
                             {"name": "beat", "command": ["celery", "-A", "shop", "beat"], "singleton": True, "stop_signal": "SIGINT"}],
     "gunicorn_timers": [{"name": "cleanup", "command": "python -m shop.cleanup", "on_calendar": ["daily", "Mon 12:00"],
                          "persistent": False, "randomized_delay_sec": 600, "accuracy_sec": 1, "timeout": 60, "singleton": True}]},
])
def test_good_settings_pass(extra: dict[str, Any]) -> None:
    assert problems(extra) == []


def test_several_problems_are_reported_at_once() -> None:
    found = problems({"gunicorn_app_name": "Bad Name", "gunicorn_workers": 0, "gunicorn_bind": ["127.0.0.1:99999"],
                      "gunicorn_environment": {"1BAD": "x"}, "gunicorn_extra_settings": {"daemon": True},
                      "gunicorn_worker_class": "sync"})
    variables = {problem["variable"] for problem in found}
    assert {"gunicorn_app_name", "gunicorn_workers", "gunicorn_bind", "gunicorn_environment",
            "gunicorn_extra_settings", "gunicorn_worker_class"} <= variables


def test_environment_values_are_never_shown() -> None:
    secret = "s3cr3t-\x00-value-ä"
    found = problems({"gunicorn_environment": {"API_TOKEN": secret, "1BAD": secret, "PATH": secret}})
    assert len(found) == 3
    for problem in found:
        assert "s3cr3t" not in problem["message"] and "s3cr3t" not in problem["value"]
        assert "API_TOKEN" in problem["message"] or "1BAD" in problem["message"] or "PATH" in problem["message"]


def test_credentials_in_urls_are_masked() -> None:
    found = problems({"gunicorn_app_src": "", "gunicorn_app_archive": "https://deploy:t0ken@example.org/app.tar.gz"})
    assert found and all("t0ken" not in problem["message"] for problem in found)
    assert "https://***@example.org/app.tar.gz" in found[0]["message"]


def test_an_environment_too_large_as_a_whole_is_refused_by_name() -> None:
    # Each value is under the 128 KiB of one environment string; 9 of them are over the 1 MiB the role delivers.
    secret = "s3cr3t-" + "x" * (120 * 1024)
    found = problems({"gunicorn_environment": {f"BIG_{i}": secret for i in range(9)}})
    [problem] = found
    assert problem["variable"] == "gunicorn_environment" and "at most 1,048,576 bytes (1 MiB)" in problem["message"]
    assert "s3cr3t" not in problem["message"] and "BIG_" in problem["message"]
    assert problems({"gunicorn_environment": {f"BIG_{i}": secret for i in range(8)}}) == []


def test_a_credential_systemd_would_not_load_is_refused_by_name(tmp_path: Path) -> None:
    big = tmp_path / "big.key"
    big.write_bytes(b"\1" * (1536 * 1024))
    found = problems({"gunicorn_credentials": {"big.key": {"src": str(big)}}})
    [problem] = found
    assert problem["variable"] == "gunicorn_credentials.big.key" and "1,572,864 bytes" in problem["message"]
    assert "status=243/CREDENTIALS" in problem["message"]
    big.write_bytes(b"\1" * (900 * 1024))
    assert problems({"gunicorn_credentials": {"big.key": {"src": str(big)}}}) == []


def _code(tmp_path: Path, requirements: str) -> str:
    (tmp_path / "main.py").write_text("app = None\n")
    (tmp_path / "requirements.txt").write_text(requirements)
    return str(tmp_path)


@pytest.mark.parametrize(("requirements", "extra", "variable", "fragment"), [
    ("fastapi==0.115.0 --hash=sha256:ff\nstarlette==0.38.6\n", {}, "gunicorn_app_requirements_file",
     "requirements.txt: starlette==0.38.6 has no --hash"),
    ("-e .\nfastapi==0.115.0 --hash=sha256:ff\n", {}, "gunicorn_app_requirements_file", "--no-emit-project"),
    ("fastapi==0.115.0 --hash=sha256:ff\n", {"gunicorn_lock": False}, "gunicorn_lock", "requirements.txt pins hashes"),
    ("fastapi\n", {"gunicorn_app_requirements_file": "requirements/prod.txt"}, "gunicorn_app_requirements_file",
     "expected a file in gunicorn_app_src"),
    ("fastapi\n", {"gunicorn_offline": True, "gunicorn_pip_find_links": ["/srv/wheels"]}, "gunicorn_pip_find_links",
     "a directory on the host is not there"),
])
def test_build_inputs_in_the_code_are_checked_on_the_controller(
        tmp_path: Path, requirements: str, extra: dict[str, Any], variable: str, fragment: str) -> None:
    found = problems({"gunicorn_app_src": _code(tmp_path, requirements), **extra})
    assert [p["variable"] for p in found] == [variable], found
    assert fragment in found[0]["message"], found[0]["message"]


@pytest.mark.parametrize("requirements", ["fastapi\n", "fastapi==0.115.0 \\\n    --hash=sha256:ff\n"])
def test_requirements_and_hashed_locks_that_can_be_installed_pass(tmp_path: Path, requirements: str) -> None:
    assert problems({"gunicorn_app_src": _code(tmp_path, requirements)}) == []
    assert problems({"gunicorn_app_src": _code(tmp_path, requirements), "gunicorn_offline": True,
                     "gunicorn_pip_extra_index_urls": ["https://wheels.example.org/simple"]}) == []
