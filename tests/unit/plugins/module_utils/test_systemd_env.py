"""systemd's environment file parser (plugins/module_utils/systemd_env.py), the one source for modules and hooks.

The expectations follow systemd's parse_env_file_internal (env-file.c),
whose NEWLINE is "\\n\\r": a carriage return ends an unquoted line like a
line feed, and is kept inside quotes. The operate scenario checks on real
systemd 252 and 257 that the app gets these bytes on every start path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import systemd_env


@pytest.mark.parametrize(("text", "expected"), [
    # Inside double or single quotes a carriage return is a character like any other.
    ('A="crlf\r\ninside"\n', {"A": "crlf\r\ninside"}),
    ("A='crlf\r\ninside'\n", {"A": "crlf\r\ninside"}),
    ('A="ends with cr\r"\n', {"A": "ends with cr\r"}),
    # Outside quotes it ends the line, as "\n" does (a file written with CRLF line ends reads as with LF).
    ("A=one\r\nB=two\r\n", {"A": "one", "B": "two"}),
    ("A=one\rB=two\r", {"A": "one", "B": "two"}),
    # A backslash before it continues the line, as before "\n".
    ("A=joined \\\rline\n", {"A": "joined line"}),
    # Escaped inside double quotes: the backslash stays (only " \\ ` $ are unescaped).
    ('A="x\\\ry"\n', {"A": "x\\\ry"}),
])
def test_carriage_returns_as_systemd_reads_them(text: str, expected: dict[str, str]) -> None:
    assert systemd_env.parse_environment(text) == expected


def test_a_file_is_read_byte_for_byte(tmp_path: Path) -> None:
    # Text mode (universal newlines) would turn each \r\n inside the quotes into \n: 24 bytes instead of 26.
    path = tmp_path / "environment"
    value = "line one\r\nline two\r\n234567"
    path.write_bytes(('CRLF="%s"\nOTHER=1\n' % value).encode())
    read = systemd_env.read_environment_file(str(path))
    assert read == {"CRLF": value, "OTHER": "1"} and len(read["CRLF"].encode()) == 26


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "environment"
    path.write_bytes(b"A=\xff\n")
    with pytest.raises(UnicodeDecodeError):
        systemd_env.read_environment_file(str(path))
