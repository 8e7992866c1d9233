"""Write docs/roles/<role>.md, and the variables section of roles/<role>/README.md,
from each role's meta/argument_specs.yml.

The role's docs cannot drift from its specs: `python tests/harness/role_docs.py`
rewrites the pages, `--check` fails when one is out of date (a unit test runs it).
In the README only the part between the BEGIN and END markers is generated.
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


BEGIN = "<!-- BEGIN generated variables -->"
END = "<!-- END generated variables -->"


def render_readme_section(role: str) -> str:
    """The README's entry points and variables (names and defaults), between the markers."""
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    entries = specs["argument_specs"]
    lines = [
        BEGIN,
        "<!-- Generated from meta/argument_specs.yml by tests/harness/role_docs.py; edit there. -->",
        "",
        "## Entry points and variables",
        "",
        f"Every variable with its type, default and why: [docs/roles/{role}.md](../../docs/roles/{role}.md),",
        f"or `ansible-doc -t role fasterapi.deploy.{role}`. The role checks them before it changes anything.",
        "",
        "| Entry point | What it does |",
        "| --- | --- |",
    ]
    for entry, spec in entries.items():
        name = f"`{entry}`" if entry == "main" else f"`tasks_from: {entry}`"
        lines.append(f"| {name} | {_cell(spec.get('short_description', ''))} |")
    options = entries.get("main", {}).get("options", {})
    lines += ["", f"The variables of `main` ({len(options)}) and their defaults:", "",
              "| Variable | Default |", "| --- | --- |"]
    for name, option in options.items():
        lines.append(f"| `{name}` | {_cell(_default(option))} |")
    lines.append(END)
    return "\n".join(lines)


def render_readme(role: str, current: str) -> str | None:
    """CURRENT with its generated section renewed; None when it has no markers."""
    start, end = current.find(BEGIN), current.find(END)
    if start < 0 or end < start:
        return None
    return current[:start] + render_readme_section(role) + current[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a page is not up to date")
    args = parser.parse_args(argv)
    stale = []
    for spec in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        role = spec.parent.parent.name
        pages = [(ROOT / "docs" / "roles" / f"{role}.md", render(role))]
        readme = ROOT / "roles" / role / "README.md"
        if readme.exists():
            current = readme.read_text(encoding="utf-8")
            text = render_readme(role, current)
            if text is None:
                print(f"{readme.relative_to(ROOT)}: no {BEGIN} ... {END} section", file=sys.stderr)
                return 1
            pages.append((readme, text))
        for page, text in pages:
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
