# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The rules of the fasterapi.deploy.gunicorn role's variables: every problem with them, at once.

The checks need only the role's variables and the controller's file system
(the code directory, a local archive or wheel), so the gunicorn_problems
filter runs them the same way under --check, and each refusal is a unit test
case without an Ansible task around it.

Each problem names the variable, shows its bad value (never the values of
gunicorn_environment, only their names; credentials in URLs are masked) and
says what is expected. The bind address parser and the IPAddressAllow= entry
checks are binds.py's (the gunicorn_bind and ip_allow_* filters' too).
"""

from __future__ import annotations

import keyword
import os.path
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.module_utils import app_lock
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import companion_checks, secret_limits
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.binds import gunicorn_bind, ip_allow_error, ip_allow_reaches_beyond_loopback
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import (
    Checker, Problem, as_bool, as_float, as_int, clean_path, is_below, mask_url, show)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_APP_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_MODULE = re.compile(rf"^{_NAME}(\.{_NAME})*$")
_CALLABLE = re.compile(rf"^{_NAME}(\.{_NAME})*(\(.*\))?$")
_CLASS_PATH = re.compile(rf"^{_NAME}(\.{_NAME})+$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*((a|b|rc|\.post|\.dev)[0-9]+)*$")
_URL = re.compile(r"^https?://[^\s/]+")
_SETTING = re.compile(r"^[a-z_][a-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A systemd credential name: a file name (at most 255 bytes); kept to characters that need no quoting.
_CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,254}$")
_STATSD_HOST = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]{1,5})$")
_RELEASE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,39}$")
_RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,60}$")
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?\s*((==|>=|<=|~=|!=|<|>|===)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*$")
_CHECKSUM = re.compile(r"^(sha256|sha384|sha512):[0-9a-fA-F]+$")
_MODE = re.compile(r"^0?[0-7]{3}$")

# Accounts and groups of Debian's base system and common services: the app
# must have its own (the role creates it, and its files belong to it).
_RESERVED_ACCOUNTS = frozenset((
    "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data", "backup",
    "list", "irc", "gnats", "_gnats", "nobody", "nogroup", "_apt", "messagebus", "sshd", "adm", "tty", "disk", "kmem",
    "dialout", "fax", "voice", "cdrom", "floppy", "tape", "sudo", "audio", "dip", "operator", "src", "shadow", "utmp",
    "video", "sasl", "plugdev", "staff", "users", "netdev", "input", "kvm", "render", "crontab", "docker",
    "ssl-cert", "postgres", "mysql", "redis", "polkitd", "tss", "uuidd", "_chrony", "ntp", "dnsmasq", "tcpdump",
))
# Units of the base system the app's unit would replace (the app name names its unit).
_RESERVED_UNITS = frozenset(("ssh", "cron", "dbus", "getty", "networking", "rsyslog", "nginx", "apache2",
                             "containerd", "postgresql", "mariadb", "redis-server", "chrony", "unattended-upgrades"))
# gunicorn's own worker classes: all of them serve WSGI apps only.
_WSGI_WORKERS = frozenset((
    "sync", "gthread", "eventlet", "gevent", "gevent_wsgi", "gevent_pywsgi", "tornado",
    "gunicorn.workers.sync.SyncWorker", "gunicorn.workers.gthread.ThreadWorker",
    "gunicorn.workers.geventlet.EventletWorker", "gunicorn.workers.ggevent.GeventWorker",
    "gunicorn.workers.ggevent.GeventPyWSGIWorker", "gunicorn.workers.gtornado.TornadoWorker",
))
# gunicorn settings the role writes into gunicorn.conf.py itself, and the variable behind each (None: internal).
_ROLE_SETTINGS: dict[str, str | None] = {
    "wsgi_app": "gunicorn_app_module", "bind": "gunicorn_bind", "backlog": "gunicorn_backlog",
    "workers": "gunicorn_workers", "worker_class": "gunicorn_worker_class",
    "worker_connections": "gunicorn_worker_connections", "max_requests": "gunicorn_max_requests",
    "max_requests_jitter": "gunicorn_max_requests_jitter", "timeout": "gunicorn_timeout",
    "graceful_timeout": "gunicorn_graceful_timeout", "keepalive": "gunicorn_keepalive",
    "accesslog": "gunicorn_accesslog", "errorlog": "gunicorn_errorlog", "loglevel": "gunicorn_loglevel",
    "access_log_format": "gunicorn_access_log_format", "proc_name": "gunicorn_proc_name",
    "preload_app": "gunicorn_preload_app", "control_socket": "gunicorn_control_socket",
    "control_socket_mode": "gunicorn_control_socket_mode", "control_socket_disable": "gunicorn_control_socket",
    "user": "gunicorn_user", "group": "gunicorn_group", "forwarded_allow_ips": "gunicorn_trusted_proxies",
    "chdir": None, "pidfile": None, "when_ready": None, "on_exit": None, "pre_exec": None,
    "on_starting": None, "child_exit": None,
    "statsd_host": "gunicorn_statsd_host", "statsd_prefix": "gunicorn_statsd_prefix",
}
# gunicorn settings that break the unit, the sandbox or the rolling hand-over.
_BREAKING_SETTINGS = {
    "daemon": "detaches gunicorn from systemd, which then loses the master (Type=notify): expected it left out",
    "reuse_port": ("lets a second master (a USR2 hand-over's, or any process of the app user) bind the same port "
                   "beside the running one and take a share of its connections, while the hand-over passes the "
                   "listening sockets on: expected it left out"),
    "initgroups": "needs CAP_SETGID, which the sandbox removes (systemd starts gunicorn as gunicorn_user already): expected it left out",
    "raw_env": "writes environment values into gunicorn.conf.py: expected gunicorn_environment (an environment file, never logged)",
    "check_config": "makes gunicorn exit instead of serving: expected it left out",
    "print_config": "makes gunicorn exit instead of serving: expected it left out",
    "umask": "is set by the unit (UMask=0027): expected it left out",
}
# Environment names the unit or systemd set, which gunicorn_environment would override.
_RESERVED_ENV = {
    "PATH": "the unit puts the venv first on it",
    "PYTHONHOME": "it would take the app out of its venv",
    "GUNICORN_CMD_ARGS": "it overrides gunicorn.conf.py; use gunicorn_extra_settings",
    "NOTIFY_SOCKET": "systemd sets it", "LISTEN_FDS": "systemd sets it", "LISTEN_PID": "systemd sets it",
    "LISTEN_FDNAMES": "systemd sets it",
    "FASTERAPI_WORKER_DRAIN_SECONDS": "the role sets it from gunicorn_worker_drain_seconds",
    "FASTERAPI_WORKER_READY_DIR": "the role's workers mark themselves ready there",
    "FASTERAPI_WORKER_MAX_MEMORY_MB": "gunicorn.conf.py sets it from gunicorn_worker_max_memory_mb",
    "FASTERAPI_WORKER_MAX_AGE_SECONDS": "gunicorn.conf.py sets it from gunicorn_worker_max_age",
    "FASTERAPI_RELEASE": "the role sets it for the release commands",
    "FASTERAPI_PREVIOUS_RELEASE": "the role sets it for the release commands",
    "FASTERAPI_ENVIRONMENT_KEYS": "the role's environment file lists its variables in it",
    "FASTERAPI_ENVIRONMENT_FILE": "the unit names the environment file in it",
    "PYTHONUNBUFFERED": "the unit sets it",
    "CREDENTIALS_DIRECTORY": "systemd sets it (gunicorn_credentials)",
}
# Directories of the system: never the app's own, never writable for it.
_SYSTEM_PREFIXES = ("/etc", "/usr", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/proc", "/sys", "/dev", "/root")
_SHARED_DIRS = frozenset(("/usr/local", "/usr/lib", "/usr/share", "/usr/bin", "/usr/sbin", "/usr/local/bin",
                          "/usr/local/lib", "/var/lib", "/var/log", "/var/cache", "/var/www", "/var/tmp", "/var/spool",
                          "/etc/systemd", "/etc/ssl", "/etc/default", "/run/user", "/home"))
_SOURCES = ("gunicorn_app_src", "gunicorn_app_git_repo", "gunicorn_app_archive", "gunicorn_app_package")


class GunicornChecker(Checker):
    """Collects the problems of one set of the gunicorn role's variables.

    NEEDS_SOURCE: the entry point builds a release, so one source of code is
    needed. WORKER_CLASSES: the worker classes the role knows.
    SANDBOX_DIRECTIVES: the directives of the role's sandbox, which overrides may change.
    """

    def __init__(self, settings: Mapping[str, Any], needs_source: bool, worker_classes: Iterable[str],
                 sandbox_directives: Iterable[str]) -> None:
        super().__init__(settings)
        self.needs_source = needs_source
        self.worker_classes = list(worker_classes)
        self.sandbox_directives = list(sandbox_directives)

    # --- the checks, in the order of the role's documentation ----------------

    def app(self) -> None:
        """gunicorn_app_name names the app's own user, unit and directories; gunicorn_app_module is module:callable."""
        name = self.get("gunicorn_app_name", "fasterapi")
        if not isinstance(name, str) or not _APP_NAME.match(name):
            self.add("gunicorn_app_name", str(name),
                     "is not usable as a user, unit and directory name: expected 1-31 characters of a-z, 0-9, _ and -, "
                     "starting with a letter or _")
        elif name in _RESERVED_ACCOUNTS or name in _RESERVED_UNITS or name == "root" or name.startswith("systemd-"):
            self.add("gunicorn_app_name", name,
                     "is a system account or unit of the host, which the role would take over (the app name names its user, "
                     "group, unit and directories): expected a name of the app's own")
        module = self.get("gunicorn_app_module", "main:app")
        problem = self._module_problem(module)
        if problem or not isinstance(module, str):
            self.add("gunicorn_app_module", module,
                     f"is not in module:callable form{problem}; expected e.g. main:app or mypkg.asgi:application")

    @staticmethod
    def _module_problem(module: Any) -> str:
        """Why MODULE is not a module:callable, "" when it is one."""
        if not isinstance(module, str):
            return ": it is not a string"
        if ":" not in module:
            return ": the callable is missing"
        path, obj = module.split(":", 1)
        if path.endswith(".py") or "/" in path:
            return ": name the module with dots and without .py (main:app for main.py, pkg.main:app for pkg/main.py)"
        if not _MODULE.match(path):
            return f": {path!r} is not a dotted module path"
        if not _CALLABLE.match(obj):
            return f": {obj!r} is not an attribute name, or a factory call like create_app()"
        words = [part for part in path.split(".") + obj.partition("(")[0].split(".") if keyword.iskeyword(part)]
        if words:
            return f": {', '.join(words)} is a Python keyword, which cannot be imported"
        return ""

    def accounts(self) -> None:
        """gunicorn_user and gunicorn_group are unprivileged accounts of the app's own; the release commands' user is an account."""
        app = self.get("gunicorn_app_name", "fasterapi")
        for name, kind in (("gunicorn_user", "a system account name"), ("gunicorn_group", "a group name")):
            value = self.get(name, app)
            if value in ("root", "0", 0):
                self.add(name, value, "the app must not run as root; expected an unprivileged system account (default: the app name)")
            elif not isinstance(value, str) or not _ACCOUNT.match(value):
                self.add(name, value, f"expected {kind} (a-z, 0-9, _ and -, up to 32, starting with a letter or _)")
            elif value in _RESERVED_ACCOUNTS or value.startswith("systemd-"):
                self.add(name, value, "is an account of the system or another service, whose files and rights the app would share: "
                                      "expected one of the app's own (default: the app name)")
        value = self.get("gunicorn_release_commands_user", "root")
        if not isinstance(value, str) or not _ACCOUNT.match(value):
            self.add("gunicorn_release_commands_user", value, "expected an account name, e.g. root or the app user")

    def sources(self) -> None:
        """Exactly one source of code (when a release is built), each usable as given."""
        sources = [name for name in _SOURCES if self.get(name, "")]
        if len(sources) > 1:
            self.add(sources[0], sources, "expected exactly one",
                     message=f"more than one source is set ({', '.join(sources)}): expected exactly one.")
        elif not sources and self.needs_source:
            self.add("gunicorn_app_src", "", "expected one of them to say where the code comes from",
                     message=("gunicorn_app_src, gunicorn_app_git_repo, gunicorn_app_archive and gunicorn_app_package are all "
                              "empty: expected one of them to say where the code comes from."))
        src = self.text("gunicorn_app_src")
        if src and not os.path.isdir(src):
            self.add("gunicorn_app_src", src, "is not a directory on the controller",
                     message=f"gunicorn_app_src={show(src)} is not a directory on the controller.")
        elif src:
            self.requirements_in(src)
        repo = self.text("gunicorn_app_git_repo")
        if repo:
            version = self.text("gunicorn_app_git_version", "HEAD")
            if repo.startswith("-"):
                self.add("gunicorn_app_git_repo", mask_url(repo), "expected a repository URL or path (not an option of git)")
            if not version or version.startswith("-") or re.search(r"\s", version):
                self.add("gunicorn_app_git_version", version, "expected a branch, tag or commit (not empty, not an option of git)")
        key = self.text("gunicorn_app_git_key_file")
        if key and not os.path.isfile(key):
            self.add("gunicorn_app_git_key_file", key, "expected empty, or a private key file on the controller (a deploy key)")
        known = self.a_list("gunicorn_app_git_known_hosts")
        if [line for line in known if not isinstance(line, str) or not re.match(r"^\S+ (ssh-|ecdsa-|sk-)\S+ \S+", line.strip())
                or "\n" in line.strip()]:
            self.add("gunicorn_app_git_known_hosts", known,
                     'expected known_hosts lines such as "git.example.org ssh-ed25519 AAAA..." (ssh-keyscan output), one per item')
        archive = self.text("gunicorn_app_archive")
        checksum = self.text("gunicorn_app_archive_checksum")
        if archive and not ((re.match(r"^https?://[^/]+/", archive) and _CHECKSUM.match(checksum))
                            or (not re.match(r"^[a-z]+://", archive) and os.path.isfile(archive) and not checksum)):
            self.add("gunicorn_app_archive", mask_url(archive),
                     'expected a file on the controller (no checksum needed), or an http(s) URL with a checksum '
                     '"sha256:<hex>" (sha384 and sha512 also work)',
                     message=(f"gunicorn_app_archive={show(mask_url(archive))} with gunicorn_app_archive_checksum={show(checksum)}: "
                              'expected a file on the controller (no checksum needed), or an http(s) URL with a checksum '
                              '"sha256:<hex>" (sha384 and sha512 also work).'))
        package = self.text("gunicorn_app_package")
        if package and not ((package.endswith(".whl") and os.path.isfile(package))
                            or (not package.endswith(".whl") and _REQUIREMENT.match(package))):
            self.add("gunicorn_app_package", package,
                     'expected a pip requirement such as "myapp==1.2.0", or the path of a .whl file on the controller')

    def releases(self) -> None:
        """The release label, the release to roll back to and how many releases to keep."""
        version = self.text("gunicorn_app_version")
        if version and not _RELEASE_LABEL.match(version):
            self.add("gunicorn_app_version", version,
                     "expected up to 40 letters, digits and . _ + -, starting with a letter or digit (it names the release)")
        rollback = self.text("gunicorn_rollback_to")
        if rollback and not _RELEASE_NAME.match(rollback):
            base = self.text("gunicorn_base_dir", "/opt/fasterapi")
            self.add("gunicorn_rollback_to", rollback,
                     f"expected the name of a release directory below {base}/releases, or empty for the previous release")
        self.number("gunicorn_releases_keep", "1 or more (the running and the previous release are kept anyway)", 1)
        for name in ("gunicorn_release_commands", "gunicorn_migrate_commands", "gunicorn_contract_commands"):
            commands = self.a_list(name)
            if not all(isinstance(command, str) and command.strip() for command in commands):
                self.add(name, commands, "expected a list of shell commands (non-empty strings), run in order")
        host = self.get("gunicorn_migrate_host", "")
        if not isinstance(host, str):
            self.add("gunicorn_migrate_host", host, "expected the inventory name of a host of the play, or empty for its first host")
        self.number("gunicorn_app_archive_strip_components", "0 or more leading path components to strip", 0)

    def paths(self) -> None:
        """gunicorn_base_dir and gunicorn_config_dir are directories of the app's own, neither inside the other."""
        app = self.get("gunicorn_app_name", "fasterapi")
        dirs = {}
        for name, default in (("gunicorn_base_dir", f"/opt/{app}"), ("gunicorn_config_dir", f"/etc/{app}")):
            value = self.get(name, default)
            dirs[name] = value
            if not clean_path(value) or value.count("/") < 2:
                self.add(name, value, f"expected absolute paths of a directory of the app's own, like /opt/{app} or /etc/{app} "
                                      "(normalized, without spaces, not a top-level directory)")
            elif value in _SHARED_DIRS or value in _SYSTEM_PREFIXES:
                self.add(name, value, f"is a directory of the system, which the role would make root-owned, mode 0750: expected absolute "
                                      f"paths of a directory of the app's own, like /opt/{app} or /etc/{app}")
        base, config = dirs["gunicorn_base_dir"], dirs["gunicorn_config_dir"]
        if clean_path(base) and clean_path(config) and (is_below(base, config) or is_below(config, base)):
            self.add("gunicorn_config_dir", config, f"expected a directory apart from gunicorn_base_dir={base} (neither inside the other)")

    def requirements_in(self, src: str) -> None:
        """The requirements file in the code on the controller: there when named, and a hashed lock that can be installed."""
        name = self.text("gunicorn_app_requirements_file", "requirements.txt")
        if not name or name.startswith("/"):
            return  # on the host: read there
        path = os.path.join(src, name)
        if not os.path.isfile(path):
            if name != "requirements.txt":  # the default may be absent (no dependencies)
                self.add("gunicorn_app_requirements_file", name, f"expected a file in gunicorn_app_src ({src}), or the default "
                                                                 "requirements.txt when the app has none")
            return
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as err:
            self.add("gunicorn_app_requirements_file", name, f"expected a readable UTF-8 requirements file ({err})")
            return
        if not app_lock.is_hashed(text):
            return
        if not as_bool(self.get("gunicorn_lock", True)):
            self.add("gunicorn_lock", False, f"must stay true: {name} pins hashes, and the app's hashed lock is installed as the "
                                             "release's lock")
        try:
            app_lock.parse(text, name)
        except app_lock.LockError as err:
            self.add("gunicorn_app_requirements_file", name, f"expected a hashed lock pip can install in hash-checking mode: {err}")

    def python_and_packages(self) -> None:
        """The host's Python, the pinned versions, the installer and pip's index, options and offline mode."""
        python = self.get("gunicorn_python", "/usr/bin/python3")
        if not isinstance(python, str) or not re.match(r"^/\S+$", python):
            self.add("gunicorn_python", python, "expected the absolute path of the host's python3")
        for name, example in (("gunicorn_version", "27.0.1"), ("gunicorn_uvicorn_version", "0.54.0"),
                              ("gunicorn_uvicorn_worker_version", "0.4.0"), ("gunicorn_uv_version", "0.13.9")):
            value = self.get(name, example)
            if not _VERSION.match(str(value)):
                self.add(name, value, f"expected a release number to pin, like {example}")
        for name, choices in (("gunicorn_installer", ("uv", "pip")), ("gunicorn_restart_strategy", ("rolling", "restart")),
                              ("gunicorn_loglevel", ("debug", "info", "warning", "error", "critical"))):
            value = self.get(name, choices[0] if name != "gunicorn_loglevel" else "info")
            if value not in choices:
                self.add(name, value, f"expected one of {', '.join(choices)}")
        index = self.text("gunicorn_pip_index_url")
        if index and not _URL.match(index):
            self.add("gunicorn_pip_index_url", mask_url(index), "expected empty (the Python package index) or an http(s) URL")
        extra = self.a_list("gunicorn_pip_extra_index_urls")
        if [url for url in extra if not isinstance(url, str) or not _URL.match(url)]:
            self.add("gunicorn_pip_extra_index_urls", mask_url(extra), "expected a list of http(s) URLs")
        for name, what in (("gunicorn_pip_cert", "empty or the absolute path of a CA bundle on the host"),
                           ("gunicorn_pip_cache_dir", "empty (root's default cache) or an absolute path on the host")):
            value = self.text(name)
            if value and not value.startswith("/"):
                self.add(name, value, f"expected {what}")
        args = [str(arg) for arg in self.a_list("gunicorn_pip_extra_args")]
        if [arg for arg in args if arg.startswith("--trusted-host")]:
            self.add("gunicorn_pip_extra_args", args,
                     "--trusted-host (no TLS verification) is not offered, and a CA bundle goes in gunicorn_pip_cert")
        links = self.a_list("gunicorn_pip_find_links")
        if [link for link in links if not isinstance(link, str) or not (link.startswith("/") or _URL.match(link))]:
            self.add("gunicorn_pip_find_links", mask_url(links), "expected a list of absolute paths on the host or http(s) URLs")
        self.number("gunicorn_pip_index_timeout", "seconds to wait for the package index, 1 to 300, or 0 not to ask it", 0, 300)
        if as_bool(self.get("gunicorn_offline", False)):
            sources = [name for name in _SOURCES if self.get(name, "") and name != "gunicorn_app_src"]
            if sources:
                self.add("gunicorn_offline", True,
                         "expected the code in a directory on the controller (gunicorn_app_src)",
                         message=(f"gunicorn_offline=true with {sources[0]}: a host that reaches no network cannot fetch it; "
                                  "expected the code in a directory on the controller (gunicorn_app_src)."))
            cache = self.text("gunicorn_offline_cache_dir")
            if cache and not cache.startswith("/"):
                self.add("gunicorn_offline_cache_dir", cache, "expected empty (~/.cache/fasterapi-deploy) or an absolute path on the controller")
            if not as_bool(self.get("gunicorn_lock", True)):
                self.add("gunicorn_lock", False, "must stay true with gunicorn_offline (the wheelhouse holds the lock's wheels)")
            local = [link for link in links if isinstance(link, str) and link.startswith("/")]
            if local:
                self.add("gunicorn_pip_find_links", local,
                         "with gunicorn_offline the controller finds the packages, and a directory on the host is not there: "
                         "expected http(s) URLs (the index variables are used on the controller too)")
        if [arg for arg in args if re.match(r"^(-i|--index-url|--extra-index-url|--index)(=|$)", arg)]:
            self.add("gunicorn_pip_extra_args", mask_url(args),
                     "index URLs (which may hold credentials) are passed in pip's environment, never on its command line: "
                     "expected gunicorn_pip_index_url and gunicorn_pip_extra_index_urls for them")

    def binds(self) -> list[dict[str, Any]]:
        """Check gunicorn_bind; the parsed addresses that are good."""
        raw = self.get("gunicorn_bind", ["127.0.0.1:8000"])
        if not isinstance(raw, (list, tuple)):
            self.add("gunicorn_bind", raw, "expected a list of addresses, e.g. ['127.0.0.1:8000']")
            return []
        if not raw:
            self.add("gunicorn_bind", raw, "expected at least one address",
                     message="gunicorn_bind is empty: expected at least one address, e.g. ['127.0.0.1:8000'].")
            return []
        binds = []
        for value in raw:
            try:
                binds.append(gunicorn_bind(value))
            except ValueError as err:
                self.add("gunicorn_bind", value, str(err), message=f"gunicorn_bind={show(value)}: {err}.")
        if len(binds) < len(raw):
            return binds
        addresses = [bind["address"] for bind in binds]
        if len(set(addresses)) < len(addresses) or all(bind["kind"] == "fd" for bind in binds):
            self.add("gunicorn_bind", list(raw), "expected distinct addresses, at least one of them TCP or unix "
                                                 "(the role checks the app's health through it)")
        base = self.text("gunicorn_base_dir", "/opt/fasterapi")
        inside = [bind["address"] for bind in binds if bind["kind"] == "unix" and base.startswith("/") and is_below(bind["path"], base)]
        if inside:
            self.add("gunicorn_bind", inside, f"expected unix sockets outside gunicorn_base_dir={base}, which is read-only for the app "
                                              "(e.g. in /run/<app>, the unit's runtime directory)")
        socket_activation = as_bool(self.get("gunicorn_systemd_socket_activation", False))
        privileged = [bind["address"] for bind in binds if bind["privileged"]]
        if privileged and not socket_activation and not as_bool(self.get("gunicorn_systemd_privileged_ports", False)):
            self.add("gunicorn_bind", list(raw),
                     f"{', '.join(privileged)} {'uses a port' if len(privileged) == 1 else 'use ports'} below 1024, which the app "
                     "(not root) may not bind: set gunicorn_systemd_privileged_ports=true (CAP_NET_BIND_SERVICE only), "
                     "gunicorn_systemd_socket_activation=true, or a port from 1024")
        unlistenable = [bind["address"] for bind in binds if bind["listen"] is None]
        if socket_activation and unlistenable:
            self.add("gunicorn_bind", list(raw),
                     "with gunicorn_systemd_socket_activation, systemd listens, and it takes IP addresses and unix paths only: "
                     f"{', '.join(unlistenable)} cannot be listened on that way")
        return binds

    def sandbox(self, binds: list[dict[str, Any]]) -> None:
        """The sandbox lets the app's clients in (BINDS: the good addresses of gunicorn_bind) and keeps its code read-only."""
        allow = self.a_list("gunicorn_systemd_ip_address_allow")
        errors = [error for error in (ip_allow_error(entry) for entry in allow) if error]
        if errors or ("gunicorn_systemd_ip_address_allow" in self.settings and not allow):
            self.add("gunicorn_systemd_ip_address_allow", allow,
                     "; ".join(errors) if errors else "expected at least one entry (localhost, an IP or CIDR prefix, or any)")
        proxies = self.a_list("gunicorn_trusted_proxies")
        keywords = ("any", "localhost", "link-local", "multicast")
        bad_proxies = [entry for entry in proxies if str(entry) in keywords or ip_allow_error(entry)]
        if bad_proxies:
            self.add("gunicorn_trusted_proxies", bad_proxies, "expected the IP addresses or CIDR prefixes of the proxies in "
                     "front (loopback is trusted already)")
        public = [bind["address"] for bind in binds if bind["kind"] == "tcp" and not bind["loopback"]]
        if (as_bool(self.get("gunicorn_systemd_hardening", True)) and public and not errors
                and not ip_allow_reaches_beyond_loopback((allow or ["localhost"]) + ([] if bad_proxies else proxies))):
            self.add("gunicorn_systemd_ip_address_allow", allow,
                     f"only loopback may connect, yet gunicorn_bind listens on {', '.join(public)}: add the addresses of its "
                     'clients (e.g. the load balancer, as 10.0.0.0/24) or "any"')
        base = self.text("gunicorn_base_dir", "/opt/fasterapi")
        config = self.text("gunicorn_config_dir", "/etc/fasterapi")
        paths = self.a_list("gunicorn_systemd_read_write_paths")
        bad = [path for path in paths
               if not clean_path(path) or path.count("/") < 2 or path in _SHARED_DIRS
               or any(is_below(path, directory) for directory in (base, config, *_SYSTEM_PREFIXES))]
        if bad:
            self.add("gunicorn_systemd_read_write_paths", bad,
                     f"expected absolute paths without spaces or a trailing /, outside {base} (code and venvs stay read-only "
                     f"for the app), {config} and the system's directories ({', '.join(_SYSTEM_PREFIXES[:3])}, ...), and not / "
                     "or a shared directory such as /var/lib itself")
        overrides = self.a_mapping("gunicorn_systemd_sandbox_overrides")
        unknown = [name for name, value in overrides.items()
                   if name not in self.sandbox_directives or not self._directive_value(value)]
        if unknown:
            self.add("gunicorn_systemd_sandbox_overrides", unknown,
                     f"{show(unknown)} {'is' if len(unknown) == 1 else 'are'} not in the role's sandbox, or without a usable "
                     f"value; expected some of {', '.join(sorted(self.sandbox_directives))}, each with a value (yes/no, a "
                     "string or a list of strings) or null to drop it")

    @staticmethod
    def _directive_value(value: Any) -> bool:
        """VALUE is usable in a sandbox override: a scalar or a list of strings, on one line."""
        if value is None or isinstance(value, (bool, int, str)):
            return "\n" not in str(value)
        return isinstance(value, list) and all(isinstance(item, str) and "\n" not in item for item in value)

    def workers(self) -> None:
        """The numbers of workers, connections and seconds, which agree with each other; the health check; the worker class."""
        self.number("gunicorn_workers", "a whole number of 1 or more", 1)
        self.number("gunicorn_worker_connections", "1 or more", 1)
        self.number("gunicorn_backlog", "1 or more", 1)
        self.number("gunicorn_max_requests", "0 (off) or more", 0)
        self.number("gunicorn_log_rotate", "rotated files to keep, 1 or more", 1)
        self.number("gunicorn_max_requests_jitter", "0 or more", 0)
        self.number("gunicorn_timeout", "seconds above 0", 0, above=True)
        self.number("gunicorn_graceful_timeout", "seconds above 0", 0, above=True)
        self.number("gunicorn_keepalive", "0 or more seconds", 0)
        self.number("gunicorn_systemd_restart_sec", "0 or more seconds", 0)
        self.number("gunicorn_health_timeout", "seconds above 0", 0, above=True)
        self.number("gunicorn_rolling_timeout", "seconds above 0", 0, above=True)
        self.number("gunicorn_worker_drain_seconds", "seconds from 0 to 3600", 0, 3600, whole=False)
        self.number("gunicorn_worker_max_memory_mb", "MiB, 0 (off) or more", 0)
        self.number("gunicorn_worker_max_age", "seconds, 0 (off) or more", 0)
        graceful = as_int(self.get("gunicorn_graceful_timeout", 30))
        stop = self.get("gunicorn_systemd_timeout_stop_sec", None if graceful is None else graceful + 15)
        if graceful is not None and graceful > 0 and (as_int(stop) is None or (as_int(stop) or 0) <= graceful):
            self.add("gunicorn_systemd_timeout_stop_sec", stop,
                     f"expected more seconds than gunicorn_graceful_timeout={graceful} (or systemd SIGKILLs requests still in "
                     "flight on a stop)")
        drain = as_float(self.get("gunicorn_worker_drain_seconds", 10))
        if graceful is not None and graceful > 0 and drain is not None and 0 <= drain <= 3600 and drain >= graceful:
            self.add("gunicorn_worker_drain_seconds", self.get("gunicorn_worker_drain_seconds"),
                     f"expected less than gunicorn_graceful_timeout={graceful} (draining is part of a worker's graceful stop)")
        path = self.get("gunicorn_health_path", "/")
        if not isinstance(path, str) or not re.match(r"^/\S*$", path):
            self.add("gunicorn_health_path", path, "expected a URL path starting with /, without spaces")
        status = self.get("gunicorn_health_status", [200])
        codes = [as_int(code) for code in status] if isinstance(status, (list, tuple)) else [None]
        if not codes or [code for code in codes if code is None or not 100 <= code <= 599]:
            self.add("gunicorn_health_status", status, "expected a list of HTTP status codes from 100 to 599")
        self.worker_class()

    def worker_class(self) -> None:
        """gunicorn_worker_class is an ASGI worker class: one the role knows, or a dotted path."""
        value = self.get("gunicorn_worker_class", "fasterapi_deploy_worker.DrainingUvicornWorker")
        known = ", ".join(self.worker_classes)
        if not isinstance(value, str):
            self.add("gunicorn_worker_class", value, f"is not a worker class: expected one of {known}, or a dotted path to your own class")
        elif value in _WSGI_WORKERS or value.startswith("egg:gunicorn#") or value.startswith("gunicorn.workers."):
            self.add("gunicorn_worker_class", value,
                     f"is a WSGI worker class of gunicorn, which cannot serve an ASGI app: expected one of {known}, or a dotted "
                     "path to your own ASGI worker class")
        elif value not in self.worker_classes and not _CLASS_PATH.match(value):
            self.add("gunicorn_worker_class", value, f"is not a worker class: expected one of {known}, or a dotted path to your own class")

    def logs(self) -> None:
        """File logs go below gunicorn_log_dir, in /var/log (the only log directory the sandboxed app may write)."""
        log_dir = self.get("gunicorn_log_dir", f"/var/log/{self.get('gunicorn_app_name', 'fasterapi')}")
        files = {name: value for name in ("gunicorn_accesslog", "gunicorn_errorlog")
                 if (value := self.get(name, "-")) not in ("-", "", None)}
        if not files:
            return
        if not isinstance(log_dir, str) or not re.match(r"^/var/log/[^/].*", log_dir) or not clean_path(log_dir):
            self.add("gunicorn_log_dir", log_dir, "with file logs it must be below /var/log/ (systemd's LogsDirectory= creates it for the app user)",
                     message=(f"gunicorn_log_dir={show(log_dir)}: with file logs it must be below /var/log/ "
                              "(systemd's LogsDirectory= creates it for the app user)."))
            return
        writable = [log_dir] + [path for path in self.get("gunicorn_systemd_read_write_paths", []) if isinstance(path, str)]
        for name, value in files.items():
            if not clean_path(value) or not any(is_below(value, directory) and value != directory for directory in writable):
                self.add(name, value, f'expected "-" (the journal), or a file below gunicorn_log_dir={log_dir} (the only log '
                                      "directory the sandboxed app may write)")

    def environment(self) -> None:
        """gunicorn_environment's names are valid and the unit's own are left alone; its values reach the app intact."""
        environment = self.get("gunicorn_environment", {})
        if not isinstance(environment, Mapping):
            self.add("gunicorn_environment", type(environment).__name__, "expected a mapping of variable names to values",
                     shown=f"<{type(environment).__name__}, not shown>")
            return
        names = [str(name) for name in environment]
        invalid = [name for name in names if not _ENV_NAME.match(name)]
        if invalid:
            self.add("gunicorn_environment", invalid, "expected letters, digits and _, not starting with a digit",
                     message=f"gunicorn_environment has invalid variable names {show(invalid)}: expected letters, digits and _, "
                             "not starting with a digit.")
        reserved = [name for name in names if name in _RESERVED_ENV]
        if reserved:
            reasons = "; ".join(f"{name}: {_RESERVED_ENV[name]}" for name in reserved)
            expected = f"expected other names ({reasons})"
            self.add("gunicorn_environment", reserved, expected,
                     message=f"gunicorn_environment sets {show(reserved)}, which the unit or systemd set: {expected}.")
        unwritable = [str(name) for name, value in environment.items() if not self._env_value_ok(value)]
        if unwritable:
            expected = ("expected text (line breaks, tabs and any Unicode character are kept), a number or true/false; not a "
                        "NUL character, text that is not valid Unicode, a value over 128 KiB, a list, a mapping or null: "
                        "pass binary data, keys and certificates as files with gunicorn_credentials")
            self.add("gunicorn_environment", unwritable, expected,
                     message=(f"gunicorn_environment: the values of {show(unwritable)} (not shown) cannot be given to the app "
                              f"intact: {expected}."))
        if not unwritable and not invalid:
            for variable, message in secret_limits.environment_problems(environment):
                self.add(variable, "<not shown>", "expected at most 1 MiB of environment", message=message)
        if as_bool(self.get("gunicorn_prometheus_multiproc", False)) and "PROMETHEUS_MULTIPROC_DIR" in names:
            expected = "expected it left out: with gunicorn_prometheus_multiproc the unit sets it to a directory the role cleans"
            self.add("gunicorn_environment", "PROMETHEUS_MULTIPROC_DIR", expected,
                     message=f"gunicorn_environment sets \"PROMETHEUS_MULTIPROC_DIR\": {expected}.")

    @staticmethod
    def _env_value_ok(value: Any) -> bool:
        """VALUE reaches the app intact through the environment file."""
        if isinstance(value, (bool, int, float)):
            return True
        if not isinstance(value, str) or "\x00" in value:
            return False
        try:
            # One environment string (NAME=value) may be at most 128 KiB (the kernel's MAX_ARG_STRLEN).
            return len(value.encode("utf-8")) <= secret_limits.ENVIRONMENT_STRING_MAX - 256
        except UnicodeEncodeError:
            return False

    def extra_settings(self) -> None:
        """gunicorn_extra_settings leaves out what the role writes itself and what breaks the unit, sandbox or hand-over."""
        settings = self.a_mapping("gunicorn_extra_settings")
        names = [str(name) for name in settings]
        invalid = [name for name in names if not _SETTING.match(name)]
        if invalid:
            self.add("gunicorn_extra_settings", invalid, "expected gunicorn setting names (lower case letters, digits and _) as keys")
        for name in names:
            if name in _ROLE_SETTINGS:
                variable = _ROLE_SETTINGS[name]
                expected = (f"which the role writes from {variable}: expected that variable instead" if variable else
                            "which the role manages (the release layout and the rolling hand-over depend on it): expected it left out")
                self.add("gunicorn_extra_settings", name, expected, message=f"gunicorn_extra_settings sets {show(name)}, {expected}.")
            elif name in _BREAKING_SETTINGS:
                self.add("gunicorn_extra_settings", name, _BREAKING_SETTINGS[name],
                         message=f"gunicorn_extra_settings sets {show(name)}, which {_BREAKING_SETTINGS[name]}.")
        if settings.get("reload") and as_bool(self.get("gunicorn_preload_app", True)):
            expected = "expected reload left out (the role restarts into new code), or gunicorn_preload_app=false"
            self.add("gunicorn_extra_settings", "reload", expected,
                     message=("gunicorn_extra_settings sets \"reload\" with gunicorn_preload_app=true, which it does not work with "
                              f"(the master imports the app once): {expected}."))
        tmp_dir = settings.get("worker_tmp_dir")
        if tmp_dir is not None:
            app = self.get("gunicorn_app_name", "fasterapi")
            writable = ["/tmp", "/var/tmp", "/dev/shm", f"/var/lib/{app}", f"/run/{app}"]
            writable += [path for path in self.get("gunicorn_systemd_read_write_paths", []) if isinstance(path, str)]
            if not clean_path(tmp_dir) or not any(is_below(tmp_dir, directory) for directory in writable):
                expected = f"expected a directory the sandboxed app may write ({', '.join(writable)})"
                self.add("gunicorn_extra_settings", "worker_tmp_dir", expected,
                         message=f"gunicorn_extra_settings sets \"worker_tmp_dir\"={show(tmp_dir)}: {expected}.")

    def credentials(self) -> None:
        """gunicorn_credentials are named as files, each with one src or content, all within systemd's limits."""
        credentials = self.get("gunicorn_credentials", {})
        if not isinstance(credentials, Mapping):
            self.add("gunicorn_credentials", type(credentials).__name__, "expected a mapping of credential names to {src: FILE} "
                     "or {content: TEXT}", shown=f"<{type(credentials).__name__}, not shown>")
            return
        bad_names = [str(name) for name in credentials if not _CREDENTIAL_NAME.match(str(name)) or str(name) in (".", "..")]
        if bad_names:
            expected = ("expected names of letters, digits and _ . @ - (a file name in $CREDENTIALS_DIRECTORY, at most 255 "
                        "characters, not starting with . or -)")
            self.add("gunicorn_credentials", bad_names, expected,
                     message=f"gunicorn_credentials has invalid names {show(bad_names)}: {expected}.")
        for name, spec in credentials.items():
            where = f"gunicorn_credentials.{name}"
            keys = sorted(spec) if isinstance(spec, Mapping) else []
            if keys not in (["src"], ["content"]):
                expected = ("expected a mapping with either src (the absolute path of a file on the controller, vault-encrypted "
                            "or not) or content (text), nothing else")
                self.add(where, f"<{type(spec).__name__}, not shown>", expected, message=f"{where} (not shown): {expected}.")
            elif keys == ["src"]:
                src = spec["src"]
                if not isinstance(src, str) or not os.path.isabs(src) or not os.path.isfile(src):
                    self.add(f"{where}.src", src, "expected the absolute path of a file on the controller "
                             '(for example "{{ playbook_dir }}/files/tls.key")')
            elif not isinstance(spec["content"], str) or "\x00" in spec["content"]:
                self.add(f"{where}.content", "<not shown>", "expected text; binary data comes from a file (src)",
                         message=f"{where}.content (not shown): expected text; binary data comes from a file (src).")
        valid = {name: spec for name, spec in credentials.items()
                 if isinstance(spec, Mapping) and sorted(spec) in (["src"], ["content"])}
        for variable, message in secret_limits.credential_problems(valid):
            self.add(variable, "<not shown>", "expected at most 1 MiB per credential and together", message=message)

    def metrics(self) -> None:
        """gunicorn_statsd_host is HOST:PORT the sandbox lets packets through to; the prefix is a metric name's."""
        host = self.text("gunicorn_statsd_host")
        prefix = self.get("gunicorn_statsd_prefix", "")
        if not isinstance(prefix, str) or not re.match(r"^[A-Za-z0-9_.-]*$", prefix):
            self.add("gunicorn_statsd_prefix", prefix, "expected letters, digits and _ . - (a statsd metric name prefix)")
        if not host:
            return
        match = _STATSD_HOST.match(host)
        port = int(match.group("port")) if match else 0
        if not match or not 0 < port < 65536 or (match.group("v6") and ip_allow_error(match.group("v6"))):
            self.add("gunicorn_statsd_host", host, 'expected empty, or HOST:PORT of a statsd server such as "127.0.0.1:8125" '
                     'or "[fd00::5]:8125" (UDP)')
            return
        address = match.group("v6") or match.group("host")
        filtered = (as_bool(self.get("gunicorn_systemd_hardening", True))
                    and "any" not in [str(entry) for entry in self.a_list("gunicorn_systemd_ip_address_allow")])
        if filtered and address != "localhost" and ip_allow_error(address):
            self.add("gunicorn_statsd_host", host, "expected an IP address (the sandbox lets packets through to addresses "
                     "only, and the role adds this one to IPAddressAllow=), or localhost")

    def control_socket(self) -> None:
        """gunicorn_control_socket_mode is an octal mode."""
        mode = self.get("gunicorn_control_socket_mode", "0600")
        if not _MODE.match(str(mode)):
            self.add("gunicorn_control_socket_mode", str(mode), 'expected an octal mode like "0600"')

    def run(self) -> list[Problem]:
        """Every check, in the order of the role's documentation: the problems found."""
        self.app()
        self.accounts()
        self.sources()
        self.releases()
        self.paths()
        self.python_and_packages()
        binds = self.binds()
        self.sandbox(binds)
        self.workers()
        self.logs()
        self.environment()
        self.extra_settings()
        self.control_socket()
        self.credentials()
        self.metrics()
        companion_checks.check(self)
        return self.problems


def problems(settings: Mapping[str, Any], needs_source: bool = True, worker_classes: Iterable[str] = (),
             sandbox_directives: Iterable[str] = ()) -> list[Problem]:
    """Every problem with the gunicorn role's variables SETTINGS, in the order of the role's documentation."""
    return GunicornChecker(settings, needs_source, worker_classes or (), sandbox_directives or ()).run()
