"""The checking machinery the roles' checks share (plugins/plugin_utils/checker.py): values as users write them, and
problems as operators read them."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import (
    Checker, as_bool, as_float, as_int, clean_path, is_below, mask_url, show)


def test_values_are_shown_as_json_with_their_own_characters() -> None:
    assert show("ä b") == '"ä b"'
    assert show({"b": 1, "a": [True, None]}) == '{"a": [true, null], "b": 1}'
    assert show(object).startswith('"<class ')  # what JSON has no form for, as text


def test_credentials_in_urls_are_masked_in_text_and_lists() -> None:
    assert mask_url("https://user:t0ken@pypi.internal/simple") == "https://***@pypi.internal/simple"
    assert mask_url(["git+ssh://git@example.org/app.git", "--index-url=http://u@h/"]) == [
        "git+ssh://***@example.org/app.git", "--index-url=http://***@h/"]
    assert mask_url("https://pypi.org/simple") == "https://pypi.org/simple"
    assert mask_url(42) == 42


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (-1, -1), (3.0, 3), (" +7 ", 7), ("-2", -2), ("3.5", None),
                                                 (3.5, None), ("many", None), (True, None), (None, None), ([1], None)])
def test_whole_numbers_from_yaml_or_extra_vars(value: Any, expected: int | None) -> None:
    assert as_int(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), (2.5, 2.5), ("0.25", 0.25), ("soon", None), (False, None), (None, None)])
def test_numbers_from_yaml_or_extra_vars(value: Any, expected: float | None) -> None:
    assert as_float(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("yes", True), ("true", True), (1, True), (False, False),
                                                 ("no", False), ("false", False), (None, False), ("maybe", False),
                                                 ([1], False)])
def test_booleans_as_ansible_reads_them(value: Any, expected: bool) -> None:
    assert as_bool(value) is expected


def test_below_a_directory_means_in_it_or_it() -> None:
    assert is_below("/opt/app", "/opt/app") and is_below("/opt/app/current", "/opt/app")
    assert is_below("/opt/app/current", "/opt/app/")
    assert not is_below("/opt/application", "/opt/app") and not is_below("/opt", "/opt/app")


@pytest.mark.parametrize("path", ["/opt/app", "/", "/var/log/app.log"])
def test_clean_paths(path: str) -> None:
    assert clean_path(path)


@pytest.mark.parametrize("path", ["opt/app", "/opt/app/", "/opt/../etc", "//opt", "/opt/my app", "", None, 5])
def test_paths_that_are_not_clean(path: Any) -> None:
    assert not clean_path(path)


def test_a_problem_names_the_variable_its_value_and_what_is_expected() -> None:
    checker = Checker({})
    checker.add("x_port", 99999, "expected a TCP port")
    checker.add("x_name", "Bad", "is not a name: expected lower case")
    checker.add("x_env", "<not shown>", "expected text", message="x_env (not shown): expected text.")
    checker.add("x_conf", {"a": 1}, "expected a list", shown="<dict, not shown>")
    assert checker.problems == [
        {"variable": "x_port", "value": "99999", "expected": "expected a TCP port", "message": "x_port=99999: expected a TCP port."},
        {"variable": "x_name", "value": '"Bad"', "expected": "is not a name: expected lower case",
         "message": 'x_name="Bad" is not a name: expected lower case.'},
        {"variable": "x_env", "value": '"<not shown>"', "expected": "expected text", "message": "x_env (not shown): expected text."},
        {"variable": "x_conf", "value": "<dict, not shown>", "expected": "expected a list",
         "message": "x_conf=<dict, not shown>: expected a list."},
    ]


def test_variables_are_read_with_their_defaults() -> None:
    checker = Checker({"x_name": 5, "x_list": ("a",), "x_map": {"a": 1}, "x_none": None})
    assert checker.get("x_name") == 5 and checker.get("x_none", "default") is None and checker.get("x_other", 1) == 1
    with pytest.raises(KeyError):
        checker.get("x_other")  # no default: the caller skips the check
    assert checker.text("x_name") == "5" and checker.text("x_other") == "" and checker.text("x_other", "d") == "d"
    assert checker.a_list("x_list") == ["a"] and checker.a_list("x_other") == []
    assert checker.a_mapping("x_map") == {"a": 1} and checker.a_mapping("x_other") == {}
    assert checker.problems == []


def test_a_list_or_a_mapping_of_another_type_is_a_problem() -> None:
    checker = Checker({"x_list": "a,b", "x_map": ["a"]})
    assert checker.a_list("x_list") == [] and checker.a_mapping("x_map") == {}
    assert [problem["message"] for problem in checker.problems] == [
        'x_list="a,b": expected a list.', 'x_map=["a"]: expected a mapping of names to values.']


@pytest.mark.parametrize(("value", "kwargs", "good"), [
    (1, {}, True), ("1", {}, True), (0, {}, False), ("x", {}, False), (1.5, {}, False), (True, {}, False),
    (5, {"high": 5}, True), (6, {"high": 5}, False), (2, {"above": True}, True), (1, {"above": True}, False), (0.5, {"above": True, "whole": False}, False),
    (0, {"low": 0, "above": True}, False), (1.5, {"whole": False}, True), ("2.5", {"whole": False, "high": 3}, True),
])
def test_numbers_in_range(value: Any, kwargs: dict[str, Any], good: bool) -> None:
    checker = Checker({"x_n": value})
    checker.number("x_n", "1 or more", **{"low": 1, **kwargs})
    assert checker.problems == ([] if good else [{"variable": "x_n", "value": show(value), "expected": "expected 1 or more",
                                                  "message": f"x_n={show(value)}: expected 1 or more."}])


def test_an_absent_number_is_not_checked() -> None:
    checker = Checker({})
    checker.number("x_n", "1 or more", 1)
    assert checker.problems == []
