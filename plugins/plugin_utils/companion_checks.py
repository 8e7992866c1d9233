# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The checks of gunicorn_companions and gunicorn_timers that need no host.

What only the host can tell (a command in the release's venv, a calendar
expression systemd accepts) the fasterapi.deploy.companions module checks
there, before anything live changes.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import Checker, as_bool, as_int, show

# A unit name's part: letters, digits, _ and -, starting with a letter or digit.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGABRT")
_COMPANION_KEYS = {"name", "command", "instances", "stop_signal", "stop_timeout", "singleton"}
_TIMER_KEYS = {"name", "command", "on_calendar", "persistent", "randomized_delay_sec", "accuracy_sec", "timeout", "singleton"}
_MAX_INSTANCES = 64


def _command_ok(command: Any) -> bool:
    """COMMAND is a non-empty string a shell could split, or a non-empty list of strings."""
    if isinstance(command, str):
        try:
            return len(shlex.split(command)) > 0
        except ValueError:
            return False
    return isinstance(command, list) and len(command) > 0 and all(isinstance(word, str) and word for word in command)


def _items(checker: Checker, variable: str, keys: set[str]) -> list[tuple[str, Mapping[str, Any]]]:
    """The items of the list VARIABLE that are mappings with a valid, unique name, as (where, item); problems for the rest."""
    good: list[tuple[str, Mapping[str, Any]]] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(checker.a_list(variable)):
        where = f"{variable}[{index}]"
        if not isinstance(item, Mapping):
            checker.add(where, item, "expected a mapping with name and command")
            continue
        unknown = sorted(str(key) for key in item if key not in keys)
        if unknown:
            expected = f"expected only {', '.join(sorted(keys))}"
            checker.add(where, unknown, expected, message=f"{where} has unknown keys {show(unknown)}: {expected}.")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            checker.add(f"{where}.name", name, "expected a name of letters, digits, _ and - (at most 40, a unit name's part)")
            continue
        if name in seen:
            checker.add(f"{where}.name", name, f"is a duplicate of {seen[name]}.name: expected each companion and scheduled "
                        "job named once")
            continue
        seen[name] = where
        if not _command_ok(item.get("command")):
            checker.add(f"{where}.command", item.get("command"), "expected a command from the venv, a string (split as a shell "
                        "would, run with no shell) or a list of words")
        good.append((where, item))
    return good


def check(checker: Checker) -> None:
    """The problems of gunicorn_companions, gunicorn_timers and the variables that go with them, into CHECKER."""
    checker.number("gunicorn_longest_job_seconds", "a whole number of seconds, 0 when not declared", 0)
    checker.number("gunicorn_companion_settle_seconds", "a whole number of seconds, at least 1", 1)
    longest = as_int(checker.get("gunicorn_longest_job_seconds", 0)) or 0
    companions = checker.get("gunicorn_companions", [])
    timers = checker.get("gunicorn_timers", [])
    for where, item in _items(checker, "gunicorn_companions", _COMPANION_KEYS):
        _companion(checker, where, item, longest)
    for where, item in _items(checker, "gunicorn_timers", _TIMER_KEYS):
        _timer(checker, where, item)
    # Companions and scheduled jobs share the units' name space (APP-NAME...).
    companion_names = {item.get("name") for item in companions if isinstance(item, Mapping)} if isinstance(companions, list) else set()
    for index, item in enumerate(timers if isinstance(timers, list) else []):
        if isinstance(item, Mapping) and isinstance(item.get("name"), str) and item.get("name") in companion_names:
            checker.add(f"gunicorn_timers[{index}].name", item.get("name"), "is also a companion's name: expected each "
                        "companion and scheduled job named once")
    singleton_host = checker.get("gunicorn_singleton_host", "")
    if not isinstance(singleton_host, str):
        checker.add("gunicorn_singleton_host", singleton_host, "expected an inventory host name, or empty for the first of the play")


def _companion(checker: Checker, where: str, item: Mapping[str, Any], longest: int) -> None:
    instances = as_int(item.get("instances", 1))
    if instances is None or not 1 <= instances <= _MAX_INSTANCES:
        checker.add(f"{where}.instances", item.get("instances"), f"expected a whole number from 1 to {_MAX_INSTANCES}")
    singleton = item.get("singleton", False)
    if not isinstance(singleton, bool) and str(singleton).lower() not in ("yes", "no", "true", "false"):
        checker.add(f"{where}.singleton", singleton, "expected true or false")
    elif as_bool(singleton) and instances not in (None, 1):
        checker.add(f"{where}.instances", item.get("instances"), "expected 1 for a singleton (it never runs twice)")
    signal = str(item.get("stop_signal", "SIGTERM"))
    if signal not in _SIGNALS:
        checker.add(f"{where}.stop_signal", item.get("stop_signal"), f"expected one of {', '.join(_SIGNALS)}")
    if "stop_timeout" not in item:  # then the longest job, or 60 s when it is shorter
        return
    timeout = as_int(item["stop_timeout"])
    if timeout is None or timeout < 1:
        checker.add(f"{where}.stop_timeout", item.get("stop_timeout"), "expected a whole number of seconds, at least 1")
    elif longest and timeout < longest:
        checker.add(f"{where}.stop_timeout", item.get("stop_timeout"),
                    f"is below gunicorn_longest_job_seconds={longest}: a job in hand would be killed when a deploy stops the "
                    f"companion; expected at least {longest}")


def _timer(checker: Checker, where: str, item: Mapping[str, Any]) -> None:
    calendar = item.get("on_calendar")
    entries = calendar if isinstance(calendar, list) else [calendar]
    if not entries or not all(isinstance(entry, str) and entry.strip() and "\n" not in entry for entry in entries):
        checker.add(f"{where}.on_calendar", calendar, "expected an OnCalendar= expression such as \"daily\" or "
                    "\"*-*-* 03:15:00\" (man systemd.time), or a list of them")
    for key, default in (("persistent", True), ("singleton", False)):
        value = item.get(key, default)
        if not isinstance(value, bool) and str(value).lower() not in ("yes", "no", "true", "false"):
            checker.add(f"{where}.{key}", value, "expected true or false")
    for key, low, default in (("randomized_delay_sec", 0, 0), ("accuracy_sec", 1, 60), ("timeout", 1, 3600)):
        value = as_int(item.get(key, default))
        if value is None or value < low:
            checker.add(f"{where}.{key}", item.get(key), f"expected a whole number of seconds, at least {low}")
