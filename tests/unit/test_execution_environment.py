"""meta/execution-environment.yml: what ansible-builder adds to an execution environment for this collection.

The collection's plugins run where Ansible runs (in an execution environment
on AWX or Automation Platform), and so do the modules the gunicorn role
delegates to localhost for offline hosts. Every third-party package they
import must be in meta/ee-requirements.txt, and ansible-builder must find it
there in a collection installed from the built tarball, as an image build does.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
META = ROOT / "meta" / "execution-environment.yml"
EE_DEFINITION = ROOT / "tests" / "ee" / "execution-environment.yml"
COLLECTION = "fasterapi.deploy"

# What ansible-core brings (its own requirements): no collection needs to list them.
ANSIBLE_CORE_PROVIDES = {"ansible", "ansible_collections", "jinja2", "yaml", "cryptography", "packaging", "resolvelib"}
# Import names whose distribution is called otherwise.
DISTRIBUTION = {"dateutil": "python-dateutil", "OpenSSL": "pyopenssl", "jwt": "pyjwt", "ldap": "python-ldap"}


def _meta() -> dict:
    return yaml.safe_load(META.read_text(encoding="utf-8"))


def _requirement_lines(path: Path) -> list[str]:
    """The requirements in PATH, comments left out (as ansible-builder reads them)."""
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def _requirement_names(path: Path) -> set[str]:
    return {_normal(re.split(r"[\s\[<>=!~;@]", line, maxsplit=1)[0]) for line in _requirement_lines(path)}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports(path: Path) -> set[str]:
    """The top-level names of the absolute imports in PATH that are neither the standard library nor ansible-core's."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top != "__future__" and top not in sys.stdlib_module_names and top not in ANSIBLE_CORE_PROVIDES:
                found.add(top)
    return found


def _run(argv: list[str], cwd: Path) -> str:
    # The checkout's ansible.cfg finds the collection through .collections: leave it out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(cwd / "nowhere"), ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _galaxy(*args: str) -> list[str]:
    return [sys.executable, "-m", "ansible", "galaxy", *args]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    _run(_galaxy("collection", "build", "--force", "--output-path", str(out), str(ROOT)), out)
    (built,) = out.glob("fasterapi-deploy-*.tar.gz")
    return built


def test_metadata_is_version_1_and_names_files_that_exist() -> None:
    meta = _meta()
    assert meta["version"] == 1
    assert set(meta["dependencies"]) <= {"python", "system"}
    assert "python" in meta["dependencies"]
    for kind, name in meta["dependencies"].items():
        assert not os.path.isabs(name), f"{kind}: ansible-builder takes a path relative to the collection's root"
        assert (ROOT / name).is_file(), f"{kind}: {name} does not exist"


def test_every_third_party_import_of_the_plugins_is_declared() -> None:
    declared = _requirement_names(ROOT / _meta()["dependencies"]["python"])
    missing = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for name in _third_party_imports(path):
            if _normal(DISTRIBUTION.get(name, name)) not in declared:
                missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert missing == {}, f"imported but not in {_meta()['dependencies']['python']}: {missing}"


def test_the_import_scan_sees_third_party_imports(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("from __future__ import annotations\nimport os, json\nimport ansible.errors\n"
                      "from ansible_collections.fasterapi.deploy.plugins.plugin_utils import code_tree\n"
                      "from . import sibling\ntry:\n    import requests.adapters\nexcept ImportError:\n    pass\n"
                      "def f():\n    from jmespath import search\n", encoding="utf-8")
    assert _third_party_imports(plugin) == {"requests", "jmespath"}


def test_the_tarball_ships_the_metadata(tarball: Path) -> None:
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for name in ["meta/execution-environment.yml", *_meta()["dependencies"].values()]:
        assert name in names, f"{name} is not in {tarball.name} (galaxy.yml build_ignore?)"


def test_ansible_builder_introspect_finds_the_requirements(tarball: Path, tmp_path: Path) -> None:
    collections = tmp_path / "collections"
    _run(_galaxy("collection", "install", "--offline", "--force", "-p", str(collections), str(tarball)), tmp_path)
    out = _run([sys.executable, "-m", "ansible_builder", "introspect", "--sanitize", str(collections)], tmp_path)
    found = yaml.safe_load(out[out.index("---"):])
    declared = _requirement_lines(ROOT / _meta()["dependencies"]["python"])
    assert declared, "meta/ee-requirements.txt lists nothing"
    assert found["python"] == [f"{line}  # from collection {COLLECTION}" for line in declared]
    system = _meta()["dependencies"].get("system")
    assert found["system"] == ([f"{line}  # from collection {COLLECTION}" for line in _requirement_lines(ROOT / system)]
                               if system else [])


def test_an_ee_definition_with_the_tarball_gets_the_requirements(tarball: Path, tmp_path: Path) -> None:
    """ansible-builder create on tests/ee, then its galaxy and introspect steps as the image build runs them."""
    ee = tmp_path / "ee"
    ee.mkdir()
    shutil.copy(EE_DEFINITION, ee / "execution-environment.yml")
    shutil.copy(tarball, ee / "fasterapi-deploy.tar.gz")
    _run([sys.executable, "-m", "ansible_builder", "create", "--file", "execution-environment.yml", "--context", "context"], ee)
    context = ee / "context"
    build = context / "_build"
    (containerfile,) = [p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()]
    steps = containerfile.read_text(encoding="utf-8")
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in steps
    assert "introspect.py introspect" in steps and "--write-pip=/tmp/src/requirements.txt" in steps
    assert (build / "collections" / "fasterapi-deploy.tar.gz").is_file()
    # The galaxy stage (WORKDIR /build), then the builder stage's introspect, into this directory instead of /.
    shared = tmp_path / "usr-share-ansible-collections"
    _run(_galaxy("collection", "install", "--offline", "-r", "requirements.yml", "--collections-path", str(shared)), build)
    written = tmp_path / "src" / "requirements.txt"
    _run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", str(shared),
          f"--write-pip={written}", f"--write-bindep={tmp_path / 'src' / 'bindep.txt'}"], tmp_path)
    lines = written.read_text(encoding="utf-8").splitlines()
    for line in _requirement_lines(ROOT / _meta()["dependencies"]["python"]):
        assert f"{line}  # from collection {COLLECTION}" in lines
