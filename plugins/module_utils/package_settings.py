# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""Read a host's own package settings (pip's and uv's) and turn them into each installer's environment.

A host's admin configures pip once: /etc/pip.conf, PIP_* variables, a CA in
the system trust store, a proxy in /etc/environment. pip reads its own
files, uv reads none of pip's. This module finds every setting that decides
where packages come from and how they are fetched, says where each came
from, and gives both installers the same settings, the role's variables
taking precedence over the host's, and uv's own configuration over pip's
for uv. Standard library only (it runs on the host).
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

try:
    import tomllib  # Python 3.11 and newer (Debian 12 and 13)
except ImportError:  # pragma: no cover - older hosts: uv's files are not read, uv still reads them itself
    tomllib = None  # type: ignore[assignment]

# pip's option names (its config files and, upper-cased with PIP_, its
# environment) that decide what gets installed or how it is fetched.
PIP_KEYS = ("index-url", "extra-index-url", "find-links", "no-index", "cert", "client-cert", "timeout", "retries",
            "trusted-host", "proxy")
# The options that change what gets installed, so go into a release's digest.
DIGEST_KEYS = ("index-url", "extra-index-url", "find-links", "no-index")
# Options holding several values (whitespace-separated in files and variables).
LIST_KEYS = ("extra-index-url", "find-links", "trusted-host")
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "no_proxy", "all_proxy")
# The role's variables, by pip option name.
ROLE_VARIABLES = {
    "index-url": "gunicorn_pip_index_url",
    "extra-index-url": "gunicorn_pip_extra_index_urls",
    "find-links": "gunicorn_pip_find_links",
    "cert": "gunicorn_pip_cert",
}
# uv's equivalents: the variable uv reads, and how a list is joined.
UV_VARIABLES = {
    "index-url": ("UV_INDEX_URL", " "),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "find-links": ("UV_FIND_LINKS", ","),
    "cert": ("SSL_CERT_FILE", ""),
    "client-cert": ("SSL_CLIENT_CERT", ""),
    "timeout": ("UV_HTTP_TIMEOUT", ""),
    "retries": ("UV_HTTP_RETRIES", ""),
    "trusted-host": ("UV_INSECURE_HOST", " "),
}
# uv's own settings (uv.toml, top level or [pip], and UV_* variables) that
# stand for a pip option: where one is set, uv keeps it and pip's is not passed on.
UV_OWN = {
    "index-url": ("index-url", "UV_INDEX_URL", "UV_DEFAULT_INDEX"),
    "extra-index-url": ("extra-index-url", "UV_EXTRA_INDEX_URL", "UV_INDEX"),
    "find-links": ("find-links", "UV_FIND_LINKS"),
    "no-index": ("no-index", "UV_NO_INDEX"),
    "cert": ("SSL_CERT_FILE",),
    "client-cert": ("SSL_CLIENT_CERT",),
    "timeout": ("UV_HTTP_TIMEOUT",),
    "retries": ("UV_HTTP_RETRIES",),
    "trusted-host": ("allow-insecure-host", "UV_INSECURE_HOST"),
}
# Variables that name a CA bundle for OpenSSL (uv, Python) or requests: the host's trust settings when pip has none.
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
LOCAL_CA_DIR = "/usr/local/share/ca-certificates"
OFFLINE = "gunicorn_offline (the wheelhouse)"
DEFAULT_INDEX = "https://pypi.org/simple"
# What a wheelhouse is built for: the host Python's version, CPU and glibc.
_TARGET = ("import json, platform, sys; libc = platform.libc_ver(); print(json.dumps({'python_version': '%d.%d' % "
           "sys.version_info[:2], 'machine': platform.machine(), 'glibc': libc[1] if libc[0] == 'glibc' else ''}))")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_TRUE = ("1", "true", "yes", "on")


def redact(value: str) -> str:
    """VALUE with the user and password of every URL in it replaced by ***."""
    return _CREDENTIALS.sub("***@", value)


def secret_values(environment: Mapping[str, Any]) -> List[str]:
    """The values of ENVIRONMENT that hold credentials (user:password@ in a URL): what a module must not log."""
    return [str(value) for value in environment.values() if _CREDENTIALS.search(str(value))]


