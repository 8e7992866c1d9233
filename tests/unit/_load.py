"""Load a module of the collection from its path (roles' files and tools are not packages)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


# Files the build installs into each release's venv under another name
# (roles/gunicorn/vars/main.yml, _gunicorn_venv_sources): importable by it here.
VENV_NAMES = {"fasterapi_systemd_env": "plugins/module_utils/systemd_env.py",
              "fasterapi_host_processes": "plugins/module_utils/host_processes.py"}


def load_module(relative_path: str, name: str) -> ModuleType:
    """Import ROOT/relative_path as module NAME (registered, so dataclasses work)."""
    for venv_name, source in VENV_NAMES.items():
        # The shared files import none of the others: only what imports them needs them first.
        if venv_name not in sys.modules and source != relative_path and relative_path not in VENV_NAMES.values():
            load_module(source, venv_name)
    spec = importlib.util.spec_from_file_location(name, ROOT / relative_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def venv_site(directory: Path) -> Path:
    """DIRECTORY holding the collection's files as the build installs them into a venv (names as imported there)."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in (ROOT / "roles/gunicorn/files/venv").glob("*.py"):
        (directory / source.name).write_bytes(source.read_bytes())
    for name, source_path in VENV_NAMES.items():
        (directory / f"{name}.py").write_bytes((ROOT / source_path).read_bytes())
    return directory
