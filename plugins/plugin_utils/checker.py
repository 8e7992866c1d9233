# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""Checking a role's variables: a Checker that collects every problem at once, and how values are read and shown.

The roles' checks (gunicorn_checks, nginx_checks) subclass Checker. A
problem is a dict of four strings: the variable at fault, its value as shown
(JSON), what is expected, and one line for a human that says all three. The
helpers read values as users write them: from YAML, or as strings from
--extra-vars key=value.
"""

from __future__ import annotations

import json
import os.path
import re
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean

# One problem: {variable, value, expected, message}.
Problem = dict[str, str]

_NO_DEFAULT = object()


def show(value: Any) -> str:
    """VALUE as JSON, as the messages show it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def mask_url(value: Any) -> Any:
    """VALUE with the user and password of a URL replaced by *** (in each item of a list)."""
    if isinstance(value, str):
        return re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@", r"\1***@", value)
    if isinstance(value, list):
        return [mask_url(item) for item in value]
    return value


def as_int(value: Any) -> int | None:
    """VALUE as a whole number, or None when it is not one (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^\s*[+-]?[0-9]+\s*$", value):
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    """VALUE as a number, or None when it is not one (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def as_bool(value: Any) -> bool:
    """VALUE as Ansible reads a boolean (yes, "true", 1...); False for what is not one."""
    try:
        return bool(boolean(value, strict=False))
    except TypeError:
        return False


def is_below(path: str, directory: str) -> bool:
    """PATH is DIRECTORY or inside it."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def clean_path(value: Any) -> bool:
    """VALUE is an absolute, normalized path without spaces."""
    return (isinstance(value, str) and value.startswith("/") and not re.search(r"\s", value)
            and os.path.normpath(value) == value and not value.startswith("//"))


class Checker:
    """Collects the problems of one set of a role's variables (SETTINGS, name to value) in self.problems."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.problems: list[Problem] = []

    def get(self, name: str, default: Any = _NO_DEFAULT) -> Any:
        """The variable NAME; absent ones count as DEFAULT, or raise KeyError without one (the check is skipped)."""
        if name in self.settings:
            return self.settings[name]
        if default is _NO_DEFAULT:
            raise KeyError(name)
        return default

    def add(self, variable: str, value: Any, expected: str, message: str | None = None, shown: str | None = None) -> None:
        """A problem with VARIABLE: its VALUE (shown as SHOWN, JSON by default), what is EXPECTED, and the MESSAGE."""
        shown = show(value) if shown is None else shown
        self.problems.append({"variable": variable, "value": shown, "expected": expected,
                              "message": message or f"{variable}={shown}{' ' if expected.startswith('is ') else ': '}{expected}."})

    def text(self, name: str, default: Any = "") -> str:
        """The variable NAME as a string."""
        value = self.get(name, default)
        return value if isinstance(value, str) else str(value)

    def a_list(self, name: str) -> list[Any]:
        """The list variable NAME (a problem and [] when it is not a list)."""
        value = self.get(name, [])
        if isinstance(value, (list, tuple)):
            return list(value)
        self.add(name, value, "expected a list")
        return []

    def a_mapping(self, name: str) -> Mapping[str, Any]:
        """The mapping variable NAME (a problem and {} when it is not a mapping)."""
        value = self.get(name, {})
        if isinstance(value, Mapping):
            return value
        self.add(name, value, "expected a mapping of names to values")
        return {}

    def number(self, name: str, expected: str, low: float, high: float | None = None, whole: bool = True,
               above: bool = False) -> None:
        """NAME, when set, is a number (WHOLE: a whole one) of at least LOW (above LOW with ABOVE), and at most HIGH."""
        try:
            value = self.get(name)
        except KeyError:
            return
        number = as_int(value) if whole else as_float(value)
        if number is None or number < low or (above and number == low) or (high is not None and number > high):
            self.add(name, value, f"expected {expected}")
