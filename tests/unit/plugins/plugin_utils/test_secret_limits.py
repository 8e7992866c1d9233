"""The limits on what reaches an app intact (plugins/plugin_utils/secret_limits.py), at the sizes measured on systemd."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import secret_limits as limits

MIB = 1024 * 1024


def test_environment_size_counts_each_string_its_nul_and_the_keys_line() -> None:
    # "A=xy\0" is 5 bytes, "FASTERAPI_ENVIRONMENT_KEYS=A\0" is 29.
    assert limits.environment_size({"A": "xy"}) == 5 + 29
    assert limits.environment_size({"N": 5, "F": True}) == len("N=5\0") + len("F=True\0") + len("FASTERAPI_ENVIRONMENT_KEYS=F N\0")
    assert limits.environment_size({"U": "ä"}) == len("U=\0") + 2 + len("FASTERAPI_ENVIRONMENT_KEYS=U\0")


def test_an_environment_at_the_limit_passes_and_one_byte_more_is_refused() -> None:
    keys_and_names = limits.environment_size({f"V{i}": "" for i in range(9)})
    room = limits.ENVIRONMENT_TOTAL_MAX - keys_and_names
    values = {f"V{i}": "x" * (room // 9) for i in range(9)}
    values["V0"] += "x" * (room - 9 * (room // 9))
    assert limits.environment_size(values) == MIB and limits.environment_problems(values) == []
    values["V0"] += "y"
    [(variable, message)] = limits.environment_problems(values)
    assert variable == "gunicorn_environment" and "1,048,577 bytes" in message and "at most 1,048,576 bytes" in message
    assert "largest V0 " in message and "x" * 20 not in message  # names, never values


@pytest.mark.parametrize(("sizes", "refused"), [
    # Measured with transient units: systemd 252 and 257 load a credential named n0 of 1,048,574 bytes, not 1,048,575.
    ({"n0": 1048574}, False),
    ({"n0": 1048575}, True),
    # systemd 257 stores each in whole 4 KiB pages of a 1 MiB tmpfs: beside 100,000 bytes, 946,176 and no more.
    ({"n0": 100000, "n1": 946176}, False),
    ({"n0": 100000, "n1": 946177}, True),
    # systemd 252 loaded 948,572 there (name and bytes against 1 MiB); 257 did not: refused.
    ({"n0": 100000, "n1": 948572}, True),
])
def test_credentials_at_the_measured_limits(sizes: dict[str, int], refused: bool) -> None:
    credentials = {name: {"content": "x" * size} for name, size in sizes.items()}
    assert bool(limits.credential_problems(credentials)) == refused


def test_a_credential_over_the_limit_is_named(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (3 * MIB // 2))
    [(variable, message)] = limits.credential_problems({"tls.key": {"src": str(big)}, "small": {"content": "x"}})
    assert variable == "gunicorn_credentials.tls.key" and "1,572,864 bytes" in message and "status=243/CREDENTIALS" in message


def test_credentials_too_large_together_are_refused_as_a_whole() -> None:
    [(variable, message)] = limits.credential_problems({"a": {"content": "x" * 600000}, "b": {"content": "y" * 600000}})
    assert variable == "gunicorn_credentials" and "together" in message and "largest a 600,000, b 600,000" in message


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000, 700000])
def test_a_vault_files_plaintext_size_is_bounded_without_decrypting_it(tmp_path: Path, size: int) -> None:
    vault = VaultLib([("default", VaultSecret(b"password"))])
    path = tmp_path / "secret.vault"
    path.write_bytes(vault.encrypt(b"z" * size))
    low, high = limits.vault_plaintext_size(path.read_bytes())  # type: ignore[misc]
    assert low <= size <= high and high - low == 15
    assert limits.credential_size({"src": str(path)}) == low


def test_not_a_vault_file() -> None:
    assert limits.vault_plaintext_size(b"plain") is None
