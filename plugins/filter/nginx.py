"""The fasterapi.deploy nginx filters: every problem with the nginx role's variables, and the upstream servers of a site.

nginx_upstreams turns the records fasterapi.deploy.gunicorn keeps on the
upstream hosts (the fact gunicorn_deployed_apps) into nginx's upstream
servers, and nginx_problems checks the role's variables against them before
anything on the host changes. Both are plugins/plugin_utils/nginx_checks.py's.

A file defining several filters has no DOCUMENTATION of its own: each filter's
(for ansible-doc) is in plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.module_utils import nginx_pool as pool
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import nginx_checks
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import Problem


def nginx_problems(settings: Mapping[str, Any], upstreams: Iterable[Mapping[str, Any]] = (),
                   apps: Mapping[str, Any] | None = None, sites: Iterable[Mapping[str, Any]] = (),
                   host: str = "", addresses: Iterable[str] = (), pems: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem with the nginx role's SETTINGS (nginx_* variables), given the site's UPSTREAMS.

    UPSTREAMS: per upstream host, {host, local, app (its record), error}, as nginx_upstreams returns them.
    APPS: this host's own app records (their ports are not nginx's to take).
    SITES: the other sites of the role on this host ({name, http_port, https_port, server_names}).
    ADDRESSES: this host's IP addresses (nginx connects to other hosts from one).
    PEMS: with nginx_certificate files, {certificate, key}: the files' texts, checked before nginx serves them.
    """
    return nginx_checks.problems(settings, upstreams, apps, sites, host, addresses, pems)


def nginx_upstreams(hosts: Iterable[str], records: Mapping[str, Any], app_name: str, this_host: str) -> list[dict[str, Any]]:
    """Per upstream host: its app record (from RECORDS, host to gunicorn_deployed_apps), and the server nginx uses."""
    return nginx_checks.site_upstreams(hosts, records, app_name, this_host)


def nginx_pool(previous: str, app: str, upstreams: Iterable[Mapping[str, Any]], max_fails: int = 1,
               fail_timeout: int = 10, host_name: str = "") -> dict[str, str]:
    """The pool of APP's site: its state (JSON) and upstream servers (nginx), each host's out and weight kept from PREVIOUS.

    PREVIOUS: the pool's JSON as the host has it ('' for none). UPSTREAMS: as nginx_upstreams returns them.
    HOST_NAME: the site's first server name, the Host header of health checks sent to the hosts (maintenance).
    """
    upstreams = list(upstreams)
    health = dict(next((upstream["app"].get("health", {}) for upstream in upstreams if upstream.get("app")), {}))
    if host_name:
        health["host"] = host_name
    state = pool.merge(pool.load(previous, app), app, upstreams, max_fails, fail_timeout, health)
    return {"json": pool.dump(state), "conf": pool.render(state)}


class FilterModule:
    """fasterapi.deploy's nginx filters."""

    def filters(self) -> dict[str, Any]:
        """The filters nginx_problems, nginx_upstreams and nginx_pool."""
        return {"nginx_problems": nginx_problems, "nginx_upstreams": nginx_upstreams, "nginx_pool": nginx_pool}
