"""Unit tests for plugins/filter/gunicorn.py (its bind and IPAddressAllow= filters are plugins/plugin_utils/binds.py's)."""

from __future__ import annotations

import ast

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fasterapi.deploy.plugins.filter import gunicorn as filters


@pytest.mark.parametrize(
    ("value", "kind", "host", "port", "probe"),
    [
        ("127.0.0.1:8000", "tcp", "127.0.0.1", 8000, "127.0.0.1"),
        ("0.0.0.0:80", "tcp", "0.0.0.0", 80, "127.0.0.1"),
        ("[::]:8000", "tcp", "::", 8000, "::1"),
        ("[::1]:9000", "tcp", "::1", 9000, "::1"),
        ("localhost:8000", "tcp", "localhost", 8000, "localhost"),
        ("app.example.org:65535", "tcp", "app.example.org", 65535, "app.example.org"),
    ],
)
def test_tcp_binds(value: str, kind: str, host: str, port: int, probe: str) -> None:
    parsed = filters.gunicorn_bind(value)
    assert (parsed["kind"], parsed["host"], parsed["port"], parsed["probe_host"]) == (kind, host, port, probe)


@pytest.mark.parametrize(
    ("value", "loopback", "privileged", "listen"),
    [
        ("127.0.0.1:8000", True, False, "127.0.0.1:8000"),
        ("127.0.0.2:1023", True, True, "127.0.0.2:1023"),
        ("0.0.0.0:80", False, True, "0.0.0.0:80"),
        ("10.1.2.3:1024", False, False, "10.1.2.3:1024"),
        ("[::]:443", False, True, "[::]:443"),
        ("[::1]:8000", True, False, "[::1]:8000"),
        ("localhost:8000", True, False, None),
        ("app.example.org:8000", False, False, None),
        ("unix:/run/app/app.sock", True, False, "/run/app/app.sock"),
        ("fd://3", False, False, None),
    ],
)
def test_sandbox_facts_of_binds(value: str, loopback: bool, privileged: bool, listen: str | None) -> None:
    parsed = filters.gunicorn_bind(value)
    assert (parsed["loopback"], parsed["privileged"], parsed["listen"]) == (loopback, privileged, listen)


def test_unix_and_fd_binds() -> None:
    assert filters.gunicorn_bind("unix:/run/app/gunicorn.sock")["path"] == "/run/app/gunicorn.sock"
    assert filters.gunicorn_bind("fd://3") == {**filters.gunicorn_bind("fd://3"), "kind": "fd", "fd": 3}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "non-empty"),
        (8000, "non-empty string"),
        ("8000", "no host and port"),
        (":8000", "no host and port"),
        ("127.0.0.1:0", "outside 1-65535"),
        ("127.0.0.1:70000", "outside 1-65535"),
        ("127.0.0.1:http", "not a number"),
        ("::1:8000", "brackets"),
        ("[::1]8000", "needs a port"),
        ("[zz::1]:80", "not an IPv6 address"),
        ("bad_host!:80", "neither an IPv4"),
        ("999.1.1.1:80", "neither an IPv4"),
        ("unix:relative.sock", "absolute file path"),
        ("unix:/" + "a" * 120, "longer than 107"),
        ("fd://x", "file descriptor"),
    ],
)
def test_bad_binds_name_value_and_expectation(value: object, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message) as err:
        filters.gunicorn_bind(value)
    assert repr(value) in str(err.value)


@pytest.mark.parametrize(
    "value",
    ["text with 'quotes' and \"doubles\"", 3, 2.5, True, None, ["a", 1, False], {"k": [1, "v"]}, "μs"],
)
def test_python_literal_round_trips(value: object) -> None:
    assert ast.literal_eval(filters.python_literal(value)) == value


def test_python_literal_refuses_unknown_types() -> None:
    with pytest.raises(AnsibleFilterError, match="cannot write a value of type set"):
        filters.python_literal({1, 2})