def _values(key: str, raw: str) -> Any:
    if key in LIST_KEYS:
        return raw.split()
    return raw.strip()


def pip_config_files(environ: Mapping[str, str], home: str, root: str = "/") -> List[str]:
    """pip's configuration files in the order pip loads them (a later one overrides an earlier one).

    PIP_CONFIG_FILE first, then the global files (each XDG config dir, then
    /etc/pip.conf), then the user's (legacy ~/.pip, then XDG). A
    PIP_CONFIG_FILE of os.devnull turns all of them off, as in pip.
    """
    named = environ.get("PIP_CONFIG_FILE", "")
    if named == os.devnull:
        return []
    files = [named] if named else []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "") or os.path.join(root, "etc/xdg")
    files += [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs.split(":") if d]
    files.append(os.path.join(root, "etc/pip.conf"))
    files.append(os.path.join(home, ".pip", "pip.conf"))
    files.append(os.path.join(environ.get("XDG_CONFIG_HOME", "") or os.path.join(home, ".config"), "pip", "pip.conf"))
    return files


def read_pip_files(files: Sequence[str]) -> Tuple[Dict[str, Tuple[Any, str]], List[str]]:
    """The pip options set in FILES ([global], then [install] over it), each with its source; and the problems."""
    found: Dict[str, Tuple[Any, str]] = {}
    problems: List[str] = []
    for path in files:
        if not os.path.isfile(path):
            continue
        parser = configparser.RawConfigParser()
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, UnicodeDecodeError, configparser.Error) as err:
            problems.append("%s is not a pip configuration file pip can read: %s" % (path, str(err).splitlines()[0]))
            continue
        for section in ("global", "install"):
            if not parser.has_section(section):
                continue
            for key in PIP_KEYS:
                for spelling in (key, key.replace("-", "_")):
                    if parser.has_option(section, spelling):
                        found[key] = (_values(key, parser.get(section, spelling)), "%s [%s]" % (path, section))
    return found, problems


def read_pip_environment(environ: Mapping[str, str], origin: Mapping[str, str]) -> Dict[str, Tuple[Any, str]]:
    """The pip options set by PIP_* variables, each with its source (ORIGIN names where a variable was read)."""
    found: Dict[str, Tuple[Any, str]] = {}
    for key in PIP_KEYS:
        name = "PIP_" + key.upper().replace("-", "_")
        if environ.get(name, "") != "":
            found[key] = (_values(key, environ[name]), "%s (%s)" % (name, origin.get(name, "environment")))
    if "timeout" not in found and environ.get("PIP_DEFAULT_TIMEOUT", "") != "":
        found["timeout"] = (environ["PIP_DEFAULT_TIMEOUT"].strip(), "PIP_DEFAULT_TIMEOUT (%s)"
                            % origin.get("PIP_DEFAULT_TIMEOUT", "environment"))
    return found


def parse_environment_file(text: str) -> Dict[str, str]:
    """KEY=value lines of /etc/environment (pam_env's format: optional quotes, # comments)."""
    found: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name.strip()):
            found[name.strip()] = value
    return found


def host_environment(environ: Mapping[str, str], environment_file: str = "/etc/environment") -> Tuple[Dict[str, str], Dict[str, str]]:
    """The module's environment plus /etc/environment where it says more (a docker exec or a
    non-PAM session does not load it); and, per variable, where it was read."""
    merged = dict(environ)
    origin = {name: "environment" for name in environ}
    try:
        with open(environment_file, encoding="utf-8") as handle:
            extra = parse_environment_file(handle.read())
    except (OSError, UnicodeDecodeError):
        extra = {}
    for name, value in extra.items():
        if name not in merged:
            merged[name] = value
            origin[name] = environment_file
    return merged, origin


def uv_config_files(environ: Mapping[str, str], home: str, root: str = "/") -> List[str]:
    """uv's configuration files that uv itself reads (system, then user), unless UV_NO_CONFIG is set."""
    if environ.get("UV_NO_CONFIG", "").lower() in _TRUE:
        return []
    if environ.get("UV_CONFIG_FILE"):
        return [environ["UV_CONFIG_FILE"]]
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "") or os.path.join(root, "etc/xdg")
    files = [os.path.join(d, "uv", "uv.toml") for d in xdg_dirs.split(":") if d]
    files.append(os.path.join(root, "etc/uv/uv.toml"))
    files.append(os.path.join(environ.get("XDG_CONFIG_HOME", "") or os.path.join(home, ".config"), "uv", "uv.toml"))
    return files


