"""The fasterapi.deploy.gunicorn_problems filter: every problem with the gunicorn role's variables, at once.

Why a filter and not an action plugin: the checks only need the role's
variables and the controller's file system (the code directory, a local
archive or wheel), both of which a filter sees; a filter is a pure function
that runs the same way under --check, and each refusal is a unit test case
without an Ansible task around it. tasks/preflight.yml passes the role's
gunicorn_* variables to it and fails once, with all the problems it returns.

The checks themselves are plugins/plugin_utils/gunicorn_checks.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import gunicorn_checks
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import Problem, as_bool

DOCUMENTATION = r"""
name: gunicorn_problems
author: fasterapi.deploy maintainers (@fasterapi)
version_added: "0.4.0"
short_description: every problem with the variables of the fasterapi.deploy.gunicorn role
description:
  - Checks the role's C(gunicorn_*) variables together, for what C(meta/argument_specs.yml) cannot express (formats,
    ranges, paths, settings that contradict each other or break the sandbox or the rolling hand-over), and returns
    all the problems it finds, an empty list when there is none.
  - Each problem names the variable, shows its bad value and says what is expected. Values of
    O(_input.gunicorn_environment) are never shown, only their names; credentials in URLs are masked.
  - Paths on the controller (O(_input.gunicorn_app_src), a local archive or wheel) are checked on the controller.
options:
  _input:
    description: The role's variables, name to value (C(gunicorn_*); missing ones take the role's defaults' place as absent).
    type: dict
    required: true
  needs_source:
    description: Whether the entry point builds a release, and so needs one source of code (false for rollback and rolling_restart).
    type: bool
    default: true
  worker_classes:
    description: The worker classes the role knows (C(_gunicorn_worker_classes_known) of the role's vars).
    type: list
    elements: str
    default: []
  sandbox_directives:
    description: The directives of the role's sandbox (the keys of C(_gunicorn_sandbox)), which overrides may change.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse bad variables with every problem at once
  ansible.builtin.fail:
    msg: "{{ _problems | map(attribute='message') | join('\n') }}"
  when: _problems | length > 0
  vars:
    _names: "{{ q('ansible.builtin.varnames', '^gunicorn_') }}"
    _problems: >-
      {{ dict(_names | zip(q('ansible.builtin.vars', *_names)))
         | fasterapi.deploy.gunicorn_problems(needs_source=true, worker_classes=_gunicorn_worker_classes_known,
                                               sandbox_directives=_gunicorn_sandbox.keys() | list) }}
"""

RETURN = r"""
_value:
  description: The problems, in the order of the role's documentation; empty when the variables are usable.
  type: list
  elements: dict
  contains:
    variable:
      description: The variable at fault (the first of several that contradict each other).
      type: str
    value:
      description: Its value as shown (JSON; for gunicorn_environment the names of the keys at fault only).
      type: str
    expected:
      description: What is expected instead.
      type: str
    message:
      description: One line for a human, naming the variable, its value and what is expected.
      type: str
"""


def gunicorn_problems(settings: Mapping[str, Any], needs_source: bool = True, worker_classes: Iterable[str] = (),
                      sandbox_directives: Iterable[str] = ()) -> list[Problem]:
    """Every problem with the gunicorn role's variables SETTINGS: a list of {variable, value, expected, message}."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"gunicorn_problems takes a mapping of the role's variables, not {type(settings).__name__}")
    return gunicorn_checks.problems(settings, as_bool(needs_source), worker_classes, sandbox_directives)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        """The filter gunicorn_problems."""
        return {"gunicorn_problems": gunicorn_problems}
