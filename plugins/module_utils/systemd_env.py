# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""systemd's environment files (``EnvironmentFile=``), read exactly as systemd reads them.

One source for every reader of the app's environment file: the
fasterapi.deploy.config_files module (a check of gunicorn.conf.py with the
new file's variables), the fasterapi.deploy.app_command module (the role's
import checks and release commands), and the rolling restart's ``pre_exec``
hook, to which the build installs this file in each release's venv as
``fasterapi_systemd_env``. The values go from the file into a process's
environment, never onto a command line.

Standard library only: this runs with the host's python3 (3.9 or later)
and with the venv's.
"""

from __future__ import annotations

from typing import Dict, List, Optional

_NEWLINE = "\n\r"
_WHITESPACE = " \t\n\r"
_SHELL_NEED_ESCAPE = '"\\`$'


def parse_environment(text: str) -> Dict[str, str]:
    """The variables systemd's ``EnvironmentFile=`` sets from TEXT.

    Follows systemd's parser (``parse_env_file_internal`` in env-file.c):
    comments, unquoted values (backslash escapes any character, a trailing
    backslash continues the line, trailing blanks dropped), single quotes
    (literal) and double quotes (backslash escapes only ``" \\ ` $``, and
    joins lines; other text, line breaks included, is kept).
    """
    result: Dict[str, str] = {}
    state = "pre_key"
    key: List[str] = []
    value: List[str] = []
    value_end: Optional[int] = None  # where the trailing blanks of an unquoted value start

    def push() -> None:
        name = "".join(key).strip()
        if name:
            text_value = "".join(value)
            result[name] = text_value[:value_end] if value_end is not None else text_value

    for char in text:
        if state == "pre_key":
            if char in "#;":
                state = "comment"
            elif char not in _WHITESPACE:
                state, key, value, value_end = "key", [char], [], None
        elif state == "key":
            if char in _NEWLINE:
                state = "pre_key"
            elif char == "=":
                state = "pre_value"
            else:
                key.append(char)
        elif state == "pre_value":
            if char in _NEWLINE:
                push()
                state = "pre_key"
            elif char == "'":
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "\\":
                state = "value_escape"
            elif char not in _WHITESPACE:
                state = "value"
                value.append(char)
        elif state == "value":
            if char in _NEWLINE:
                push()
                state = "pre_key"
            elif char == "\\":
                state, value_end = "value_escape", None
            else:
                if char not in _WHITESPACE:
                    value_end = None
                elif value_end is None:
                    value_end = len(value)
                value.append(char)
        elif state == "value_escape":
            state = "value"
            if char not in _NEWLINE:
                value.append(char)
        elif state == "single":
            if char == "'":
                state = "pre_value"
            else:
                value.append(char)
        elif state == "double":
            if char == '"':
                state = "pre_value"
            elif char == "\\":
                state = "double_escape"
            else:
                value.append(char)
        elif state == "double_escape":
            state = "double"
            if char in _SHELL_NEED_ESCAPE:
                value.append(char)
            elif char != "\n":
                value.extend(("\\", char))
        elif state == "comment":
            if char == "\\":
                state = "comment_escape"
            elif char in _NEWLINE:
                state = "pre_key"
        elif state == "comment_escape":
            state = "pre_key" if char in _NEWLINE else "comment"
    if state in ("pre_value", "value", "value_escape", "single", "double", "double_escape"):
        push()
    return result


def read_environment_file(path: str) -> Dict[str, str]:
    """The variables of the environment file at PATH, byte for byte as systemd gives them.

    Read as bytes and decoded as UTF-8: a text-mode open would turn
    ``\\r\\n`` into ``\\n`` (universal newlines) inside quoted values, where
    systemd keeps the ``\\r``. Raises OSError or UnicodeDecodeError.
    """
    with open(path, "rb") as handle:
        return parse_environment(handle.read().decode("utf-8"))
