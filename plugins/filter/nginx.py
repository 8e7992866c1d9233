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

from ansible_collections.fasterapi.deploy.plugins.plugin_utils import nginx_checks
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import Problem


def nginx_problems(settings: Mapping[str, Any], upstreams: Iterable[Mapping[str, Any]] = (),
                   apps: Mapping[str, Any] | None = None, sites: Iterable[Mapping[str, Any]] = (),
                   host: str = "", addresses: Iterable[str] = ()) -> list[Problem]:
    """Every problem with the nginx role's SETTINGS (nginx_* variables), given the site's UPSTREAMS.

    UPSTREAMS: per upstream host, {host, local, app (its record), error}, as nginx_upstreams returns them.
    APPS: this host's own app records (their ports are not nginx's to take).
    SITES: the other sites of the role on this host ({name, http_port, https_port, server_names}).
    ADDRESSES: this host's IP addresses (nginx connects to other hosts from one).
    """
    return nginx_checks.problems(settings, upstreams, apps, sites, host, addresses)


def nginx_upstreams(hosts: Iterable[str], records: Mapping[str, Any], app_name: str, this_host: str) -> list[dict[str, Any]]:
    """Per upstream host: its app record (from RECORDS, host to gunicorn_deployed_apps), and the server nginx uses."""
    return nginx_checks.site_upstreams(hosts, records, app_name, this_host)


class FilterModule:
    """fasterapi.deploy's nginx filters."""

    def filters(self) -> dict[str, Any]:
        """The filters nginx_problems and nginx_upstreams."""
        return {"nginx_problems": nginx_problems, "nginx_upstreams": nginx_upstreams}