def read_uv_files(files: Sequence[str]) -> Tuple[Dict[str, Tuple[Any, str]], List[str]]:
    """uv's index, find-links and insecure-host settings in FILES, each with its source."""
    found: Dict[str, Tuple[Any, str]] = {}
    problems: List[str] = []
    for path in files:
        if not os.path.isfile(path):
            continue
        if tomllib is None:
            found["(uv.toml)"] = ("not read (Python without tomllib); uv reads it itself", path)
            continue
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, ValueError) as err:
            problems.append("%s is not a uv configuration file uv can read: %s" % (path, err))
            continue
        for table, where in ((data, path), (data.get("pip", {}), "%s [pip]" % path)):
            if not isinstance(table, dict):
                continue
            for key in ("index-url", "extra-index-url", "find-links", "no-index", "allow-insecure-host"):
                if key in table:
                    found[key] = (table[key], where)
            for index in table.get("index", []) if isinstance(table.get("index"), list) else []:
                if isinstance(index, dict) and index.get("url"):
                    key = "index-url" if index.get("default") else "extra-index-url"
                    found[key] = (index["url"] if key == "index-url" else [index["url"]], where + " [[index]]")
    return found, problems


def _as_text(key: str, value: Any, joiner: str = " ") -> str:
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, (list, tuple)):
        return joiner.join(str(v) for v in value)
    if key == "no-index":
        return "1" if str(value).lower() in _TRUE else ""
    return str(value)


def system_ca(local_dir: str = LOCAL_CA_DIR) -> List[str]:
    """The CA certificates the admin added to the system trust store (update-ca-certificates)."""
    found = []
    for top, _dirs, files in os.walk(local_dir):
        found += [os.path.join(top, name) for name in sorted(files) if name.endswith(".crt")]
    return sorted(found)


def _forced(source: str) -> bool:
    return source.startswith("role variable") or source == OFFLINE


