# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The rules of the fasterapi.deploy.nginx role's variables, and the upstream servers of a site.

The nginx role fronts an app that fasterapi.deploy.gunicorn deployed in the
same run: that role records, per host, what the app binds and how long it
keeps connections (the fact gunicorn_deployed_apps). site_upstreams() turns the
records of the upstream hosts into nginx's upstream servers, and problems()
checks the role's variables against them before anything on the host
changes: each problem names the variable (on which host, for an app host's)
and says what is expected. The nginx_upstreams and nginx_problems filters
(plugins/filter/nginx.py) call them.
"""

from __future__ import annotations

import ipaddress
import os.path
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.plugin_utils import tls_checks
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import Checker, Problem, as_int, show

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}$", re.IGNORECASE)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:" + _LABEL + r"\.)+" + _LABEL + r"$", re.IGNORECASE)
_SIZE = re.compile(r"^[0-9]+[kKmMgG]?$")
_CERTIFICATES = ("self_signed", "files", "acme")


def is_ip(text: str) -> bool:
    """TEXT is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def allows(entries: Iterable[Any], address: str) -> bool:
    """Whether an IPAddressAllow= list (the gunicorn role's entries) lets ADDRESS through."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in entries:
        text = str(entry)
        if text == "any":
            return True
        if text == "localhost" and ip.is_loopback:
            return True
        if text == "link-local" and ip.is_link_local:
            return True
        if text == "multicast" and ip.is_multicast:
            return True
        try:
            if ip in ipaddress.ip_network(text, strict=False):
                return True
        except ValueError:
            continue
    return False


def upstream_server(app: Mapping[str, Any], host: str, local: bool) -> dict[str, Any]:
    """The upstream server (address:port) nginx reaches APP on HOST with, or why there is none.

    APP is the app's record in HOST's gunicorn_deployed_apps fact. LOCAL: nginx
    runs on HOST itself, so a loopback bind is reachable.
    """
    binds = [bind for bind in app.get("binds", []) if bind.get("kind") == "tcp"]
    if local:
        for bind in binds:
            return {"server": _server(bind["probe_host"], bind["port"]), "host": host, "error": ""}
    else:
        for bind in binds:
            if bind.get("loopback"):
                continue
            unspecified = bind["host"] in ("0.0.0.0", "::")
            address = app.get("address") if unspecified else bind["host"]
            if address:
                return {"server": _server(address, bind["port"]), "host": host, "error": ""}
    shown = show([bind.get("address") for bind in app.get("binds", [])])
    if local:
        why = (f"gunicorn_bind={shown} on {host} has no TCP address: nginx's workers cannot reach a unix socket in the app's "
               "private runtime directory; add one, such as 127.0.0.1:8000")
    else:
        why = (f"gunicorn_bind={shown} on {host} only binds addresses nginx on another host cannot reach: bind the app to an "
               "address of its host too, such as 0.0.0.0:8000 (with gunicorn_trusted_proxies listing nginx's address)")
    return {"server": "", "host": host, "error": why}


def _server(address: str, port: int) -> str:
    """ADDRESS:PORT as nginx writes a server, an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class NginxChecker(Checker):
    """Collects the problems of one set of the nginx role's variables (see problems() for the arguments)."""

    def __init__(self, settings: Mapping[str, Any], apps: Mapping[str, Any], sites: list[Mapping[str, Any]],
                 host: str, addresses: list[str], pems: Mapping[str, str] | None = None) -> None:
        super().__init__(settings)
        self.pems = pems or {}
        self.apps = apps
        self.sites = sites
        self.host = host
        self.addresses = addresses

    def names(self) -> None:
        """nginx_server_names are host names, each once, and no wildcard with ACME."""
        names = self.get("nginx_server_names", [])
        if not isinstance(names, list) or not names:
            self.add("nginx_server_names", names, "expected a list of one or more host names")
            return
        acme = self.get("nginx_certificate", "self_signed") == "acme"
        for name in names:
            text = str(name)
            if not _HOST_NAME.match(text) or len(text) > 253 or is_ip(text) or text.replace(".", "").isdigit():
                self.add("nginx_server_names", name, "is not a host name: expected names such as app.example.org "
                         "(letters, digits and -, dot-separated labels of at most 63 characters; no IP address, no port)",
                         message=f"nginx_server_names: {show(name)} is not a host name: expected names such as "
                                 "app.example.org (letters, digits and -, dot-separated labels of at most 63 characters; "
                                 "no IP address, no port, no scheme).")
            elif acme and text.startswith("*."):
                self.add("nginx_server_names", name, "is a wildcard, which ACME's HTTP-01 challenge cannot prove: expected "
                         "the host names themselves, or nginx_certificate: files")
        if len({str(name).lower() for name in names}) != len(names):
            self.add("nginx_server_names", names, "names a host twice")

    def ports(self) -> None:
        """nginx's ports are TCP ports of its own: not each other, another site's (with the same names or scheme), or an app's."""
        self.number("nginx_http_port", "a TCP port, 1 to 65535", 1, 65535)
        self.number("nginx_https_port", "a TCP port, 1 to 65535", 1, 65535)
        http, https = as_int(self.get("nginx_http_port", 80)), as_int(self.get("nginx_https_port", 443))
        if http is not None and http == https:
            self.add("nginx_https_port", https, "is also nginx_http_port: expected two different ports")
        name = self.get("nginx_app_name", "")
        names = {str(item).lower() for item in self.get("nginx_server_names", []) or []}
        for site in self.sites:
            if site.get("name") == name:
                continue
            other = f"the site of {site.get('name')} on {self.host}"
            for variable, port, scheme in (("nginx_http_port", http, "http"), ("nginx_https_port", https, "https")):
                if port is None:
                    continue
                for other_scheme in ("http", "https"):
                    if site.get(f"{other_scheme}_port") != port:
                        continue
                    if other_scheme != scheme:
                        self.add(variable, port, f"is {other_scheme.upper()} in {other}: expected a port that site does not "
                                 f"use, or {other_scheme.upper()} on it too")
                    elif names & {str(item).lower() for item in site.get("server_names", [])}:
                        shared = sorted(names & {str(item).lower() for item in site.get("server_names", [])})
                        self.add(variable, port, f"and the server names {show(shared)} are {other}'s already: expected "
                                 "other names, or another port")
        for app_name, app in self.apps.items():
            for bind in app.get("binds", []):
                if bind.get("kind") == "tcp" and bind.get("port") in (http, https):
                    variable = "nginx_http_port" if bind["port"] == http else "nginx_https_port"
                    self.add(variable, bind["port"], f"is the port the app {app_name} binds on {self.host} "
                             f"(gunicorn_bind {bind.get('address')}): expected a port of nginx's own")

    def certificate(self) -> None:
        """The certificate's kind, with its files (files) or the ACME account and port 80 (acme)."""
        kind = self.get("nginx_certificate", "self_signed")
        if kind not in _CERTIFICATES:
            self.add("nginx_certificate", kind, f"expected one of {', '.join(_CERTIFICATES)}")
            return
        cert, key = self.text("nginx_certificate_file"), self.text("nginx_certificate_key_file")
        if kind == "files":
            if not cert:
                self.add("nginx_certificate_file", cert, "is empty, and nginx_certificate is files: expected the "
                         "certificate (PEM, with its chain) on the controller")
            if not key:
                self.add("nginx_certificate_key_file", key, "is empty, and nginx_certificate is files: a certificate "
                         "needs its private key (PEM, on the controller; vault-encrypted is fine)")
            missing = False
            for variable, path in (("nginx_certificate_file", cert), ("nginx_certificate_key_file", key),
                                   ("nginx_certificate_ca_file", self.text("nginx_certificate_ca_file"))):
                if path and not os.path.isfile(path):
                    self.add(variable, path, "is not a file on the controller")
                    missing = True
            self.number("nginx_certificate_min_days", "a whole number of days, 0 or more", 0)
            if cert and key and not missing and "certificate" in self.pems:
                self.served_certificate()
        elif cert or key:
            variable = "nginx_certificate_file" if cert else "nginx_certificate_key_file"
            self.add(variable, cert or key, f"is set, but nginx_certificate is {kind}: expected nginx_certificate: files")
        if kind == "acme":
            email = self.text("nginx_acme_email")
            if email and not _EMAIL.match(email):
                self.add("nginx_acme_email", email, "is not an email address: expected the ACME account's contact, as "
                         "ops@example.org, or empty for an account without one")
            url = self.text("nginx_acme_directory_url")
            if not re.match(r"^https://[^\s/]+(/\S*)?$", url):
                self.add("nginx_acme_directory_url", url, "expected the https:// URL of an ACME directory")
            bundle = self.text("nginx_acme_ca_bundle")
            if bundle and not bundle.startswith("/"):
                self.add("nginx_acme_ca_bundle", bundle, "expected an absolute path on the host, or empty")
            http = as_int(self.get("nginx_http_port", 80))
            if http != 80:
                self.add("nginx_http_port", http, "is not 80, where an ACME server checks HTTP-01 challenges: expected 80 "
                         "with nginx_certificate: acme")

    def served_certificate(self) -> None:
        """The certificate and key given as files: valid long enough, for the site's names, a pair, with its chain."""
        ca_file = self.text("nginx_certificate_ca_file")
        if ca_file:
            with open(ca_file, encoding="ascii", errors="replace") as handle:
                roots, source = handle.read(), f"nginx_certificate_ca_file ({ca_file})"
        else:
            roots, path = tls_checks.default_roots()
            source = f"the controller's trust store ({path})"
        min_days = as_int(self.get("nginx_certificate_min_days", 14))
        server_names = self.get("nginx_server_names", [])
        names = [str(name) for name in server_names] if isinstance(server_names, list) else []
        for variable, message in tls_checks.certificate_problems(
                self.pems.get("certificate", ""), self.pems.get("key", ""), names,
                min_days if min_days is not None and min_days >= 0 else 0, roots, source):
            shown = show(self.text(variable))
            self.add(variable, self.text(variable), "", message=message.replace(variable, f"{variable}={shown}", 1) + ".")

    def upstream_limits(self) -> None:
        """How nginx's upstream group counts failures and keeps connections."""
        self.number("nginx_upstream_max_fails", "a whole number, 0 or more", 0)
        self.number("nginx_upstream_fail_timeout", "seconds, 1 or more", 1)
        self.number("nginx_upstream_keepalive", "a whole number of connections, 0 or more", 0)
        self.number("nginx_upstream_keepalive_timeout", "seconds, 1 or more", 1)
        self.number("nginx_keepalive_min_timeout", "seconds, 0 (off) to 300", 0, 300)

    def proxy_limits(self) -> None:
        """The proxy's timeouts, HSTS, the static files' URL and directory, and the body size limit."""
        self.number("nginx_proxy_read_timeout", "seconds, 1 or more", 1)
        self.number("nginx_proxy_connect_timeout", "seconds, 1 to 75", 1, 75)
        self.number("nginx_hsts_max_age", "seconds, 0 or more", 0)
        url, directory = self.text("nginx_static_url", "/static/"), self.text("nginx_static_dir", "static")
        if directory and (not url.startswith("/") or not url.endswith("/") or url == "/" or re.search(r"[\s;{}'\"]", url)):
            self.add("nginx_static_url", url, "expected a URL path below / that starts and ends with /, such as /static/")
        if directory and (directory.startswith("/") or ".." in directory.split("/") or re.search(r"[\s;{}'\"]", directory)):
            self.add("nginx_static_dir", directory, "expected a directory relative to the release's code, such as static "
                     "(no leading /, no .., no spaces)")
        size = str(self.get("nginx_client_max_body_size", "10m"))
        if not _SIZE.match(size):
            self.add("nginx_client_max_body_size", size, "expected a size as nginx writes it: 0 (no limit), 1048576, 512k, 10m or 1g")

    def upstreams(self, upstreams: list[Mapping[str, Any]]) -> None:
        """Each upstream host runs the app, reachably, with timeouts that agree with nginx's."""
        hosts = self.get("nginx_upstream_hosts", [])
        if not isinstance(hosts, list):
            self.add("nginx_upstream_hosts", hosts, "expected a list of inventory host names")
            return
        name = self.get("nginx_app_name", "")
        keepalive_timeout = as_int(self.get("nginx_upstream_keepalive_timeout", 4))
        keepalive = as_int(self.get("nginx_upstream_keepalive", 16))
        read_timeout = as_int(self.get("nginx_proxy_read_timeout", 60))
        for upstream in upstreams:
            host = upstream["host"]
            app = upstream.get("app")
            if not app:
                self.add("nginx_upstream_hosts", host, "",
                         message=f"nginx_app_name={show(name)}: {host} has no such app in this run: apply "
                                 "fasterapi.deploy.gunicorn with the same app name to it earlier in the same run "
                                 "(playbooks/site.yml does), or set nginx_upstream_hosts to the hosts that run it.")
                continue
            if upstream.get("error"):
                self.add("nginx_upstream_hosts", host, "", message=upstream["error"] + ".")
                continue
            if keepalive and keepalive_timeout is not None and app.get("keepalive") is not None \
                    and keepalive_timeout >= int(app["keepalive"]):
                self.add("nginx_upstream_keepalive_timeout", keepalive_timeout,
                         f"is not below gunicorn_keepalive={app['keepalive']} of {name} on {host}: gunicorn would close "
                         "idle connections nginx is about to reuse, and a request sent on one fails; expected fewer seconds "
                         "(or nginx_upstream_keepalive: 0)")
            if read_timeout is not None and app.get("timeout") is not None and read_timeout < int(app["timeout"]):
                self.add("nginx_proxy_read_timeout", read_timeout,
                         f"is below gunicorn_timeout={app['timeout']} of {name} on {host}: nginx would give up on answers "
                         "the app is still allowed to give; expected at least as many seconds")
            if upstream.get("local"):
                continue
            proxies = app.get("trusted_proxies", [])
            mine = [address for address in self.addresses if allows(proxies, address)]
            if not mine:
                self.add("gunicorn_trusted_proxies", proxies, "",
                         message=f"gunicorn_trusted_proxies={show(proxies)} on {host} does not list an address of "
                                 f"{self.host} ({', '.join(self.addresses) or 'none known'}): the app would see nginx's "
                                 "address instead of the client's, and its sandbox would drop nginx's packets; add the "
                                 "address nginx connects from.")
            elif app.get("ip_filter") and not allows(app.get("ip_allow", []), mine[0]):
                self.add("gunicorn_systemd_ip_address_allow", app.get("ip_allow", []), "",
                         message=f"gunicorn_systemd_ip_address_allow on {host} does not allow {mine[0]} ({self.host}): the "
                                 "app's sandbox would drop nginx's packets; add it.")

    def run(self, upstreams: list[Mapping[str, Any]]) -> list[Problem]:
        """Every check; UPSTREAMS as site_upstreams() returns them: the problems found."""
        for check in (self.names, self.ports, self.certificate, self.upstream_limits, self.proxy_limits):
            check()
        self.upstreams(upstreams)
        return self.problems


def problems(settings: Mapping[str, Any], upstreams: Iterable[Mapping[str, Any]] = (),
             apps: Mapping[str, Any] | None = None, sites: Iterable[Mapping[str, Any]] = (),
             host: str = "", addresses: Iterable[str] = (), pems: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem with the nginx role's SETTINGS (nginx_* variables), given the site's UPSTREAMS.

    UPSTREAMS: per upstream host, {host, local, app (its record), error}, as site_upstreams() returns them.
    APPS: this host's own app records (their ports are not nginx's to take).
    SITES: the other sites of the role on this host ({name, http_port, https_port, server_names}).
    HOST: this host's name; ADDRESSES: its IP addresses (nginx connects to other hosts from one).
    PEMS: with nginx_certificate files, the texts of the files as the role would write them ({certificate, key},
    read by the file lookup, which decrypts a vaulted key): checked by tls_checks.
    """
    return NginxChecker(settings, apps or {}, list(sites), host, list(addresses), pems).run(list(upstreams))


def site_upstreams(hosts: Iterable[str], records: Mapping[str, Any], app_name: str, this_host: str) -> list[dict[str, Any]]:
    """Per upstream host (THIS_HOST when HOSTS is empty): its record of the app APP_NAME, and the server nginx uses.

    RECORDS: each host's gunicorn_deployed_apps fact, by host name.
    """
    result = []
    for host in list(hosts) or [this_host]:
        app = (records.get(host) or {}).get(app_name)
        local = host == this_host
        entry: dict[str, Any] = {"host": host, "local": local, "app": app, "server": "", "error": ""}
        if app:
            entry.update(upstream_server(app, host, local))
        result.append(entry)
    return result
