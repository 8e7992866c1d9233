"""The nginx role's checks and a site's upstream servers (plugins/plugin_utils/nginx_checks.py), without a host.

Each refusal applies one bad setting over the settings the front_door
scenario converges with, and asserts the variable at fault and the words an
operator reads; the upstreams are built from records as
fasterapi.deploy.gunicorn writes them (fact gunicorn_deployed_apps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.fasterapi.deploy.plugins.plugin_utils.binds import gunicorn_bind
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import nginx_checks

GOOD: dict[str, Any] = {
    "nginx_app_name": "pool", "nginx_server_names": ["front", "www.example.org"], "nginx_http_port": 80,
    "nginx_https_port": 443, "nginx_upstream_hosts": ["front", "app2"], "nginx_upstream_keepalive": 16,
    "nginx_upstream_keepalive_timeout": 4, "nginx_proxy_read_timeout": 60, "nginx_proxy_connect_timeout": 5,
    "nginx_client_max_body_size": "10m", "nginx_certificate": "self_signed", "nginx_certificate_file": "",
    "nginx_certificate_key_file": "", "nginx_acme_email": "", "nginx_acme_directory_url": "https://acme.example.org/dir",
    "nginx_acme_ca_bundle": "", "nginx_static_url": "/static/", "nginx_static_dir": "static",
    "nginx_upstream_max_fails": 2, "nginx_upstream_fail_timeout": 10, "nginx_hsts_max_age": 1,
}
FRONT = "10.0.0.2"


def record(*binds: str, proxies: list[str] | None = None, ip_allow: list[str] | None = None, keepalive: int = 5,
           timeout: int = 30, address: str = "10.0.0.3") -> dict[str, Any]:
    return {"binds": [gunicorn_bind(bind) for bind in binds], "keepalive": keepalive, "timeout": timeout,
            "trusted_proxies": proxies if proxies is not None else [FRONT], "ip_filter": True,
            "ip_allow": ip_allow if ip_allow is not None else ["localhost", *(proxies if proxies is not None else [FRONT])],
            "address": address, "health": {"path": "/health", "status": [200]}}


RECORDS = {"front": {"pool": record("127.0.0.1:8001", address=FRONT)}, "app2": {"pool": record("0.0.0.0:8001")}}


def problems(change: dict[str, Any] | None = None, records: dict[str, Any] | None = None,
             sites: list[dict[str, Any]] | None = None, apps: dict[str, Any] | None = None) -> list[dict[str, str]]:
    settings = {**GOOD, **(change or {})}
    upstreams = nginx_checks.site_upstreams(settings["nginx_upstream_hosts"], records if records is not None else RECORDS, "pool",
                                            "front")
    return nginx_checks.problems(settings, upstreams, apps=apps if apps is not None else RECORDS["front"], sites=sites or [],
                                 host="front", addresses=[FRONT])


def only(found: list[dict[str, str]], variable: str, *words: str) -> str:
    assert [problem["variable"] for problem in found] == [variable], found
    message = found[0]["message"]
    for word in words:
        assert word in message, message
    return message


def test_the_converged_settings_have_no_problem() -> None:
    assert problems() == []


def test_upstream_servers_local_loopback_and_remote_address() -> None:
    upstreams = nginx_checks.site_upstreams(["front", "app2"], RECORDS, "pool", "front")
    assert [(item["host"], item["local"], item["server"]) for item in upstreams] == [
        ("front", True, "127.0.0.1:8001"), ("app2", False, "10.0.0.3:8001")]
    # No upstream hosts: this host alone; 0.0.0.0 is reached on loopback.
    alone = nginx_checks.site_upstreams([], {"front": {"pool": record("0.0.0.0:8000", address=FRONT)}}, "pool", "front")
    assert [(item["host"], item["server"]) for item in alone] == [("front", "127.0.0.1:8000")]
    ipv6 = nginx_checks.site_upstreams(["app2"], {"app2": {"pool": record("[fd00::3]:8001")}}, "pool", "front")
    assert ipv6[0]["server"] == "[fd00::3]:8001"


@pytest.mark.parametrize("name", ["app example.org", "https://front", "front:443", "10.0.0.2", "-front", "a" * 64 + ".org", "front_1"])
def test_server_names_that_are_not_host_names(name: str) -> None:
    only(problems({"nginx_server_names": ["front", name]}), "nginx_server_names", "is not a host name", name[:10])


def test_wildcards_only_without_acme() -> None:
    assert problems({"nginx_server_names": ["*.example.org"]}) == []
    only(problems({"nginx_server_names": ["*.example.org"], "nginx_certificate": "acme"}), "nginx_server_names", "HTTP-01")


def test_a_certificate_without_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    message = only(problems({"nginx_certificate": "files", "nginx_certificate_file": str(cert)}),
                   "nginx_certificate_key_file", "needs its private key")
    assert "nginx_certificate_key_file" in message
    only(problems({"nginx_certificate": "files", "nginx_certificate_file": str(cert),
                   "nginx_certificate_key_file": str(tmp_path / "missing.key")}),
         "nginx_certificate_key_file", "is not a file on the controller")
    only(problems({"nginx_certificate_key_file": str(cert)}), "nginx_certificate_key_file", "expected nginx_certificate: files")


@pytest.mark.parametrize("email", ["ops", "ops@", "ops@example", "ops example@example.org", "mailto:ops@example.org"])
def test_an_acme_contact_that_is_not_an_email_address(email: str) -> None:
    only(problems({"nginx_certificate": "acme", "nginx_acme_email": email}), "nginx_acme_email", "is not an email address")


def test_acme_needs_port_80_and_an_https_directory() -> None:
    assert problems({"nginx_certificate": "acme", "nginx_acme_email": "ops@example.org"}) == []
    only(problems({"nginx_certificate": "acme", "nginx_http_port": 8080}), "nginx_http_port", "HTTP-01")
    only(problems({"nginx_certificate": "acme", "nginx_acme_directory_url": "http://acme/dir"}), "nginx_acme_directory_url", "https://")


def test_ports_other_sites_or_apps_use() -> None:
    other = {"name": "shop", "http_port": 8080, "https_port": 8443, "server_names": ["shop.example.org"]}
    only(problems({"nginx_https_port": 8080}, sites=[other]), "nginx_https_port", "is HTTP in the site of shop")
    only(problems({"nginx_https_port": 8443, "nginx_server_names": ["shop.example.org"]}, sites=[other]),
         "nginx_https_port", "shop.example.org", "the site of shop")
    # The same port with other names is how two sites share 443.
    assert problems({"nginx_https_port": 8443}, sites=[other]) == []
    # This site's own record is not another site.
    assert problems(sites=[{**other, "name": "pool", "https_port": 443, "server_names": ["front"]}]) == []
    only(problems({"nginx_https_port": 8001}), "nginx_https_port", "the app pool binds", "127.0.0.1:8001")
    only(problems({"nginx_http_port": 443}), "nginx_https_port", "is also nginx_http_port")


def test_an_upstream_host_without_the_app() -> None:
    only(problems(records={"front": RECORDS["front"], "app2": {}}), "nginx_upstream_hosts", "app2 has no such app",
         "fasterapi.deploy.gunicorn")


def test_an_upstream_the_app_does_not_bind() -> None:
    loopback = {"front": RECORDS["front"], "app2": {"pool": record("127.0.0.1:8001")}}
    only(problems(records=loopback), "nginx_upstream_hosts", "gunicorn_bind=[\"127.0.0.1:8001\"] on app2", "0.0.0.0:8000")
    unix = {"front": {"pool": record("unix:/run/pool/gunicorn.sock")}, "app2": RECORDS["app2"]}
    only(problems(records=unix), "nginx_upstream_hosts", "has no TCP address", "unix socket")


def test_timeouts_that_disagree_with_gunicorns() -> None:
    slow = {"front": RECORDS["front"], "app2": {"pool": record("0.0.0.0:8001", keepalive=4, timeout=120)}}
    found = problems(records=slow)
    assert [problem["variable"] for problem in found] == ["nginx_upstream_keepalive_timeout", "nginx_proxy_read_timeout"]
    assert "below gunicorn_keepalive=4 of pool on app2" in found[0]["message"]
    assert "below gunicorn_timeout=120 of pool on app2" in found[1]["message"]
    # Without upstream keep-alive, gunicorn's keepalive does not matter.
    assert problems({"nginx_upstream_keepalive": 0, "nginx_proxy_read_timeout": 120}, records=slow) == []


def test_an_app_host_that_does_not_trust_nginx() -> None:
    untrusting = {"front": RECORDS["front"], "app2": {"pool": record("0.0.0.0:8001", proxies=[], ip_allow=["10.0.0.0/8"])}}
    only(problems(records=untrusting), "gunicorn_trusted_proxies", "on app2 does not list an address of front", "10.0.0.2")
    walled = {"front": RECORDS["front"], "app2": {"pool": record("0.0.0.0:8001", proxies=["10.0.0.0/24"], ip_allow=["localhost"])}}
    only(problems(records=walled), "gunicorn_systemd_ip_address_allow", "on app2 does not allow 10.0.0.2")


@pytest.mark.parametrize(("variable", "value"), [("nginx_static_url", "static/"), ("nginx_static_url", "/static"),
                                                 ("nginx_static_url", "/"), ("nginx_static_dir", "/srv/static"),
                                                 ("nginx_static_dir", "../etc"), ("nginx_static_dir", "my static"),
                                                 ("nginx_client_max_body_size", "10 MB"), ("nginx_proxy_connect_timeout", 90),
                                                 ("nginx_upstream_keepalive", -1), ("nginx_certificate", "letsencrypt")])
def test_values_out_of_range(variable: str, value: Any) -> None:
    only(problems({variable: value}), variable)


def test_no_static_files_needs_no_static_url() -> None:
    assert problems({"nginx_static_dir": "", "nginx_static_url": ""}) == []
    assert problems({"nginx_static_dir": "public/assets", "nginx_static_url": "/assets/"}) == []


@pytest.mark.parametrize(("text", "expected"), [("10.0.0.2", True), ("fd00::3", True), ("10.0.0.0/24", False), ("front", False)])
def test_an_ip_address_is_an_address_not_a_prefix_or_a_name(text: str, expected: bool) -> None:
    assert nginx_checks.is_ip(text) is expected


@pytest.mark.parametrize(("entries", "address", "expected"), [
    (["any"], "203.0.113.9", True), (["localhost"], "127.0.0.1", True), (["localhost"], "10.0.0.2", False),
    (["link-local"], "fe80::1", True), (["multicast"], "224.0.0.1", True), (["10.0.0.0/24"], "10.0.0.2", True),
    (["nginx.example.org", "10.0.0.2"], "10.0.0.2", True), (["10.0.0.0/24"], "10.0.1.2", False), (["any"], "front", False),
])
def test_an_ip_address_allow_list_lets_an_address_through(entries: list[str], address: str, expected: bool) -> None:
    assert nginx_checks.allows(entries, address) is expected


def test_an_upstream_server_brackets_ipv6_and_names_the_host() -> None:
    assert nginx_checks.upstream_server(record("[::]:8001", address="fd00::3"), "app2", local=False) == {
        "server": "[fd00::3]:8001", "host": "app2", "error": ""}
    assert nginx_checks.upstream_server(record("[::]:8001"), "front", local=True)["server"] == "[::1]:8001"
    unreachable = nginx_checks.upstream_server(record("0.0.0.0:8001", address=""), "app2", local=False)
    assert unreachable["server"] == "" and "on app2 only binds addresses" in unreachable["error"]