def effective(role: Mapping[str, Any], environ: Mapping[str, str], origin: Mapping[str, str], home: str,
              local_ca: Sequence[str] = (), root: str = "/", wheelhouse: str = "") -> Dict[str, Any]:
    """Every package setting that applies on this host, the role's over the host's, and each installer's environment.

    ROLE holds the role's values by pip option name (empty: not set).
    With WHEELHOUSE (a directory on the host), packages come from there
    only (no-index, find-links), whatever else is set.
    Returns settings (what applies, for pip, with its redacted value and
    source), uv_settings (the same for uv), pip_environment,
    uv_environment, digest (what changes what gets installed), problems.
    """
    pip_found, problems = read_pip_files(pip_config_files(environ, home, root))
    pip_found.update(read_pip_environment(environ, origin))
    for key, value in role.items():
        if key in PIP_KEYS and value not in ("", None, [], False):
            pip_found[key] = (_values(key, value) if isinstance(value, str) else list(value) if isinstance(value, (list, tuple))
                              else value, "role variable %s" % ROLE_VARIABLES.get(key, key))
    if "cert" not in pip_found:
        # A CA bundle named only for OpenSSL or requests (often in /etc/environment): pip and the probe are told it too.
        for name in CA_VARIABLES:
            if environ.get(name):
                pip_found["cert"] = (environ[name], "%s (%s)" % (name, origin.get(name, "environment")))
                break
    if wheelhouse:
        pip_found["no-index"] = (True, OFFLINE)
        pip_found["find-links"] = ([wheelhouse], OFFLINE)
    uv_files, uv_problems = read_uv_files(uv_config_files(environ, home, root))
    problems += uv_problems

    pip_environment: Dict[str, str] = {}
    uv_environment: Dict[str, str] = {}
    uv_found: Dict[str, Tuple[Any, str]] = {}
    # uv has no variable for --no-index: it goes on its command line.
    uv_arguments: List[str] = []
    if "no-index" in pip_found and _as_text("no-index", pip_found["no-index"][0]):
        uv_arguments.append("--no-index")
        uv_found["no-index"] = pip_found["no-index"]
    for key, (value, source) in sorted(pip_found.items()):
        role_set = _forced(source)
        if role_set or source.startswith(CA_VARIABLES) or not (source.endswith("(environment)") or source.endswith("]")):
            # pip reads its files and its own environment itself; what the
            # role says, and what only /etc/environment says, it is told.
            pip_environment["PIP_" + key.upper().replace("-", "_")] = _as_text(key, value)
        if key not in UV_VARIABLES:
            continue
        own = [name for name in UV_OWN[key] if (name.isupper() and environ.get(name)) or name in uv_files]
        if own and not role_set:
            # uv's own setting wins on the host; uv reads its files and its session's
            # variables itself, and is told those only /etc/environment sets.
            for name in own:
                if name.isupper() and origin.get(name, "environment") != "environment":
                    uv_environment[name] = environ[name]
            continue
        variable, joiner = UV_VARIABLES[key]
        text = _as_text(key, value, joiner or " ")
        if text:
            uv_environment[variable] = text
            uv_found[key] = (value, source)
    for key, (value, source) in uv_files.items():
        if key == "allow-insecure-host":
            key = "trusted-host"
        if key not in uv_found:
            uv_found[key] = (value, source)
    for key in UV_OWN:
        for name in UV_OWN[key]:
            if name.isupper() and environ.get(name) and key not in uv_found:
                uv_found[key] = (environ[name], "%s (%s)" % (name, origin.get(name, "environment")))
    # uv's bundled roots know no CA the admin added: use the system's store,
    # which on Debian is the Mozilla roots plus those (as pip does there).
    uv_environment["UV_SYSTEM_CERTS"] = "1"
    proxies = {name: environ[name] for name in PROXY_VARIABLES if environ.get(name)}
    for name, value in proxies.items():
        if origin.get(name) != "environment":  # the module's own environment is passed on anyway
            pip_environment[name] = value
            uv_environment[name] = value
    if "proxy" in pip_found:
        value, source = pip_found["proxy"]
        for name in ("HTTPS_PROXY", "HTTP_PROXY"):
            if name not in proxies:
                uv_environment[name] = str(value)
                uv_found["proxy"] = (value, source)

    def table(found: Dict[str, Tuple[Any, str]]) -> List[Dict[str, str]]:
        return [{"setting": key, "value": redact(_as_text(key, value)), "source": source}
                for key, (value, source) in sorted(found.items())]

    settings = table(pip_found)
    settings += [{"setting": name, "value": redact(value), "source": origin.get(name, "environment")}
                 for name, value in sorted(proxies.items())]
    uv_settings = table(uv_found)
    if local_ca:
        ca = {"setting": "system trust store", "value": ", ".join(local_ca), "source": LOCAL_CA_DIR}
        settings.append(ca)
        uv_settings.append(ca)

    def digest(found: Dict[str, Tuple[Any, str]]) -> Dict[str, str]:
        if wheelhouse:  # the lock decides what gets installed, not where the wheels lie
            return {}
        return {key: _CREDENTIALS.sub("", _as_text(key, found[key][0])) for key in DIGEST_KEYS if key in found}

    index = pip_found.get("index-url", (DEFAULT_INDEX, "pip's default"))
    return {"settings": settings, "uv_settings": uv_settings, "pip_environment": pip_environment,
            "uv_environment": uv_environment, "uv_arguments": uv_arguments,
            "pip_digest": digest(pip_found), "uv_digest": digest(uv_found),
            "problems": problems, "index": {"url": str(index[0]), "source": index[1],
                                            "cert": _as_text("cert", pip_found["cert"][0]) if "cert" in pip_found else ""}}


def _opener(index: Mapping[str, str], environ: Mapping[str, str], url: str) -> Any:
    """A urllib opener for URL with INDEX's CA and the host's proxies (NO_PROXY honoured)."""
    proxies = {scheme: environ.get(scheme + "_proxy") or environ.get(scheme.upper() + "_PROXY", "")
               for scheme in ("http", "https")}
    no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY", "")
    context = ssl.create_default_context(cafile=index.get("cert") or None)
    handlers: List[Any] = [urllib.request.HTTPSHandler(context=context)]
    host = urllib.request.urlparse(url).hostname or ""
    bypass = any(host == entry.strip().lstrip(".") or host.endswith("." + entry.strip().lstrip("."))
                 for entry in no_proxy.split(",") if entry.strip())
    handlers.append(urllib.request.ProxyHandler({} if bypass else {k: v for k, v in proxies.items() if v}))
    return urllib.request.build_opener(*handlers)


