"""Let the test modules import their helper (_load), and the collection as ansible_collections.fasterapi.deploy.

ansible-test units imports the test modules as a package and makes the
collection importable itself (the checkout is in an
ansible_collections/fasterapi/deploy tree there): then only _load's directory
is added. Under plain pytest (make unit's first half), the collection is
imported from the link ``make collection-link`` makes
(.collections/ansible_collections/fasterapi/deploy), or, from a plain clone
without it, from such a link in a temporary directory. So every test, and
every plugin a test loads, imports the collection's code the one way the
plugins themselves do.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

UNIT = Path(__file__).resolve().parent
ROOT = UNIT.parents[1]

sys.path.insert(0, str(UNIT))


def _importable() -> bool:
    try:
        import ansible_collections.fasterapi.deploy.plugins.module_utils.releases  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return False
    return True


def _collections_path() -> Path:
    """A directory holding ansible_collections/fasterapi/deploy, a link to this checkout."""
    linked = ROOT / ".collections"
    if (linked / "ansible_collections" / "fasterapi" / "deploy").resolve() == ROOT:
        return linked
    top = Path(tempfile.mkdtemp(prefix="fasterapi-collection-"))
    (top / "ansible_collections" / "fasterapi").mkdir(parents=True)
    (top / "ansible_collections" / "fasterapi" / "deploy").symlink_to(ROOT, target_is_directory=True)
    return top


if not _importable():
    _PATH = _collections_path()
    sys.path.insert(0, str(_PATH))
    for _name in [name for name in sys.modules if name == "ansible_collections" or name.startswith("ansible_collections.fasterapi")]:
        del sys.modules[_name]
    assert _importable(), "cannot import the collection from " + str(_PATH)
