"""Unit tests for plugins/filter/gunicorn.py."""

from __future__ import annotations

import ast

import pytest
from _load import load_module
from ansible.errors import AnsibleFilterError

filters = load_module("plugins/filter/gunicorn.py", "gunicorn_filters")


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
