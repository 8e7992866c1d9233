"""Every filter of plugins/filter has documentation of its own, where ansible-doc looks for it.

ansible-doc takes a filter's documentation from the DOCUMENTATION of the
Python file that defines it, and only when that file has none from an
adjacent <filter name>.yml (or .yaml). So a file that defines several filters
must have no DOCUMENTATION (it would be shown for all of them) and a .yml per
filter; a file with DOCUMENTATION must define that one filter only.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILTER_DIR = ROOT / "plugins" / "filter"
PLUGIN_FILES = sorted(path for path in FILTER_DIR.glob("*.py") if path.name != "__init__.py")
DOC_FILES = sorted([*FILTER_DIR.glob("*.yml"), *FILTER_DIR.glob("*.yaml")])

# The filters import the collection's code as ansible_collections.fasterapi.deploy...,
# which tests/unit/conftest.py makes importable under plain pytest.


def _filters(path: Path) -> list[str]:
    """The names FilterModule().filters() of the plugin file PATH returns."""
    module = importlib.import_module(f"ansible_collections.fasterapi.deploy.plugins.filter.{path.stem}")
    return sorted(module.FilterModule().filters())


def _python_docs(path: Path) -> dict[str, Any]:
    """The DOCUMENTATION, EXAMPLES and RETURN strings of the Python file PATH that it has, parsed."""
    docs: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                    docs[target.id] = node.value.value if target.id == "EXAMPLES" else yaml.safe_load(node.value.value)
    return docs


def _docs_of(name: str, path: Path) -> tuple[Path, dict[str, Any]]:
    """Where ansible-doc finds the documentation of filter NAME, defined in PATH, and what it finds there."""
    docs = _python_docs(path)
    if "DOCUMENTATION" in docs:
        return path, docs
    for candidate in (FILTER_DIR / f"{name}.yml", FILTER_DIR / f"{name}.yaml"):
        if candidate.exists():
            return candidate, yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
    pytest.fail(f"filter {name} ({path.relative_to(ROOT)}) has no documentation: expected plugins/filter/{name}.yml")


FILTERS = [(name, path) for path in PLUGIN_FILES for name in _filters(path)]
FILTER_NAMES = {name for name, _path in FILTERS}


def test_there_are_filters_to_check() -> None:
    assert {"gunicorn_bind", "python_literal", "gunicorn_problems"} <= FILTER_NAMES


@pytest.mark.parametrize(("name", "path"), FILTERS, ids=[name for name, _path in FILTERS])
def test_every_filter_has_its_own_documentation(name: str, path: Path) -> None:
    where, docs = _docs_of(name, path)
    shown = where.relative_to(ROOT)
    documentation = docs.get("DOCUMENTATION")
    assert isinstance(documentation, dict), f"{shown}: DOCUMENTATION is not a mapping"
    assert documentation.get("name") == name, f"ansible-doc shows the documentation of {documentation.get('name')!r} from {shown} for {name}"
    assert documentation.get("short_description"), f"{shown}: no short_description"
    assert documentation.get("description"), f"{shown}: no description"
    assert "_input" in (documentation.get("options") or {}), f"{shown}: _input (the value before the |) is not documented"
    assert isinstance(docs.get("EXAMPLES"), str) and name in docs["EXAMPLES"], f"{shown}: EXAMPLES do not use {name}"
    assert "_value" in (docs.get("RETURN") or {}), f"{shown}: RETURN has no _value"


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=[path.name for path in PLUGIN_FILES])
def test_documentation_in_a_python_file_is_of_its_one_filter(path: Path) -> None:
    documentation = _python_docs(path).get("DOCUMENTATION")
    if documentation is None:
        return
    assert _filters(path) == [documentation.get("name")], (
        f"{path.relative_to(ROOT)} defines {', '.join(_filters(path))}; its DOCUMENTATION would be shown for each: "
        "move it to one plugins/filter/<filter name>.yml per filter")


@pytest.mark.parametrize("path", DOC_FILES, ids=[path.name for path in DOC_FILES])
def test_every_documentation_file_is_of_a_filter(path: Path) -> None:
    documentation = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("DOCUMENTATION") or {}
    assert documentation.get("name") == path.stem, f"{path.name} documents {documentation.get('name')!r}"
    assert path.stem in FILTER_NAMES, f"{path.name} documents no filter of plugins/filter"
