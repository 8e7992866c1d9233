"""Each role's defaults, argument specs and generated docs agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from _load import load_module
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))

role_docs = load_module("tests/harness/role_docs.py", "role_docs")


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_specified_and_back(role: str) -> None:
    defaults = set(_load(ROOT / "roles" / role / "defaults" / "main.yml"))
    options = set(_load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"])
    assert defaults - options == set(), "in defaults/main.yml but not in meta/argument_specs.yml"
    assert options - defaults == set(), "in meta/argument_specs.yml but not in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_prefix(role: str) -> None:
    for name in _load(ROOT / "roles" / role / "defaults" / "main.yml"):
        assert name.startswith(f"{role}_"), name
    for name in _load(ROOT / "roles" / role / "vars" / "main.yml") if (ROOT / "roles" / role / "vars" / "main.yml").exists() else {}:
        assert name.startswith(f"_{role}_"), name


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_match_the_specs(role: str) -> None:
    defaults = _load(ROOT / "roles" / role / "defaults" / "main.yml")
    options = _load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        if isinstance(value, str) and "{{" in value:
            continue  # derived defaults are described in words in the spec
        assert options[name].get("default") == value, name


def test_generated_role_docs_are_up_to_date() -> None:
    assert role_docs.main(["--check"]) == 0