def test_bind_error_is_empty_for_good_and_a_reason_for_bad() -> None:
    assert filters.gunicorn_bind_error("127.0.0.1:8000") == ""
    assert "outside 1-65535" in filters.gunicorn_bind_error("127.0.0.1:0")


@pytest.mark.parametrize("value", ["any", "localhost", "link-local", "multicast", "10.0.0.5", "10.0.0.0/24",
                                   "10.0.0.5/24", "::1", "fd00::/8", "127.0.0.0/8"])
def test_ip_allow_accepts_systemds_forms(value: str) -> None:
    assert filters.ip_allow_error(value) == ""


@pytest.mark.parametrize("value", ["", "db.example.org", "10.0.0.300", "10.0.0.0/33", "anywhere", 5])
def test_ip_allow_refuses_other_values_with_the_value(value: object) -> None:
    message = filters.ip_allow_error(value)
    assert repr(value) in message and "CIDR" in message


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["localhost"], False),
        (["localhost", "127.0.0.0/8", "::1"], False),
        ([], False),
        (["localhost", "10.0.0.5"], True),
        (["any"], True),
        (["link-local"], True),
        (["fd00::/8"], True),
    ],
)
def test_ip_allow_reaches_beyond_loopback(entries: list[str], expected: bool) -> None:
    assert filters.ip_allow_reaches_beyond_loopback(entries) is expected


def test_ip_allow_entries_keeps_usable_name_servers_only() -> None:
    servers = ["10.255.255.53", "fe80::1%eth0", "::1", "not-an-ip", 7, "127.0.0.53"]
    assert filters.ip_allow_entries(servers) == ["10.255.255.53", "::1", "127.0.0.53"]
    assert filters.ip_allow_entries(None) == []


def test_lock_host_prefers_a_host_that_has_the_release_built() -> None:
    hosts = ["web1", "web2", "web3"]
    releases = dict.fromkeys(hosts, "1.0.3-aaaa")
    assert filters.lock_host(hosts, releases, {"web1": [], "web2": ["1.0.3-aaaa"], "web3": []}) == {"1.0.3-aaaa": "web2"}


def test_lock_host_takes_the_first_builder_of_each_release() -> None:
    hosts = ["web1", "web2", "web3", "api1"]
    releases = {"web1": "1.0.3-aaaa", "web2": "1.0.3-aaaa", "web3": "1.0.3-aaaa", "api1": "2.0-bbbb"}
    built = {"web1": ["1.0.2-cccc"], "web2": [], "web3": [], "api1": []}
    assert filters.lock_host(hosts, releases, built) == {"1.0.3-aaaa": "web1", "2.0-bbbb": "api1"}


def test_lock_host_refuses_what_is_not_a_mapping() -> None:
    with pytest.raises(AnsibleFilterError, match="mapping of host to release"):
        filters.lock_host(["web1"], ["1.0"], {})


def test_companion_exec_runs_the_venvs_program_and_refuses_an_empty_command() -> None:
    assert filters.companion_exec("celery -A shop worker", "/srv/shop/releases/%i/venv/bin") == \
        '/srv/shop/releases/%i/venv/bin/celery "-A" "shop" "worker"'
    with pytest.raises(AnsibleFilterError, match="companion_exec: an empty command"):
        filters.companion_exec([], "/venv/bin")


def test_companion_units_names_each_units_file_and_template() -> None:
    files = filters.companion_units([{"name": "beat", "command": "celery -A shop beat", "singleton": True}], "shop",
                                    "/etc/systemd/system", [])
    assert [(item["dest"], item["template"]) for item in files] == [("/etc/systemd/system/shop-beat-1@.service", "companion.service.j2")]
    with pytest.raises(AnsibleFilterError, match="companion_units"):
        filters.companion_units([{"command": "x"}], "shop", "/etc/systemd/system", [])
