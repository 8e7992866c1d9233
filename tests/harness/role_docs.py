"""Write docs/roles/<role>.md from each role's meta/argument_specs.yml.

The role's README cannot drift from its specs: `python tests/harness/role_docs.py`
rewrites the pages, `--check` fails when a page is out of date (a unit test runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _cell(text: Any) -> str:
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    text = re.sub(r"\b[OCV]\(([^()]*)\)", r"`\1`", str(text))
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _default(option: dict[str, Any]) -> str:
    if "default" not in option:
        return "*required*" if option.get("required") else ""
    value = option["default"]
    shown = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    shown = shown.removesuffix("...").strip()
    return f"`{shown}`" if shown else "`\"\"`"


def _table(options: dict[str, Any]) -> list[str]:
    lines = ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, option in options.items():
        kind = option.get("type", "str")
        if kind == "list" and "elements" in option:
            kind = f"list of {option['elements']}"
        if "choices" in option:
            kind += " (" + ", ".join(str(c) for c in option["choices"]) + ")"
        lines.append(f"| `{name}` | {kind} | {_cell(_default(option))} | {_cell(option.get('description', ''))} |")
    return lines


def render(role: str) -> str:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    lines = [
        f"# Role `fasterapi.deploy.{role}`",
        "",
        "<!-- Generated from roles/%s/meta/argument_specs.yml by tests/harness/role_docs.py; do not edit. -->" % role,
        "",
    ]
    for entry, spec in specs["argument_specs"].items():
        if entry != "main":
            lines += [f"## Entry point `{entry}` (`tasks_from: {entry}`)", ""]
        lines += [_cell(spec.get("short_description", "")), ""]
        for paragraph in spec.get("description", []):
            lines += [_cell(paragraph), ""]
        lines += _table(spec.get("options", {})) + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a page is not up to date")
    args = parser.parse_args(argv)
    stale = []
    for spec in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        role = spec.parent.parent.name
        page = ROOT / "docs" / "roles" / f"{role}.md"
        text = render(role)
        if page.exists() and page.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(str(page.relative_to(ROOT)))
        else:
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python tests/harness/role_docs.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