def on_index(index: Mapping[str, str], environ: Mapping[str, str], timeout: float, project: str, version: str,
             opener: Optional[Any] = None) -> Dict[str, Any]:
    """Whether INDEX's page for PROJECT (the simple API) lists a file of VERSION.

    Returns ``found`` (True, False, or None when the page could not be read:
    then nothing is concluded) and ``error``.
    """
    base = index["url"].rstrip("/")
    credentials = _CREDENTIALS.search(base)
    url = "%s/%s/" % (_CREDENTIALS.sub("", base), re.sub(r"[-_.]+", "-", project).lower())
    headers = {"User-Agent": "fasterapi.deploy index check", "Accept": "text/html"}
    if credentials:
        user_password = urllib.request.unquote(credentials.group(0)[:-1])
        headers["Authorization"] = "Basic " + base64.b64encode(user_password.encode("utf-8")).decode("ascii")
    try:
        opener = opener or _opener(index, environ, url)
        with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            page = response.read(8 * 1024 * 1024).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return {"found": False, "error": "%s has no page for %s (HTTP 404)" % (redact(url), project)}
        return {"found": None, "error": "HTTP %d" % err.code}
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as err:
        return {"found": None, "error": str(getattr(err, "reason", err))}
    # A file's name: the project (any of - _ . between its words, any case), the version, then a wheel's tags or an sdist's suffix.
    stem = "[-_.]+".join(re.escape(word) for word in re.split(r"[-_.]+", project))
    wanted = re.compile(r"^%s-%s(-|\.tar\.gz$|\.zip$)" % (stem, re.escape(version)), re.IGNORECASE)
    found = any(wanted.match(name) for name in re.findall(r">\s*([^<>\s]+)\s*</a>", page))
    return {"found": found, "error": "" if found else "%s lists no file of %s %s" % (redact(url), project, version)}


def probe(index: Mapping[str, str], environ: Mapping[str, str], timeout: float,
          opener: Optional[Any] = None) -> Dict[str, Any]:
    """Ask INDEX (effective()'s "index") once, with its CA and the host's proxies, within TIMEOUT seconds.

    Any HTTP answer counts as reachable; no answer, a refused connection or
    an untrusted certificate does not. Returns url (redacted), ok, error and seconds.
    """
    # Without credentials: an answer of any kind (401 included) is all this asks for.
    url = _CREDENTIALS.sub("", index["url"]).rstrip("/") + "/"
    started = time.monotonic()
    try:
        if opener is None:
            opener = _opener(index, environ, url)
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "fasterapi.deploy index check"})
        with opener.open(request, timeout=timeout):
            pass
        error = ""
    except urllib.error.HTTPError:
        error = ""  # it answered
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as err:
        reason = getattr(err, "reason", err)
        error = "no answer within %g s" % timeout if isinstance(reason, TimeoutError) or "timed out" in str(reason) else str(reason)
    return {"url": redact(url), "ok": not error, "error": error, "seconds": round(time.monotonic() - started, 3)}


def target(python: str) -> Dict[str, str]:
    """What PYTHON is (version, CPU, glibc), for a wheelhouse; empty values when it does not run."""
    try:
        out = subprocess.run([python, "-c", _TARGET], capture_output=True, text=True, check=True, timeout=60).stdout
        return {str(k): str(v) for k, v in json.loads(out).items()}
    except (OSError, subprocess.SubprocessError, ValueError):
        return {"python_version": "", "machine": "", "glibc": ""}


def home_of_effective_user(environ: Optional[Mapping[str, str]] = None) -> str:
    """The home directory pip and uv look in (HOME, else the password database's)."""
    environ = os.environ if environ is None else environ
    if environ.get("HOME"):
        return environ["HOME"]
    return os.path.expanduser("~")
