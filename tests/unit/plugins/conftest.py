"""Make this checkout importable as ansible_collections.fasterapi.deploy, as ansible-test units does.

Under ansible-test (or with the collection installed) the import works
already and nothing is changed; from a plain clone, a link in a temporary
directory puts the checkout in that place.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _importable() -> bool:
    try:
        import ansible_collections.fasterapi.deploy.plugins.module_utils.releases  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return False
    return True


if not _importable():
    _TOP = Path(tempfile.mkdtemp(prefix="fasterapi-collection-"))
    (_TOP / "ansible_collections" / "fasterapi").mkdir(parents=True)
    (_TOP / "ansible_collections" / "fasterapi" / "deploy").symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(_TOP))
    for _name in [name for name in sys.modules if name == "ansible_collections" or name.startswith("ansible_collections.fasterapi")]:
        del sys.modules[_name]
    assert _importable(), "cannot import the collection from " + str(_TOP)
