"""The release_name, release_source and release_lock filters, and the role's tasks that call them.

A release's name must stay what the role's Jinja gave before these filters
(hosts keep their releases by it; another name rebuilds every release): the
tasks as they were (frozen below, from release/main.yml and release/build.yml
of 0.8.0) and the tasks as they are are rendered with Ansible's Templar for
the same variables, and must agree, name for name and host for host. The
parts are tested on their own in tests/unit/plugins/plugin_utils/test_release_naming.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleError, AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible_collections.fasterapi.deploy.plugins.filter.release import FilterModule, release_lock, release_name, release_source
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import code_tree

ROOT = Path(__file__).resolve().parents[4]
TASKS = ROOT / "roles" / "gunicorn" / "tasks" / "release"

# The tasks call fasterapi.deploy's filters and lookup, which Ansible finds with its collection loader:
# ansible-test units (make unit) installs it; a plain pytest run of this file does not.
needs_the_collection_loader = pytest.mark.skipif(
    AnsibleCollectionConfig.collection_finder is None,
    reason="the tasks' fasterapi.deploy plugins need Ansible's collection loader: run under ansible-test units (make unit)")

# release/main.yml's "Name the release" of 0.8.0, as it was.
OLD_NAME_TASK = r"""
- name: Name the release
  ansible.builtin.set_fact:
    __gunicorn_release: "{{ __gunicorn_label ~ '-' ~ (__gunicorn_inputs | to_json | hash('sha256'))[:12] }}"
    __gunicorn_release_source: "{{ __gunicorn_source_ref }}"
  vars:
    __gunicorn_source_ref: >-
      {{ ('dir:' ~ lookup('fasterapi.deploy.tree_digest', gunicorn_app_src)) if _gunicorn_source == 'dir'
         else ('git:' ~ __gunicorn_git.after) if _gunicorn_source == 'git'
         else ('archive:' ~ (gunicorn_app_archive_checksum or ('sha256:' ~ __gunicorn_source_file.stat.checksum))
               ~ ':strip=' ~ gunicorn_app_archive_strip_components) if _gunicorn_source == 'archive'
         else ('wheel:sha256:' ~ __gunicorn_source_file.stat.checksum ~ ':' ~ gunicorn_app_package | basename)
              if gunicorn_app_package is search('[.]whl$')
         else 'package:' ~ gunicorn_app_package }}
    __gunicorn_inputs:
      - "{{ __gunicorn_source_ref }}"
      - "{{ _gunicorn_base_packages + gunicorn_app_requirements }}"
      - "{{ gunicorn_app_requirements_file }}"
      - "{{ gunicorn_python }}"
      - "{{ query('ansible.builtin.file', *_gunicorn_venv_sources.values()) | map('hash', 'sha256') | list }}"
      - "{{ __gunicorn_packages[gunicorn_installer ~ '_digest'] | default({}) }}"
    __gunicorn_label: >-
      {{ (gunicorn_app_version
          or (gunicorn_app_git_version if _gunicorn_source == 'git' and gunicorn_app_git_version != 'HEAD' else '')
          or (gunicorn_app_package | basename | regex_replace('[.]whl$', '') if _gunicorn_source == 'package' else '')
          or 'release') | regex_replace('[^A-Za-z0-9._+-]+', '_') | truncate(40, true, '') }}
"""

# release/build.yml's lock host, lock text, builder, and the conditions of the
# resolution and of the stop after it, of 0.8.0.
OLD_LOCK_VARS = r"""
__gunicorn_lock_text: >-
  {{ ((__gunicorn_lock if __gunicorn_lock is not skipped else hostvars[__gunicorn_lock_host].__gunicorn_lock).lock)
     if gunicorn_lock | bool else '' }}
__gunicorn_lock_host: >-
  {{ (ansible_play_hosts_all | fasterapi.deploy.lock_host(
        dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)
                                          | map(attribute='__gunicorn_release', default=''))),
        dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)
                                          | map(attribute='__gunicorn_built', default=[])))))
     [__gunicorn_release] }}
__gunicorn_on_builder: "{{ gunicorn_offline | bool and __gunicorn_release not in hostvars[__gunicorn_lock_host].__gunicorn_built }}"
resolve_when: >-
  gunicorn_lock | bool and (__gunicorn_lock_host == inventory_hostname
                            or __gunicorn_release in hostvars[__gunicorn_lock_host].__gunicorn_built)
stop_when: gunicorn_lock | bool and __gunicorn_lock is skipped and hostvars[__gunicorn_lock_host].__gunicorn_lock is failed
"""


def trusted(value: Any) -> Any:
    """VALUE from a tasks file, its strings templates (as Ansible trusts a playbook's)."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    return value


def task(path: Path, name: str) -> dict[str, Any]:
    """The task called NAME of the tasks file PATH, in a block or not."""
    def walk(tasks: list[dict[str, Any]]) -> Any:
        for item in tasks:
            if item.get("name") == name:
                return item
            found = walk(item.get("block", []) + item.get("rescue", []) + item.get("always", []))
            if found:
                return found
        return None

    found = walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert found, f"{path.relative_to(ROOT)} has no task {name!r}"
    return found


def render(template: str, variables: dict[str, Any]) -> Any:
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template))


def condition(expression: str, variables: dict[str, Any]) -> bool:
    answer = render("{{ (" + expression + ") }}", variables)
    assert isinstance(answer, bool), f"{expression!r} gave {answer!r}"
    return answer


# The name of a release.

SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
COMMIT = "4f2c9a0e51d7b1c3a8e6f0d2b9c7a5e3f1d0b8a6"


@pytest.fixture(name="venv_files", scope="module")
def fixture_venv_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Stand-ins for the collection's files installed into each venv (_gunicorn_venv_sources)."""
    directory = tmp_path_factory.mktemp("venv-sources")
    files = {"fasterapi_deploy_worker.py": "# worker\n", "fasterapi_deploy_hooks.py": "# hooks \u00e9\n"}
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return {name: str(directory / name) for name in files}


@pytest.fixture(name="code_dir", scope="module")
def fixture_code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("app")
    (directory / "app.py").write_text("async def app(scope, receive, send):\n    pass\n", encoding="utf-8")
    (directory / "requirements.txt").write_text("httpx\n", encoding="utf-8")
    return directory


def role_variables(venv_files: dict[str, str], **changes: Any) -> dict[str, Any]:
    """The role's variables the naming reads (defaults and vars/main.yml's), with CHANGES."""
    variables: dict[str, Any] = {
        "_gunicorn_source": "git", "gunicorn_app_version": "", "gunicorn_app_git_version": "HEAD",
        "gunicorn_app_package": "", "gunicorn_app_src": "", "gunicorn_app_archive_checksum": "",
        "gunicorn_app_archive_strip_components": 0,
        "_gunicorn_base_packages": ["gunicorn==23.0.0", "uvicorn[standard]==0.35.0", "uvicorn-worker==0.3.0"],
        "gunicorn_app_requirements": [], "gunicorn_app_requirements_file": "requirements.txt",
        "gunicorn_python": "/usr/bin/python3", "_gunicorn_venv_sources": venv_files, "gunicorn_installer": "uv",
        "__gunicorn_packages": {"uv_digest": {"index-url": "https://pypi.example.org/simple"}, "pip_digest": {}},
        "__gunicorn_git": {"changed": False, "before": COMMIT, "after": COMMIT},
        "__gunicorn_source_file": SKIPPED,
        "gunicorn_offline": False, "_gunicorn_builder_environment": {},
    }
    variables.update(changes)
    return variables


def wheel_stat(checksum: str) -> dict[str, Any]:
    return {"changed": False, "stat": {"exists": True, "checksum": checksum, "size": 1024}}


# Each: what differs from role_variables, the label and the source the name must have.
NAMING_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "git-tag": ({"gunicorn_app_git_version": "v1.4.0"}, "v1.4.0", "git:" + COMMIT),
    "git-head": ({}, "release", "git:" + COMMIT),
    "git-branch-and-version": ({"gunicorn_app_git_version": "feature/x", "gunicorn_app_version": "2.0.0rc1"},
                               "2.0.0rc1", "git:" + COMMIT),
    "git-unicode-branch": ({"gunicorn_app_git_version": "r\u00e9sum\u00e9/\u00fcber"}, "r_sum_ber", "git:" + COMMIT),
    "dir": ({"_gunicorn_source": "dir", "gunicorn_app_version": "2.0.0", "__gunicorn_git": SKIPPED}, "2.0.0", "dir:"),
    "dir-unicode-requirements": ({"_gunicorn_source": "dir", "__gunicorn_git": SKIPPED,
                                  "gunicorn_app_requirements": ["caf\u00e9==1.0", "na\u00efve[\u00e9xtra]>=2"],
                                  "gunicorn_app_version": "caf\u00e9 1.0"}, "caf_1.0", "dir:"),
    "archive-with-checksum": ({"_gunicorn_source": "archive", "__gunicorn_git": SKIPPED,
                               "gunicorn_app_archive_checksum": "sha256:" + "ab" * 32,
                               "gunicorn_app_archive_strip_components": 1, "gunicorn_app_version": "3.1"},
                              "3.1", "archive:sha256:" + "ab" * 32 + ":strip=1"),
    "archive-digested": ({"_gunicorn_source": "archive", "__gunicorn_git": SKIPPED,
                          "__gunicorn_source_file": wheel_stat("cd" * 32), "gunicorn_app_archive_strip_components": "2"},
                         "release", "archive:sha256:" + "cd" * 32 + ":strip=2"),
    "wheel": ({"_gunicorn_source": "package", "__gunicorn_git": SKIPPED,
               "gunicorn_app_package": "/srv/wheels/myapp-1.2.0-py3-none-any.whl",
               "__gunicorn_source_file": wheel_stat("ef" * 32)},
              "myapp-1.2.0-py3-none-any", "wheel:sha256:" + "ef" * 32 + ":myapp-1.2.0-py3-none-any.whl"),
    "package-pip-nested-digest": ({"_gunicorn_source": "package", "__gunicorn_git": SKIPPED,
                                   "gunicorn_app_package": "myapp[extra]==1.2.0", "gunicorn_installer": "pip",
                                   "gunicorn_app_requirements_file": None,
                                   "__gunicorn_packages": {"pip_digest": {
                                       "index-url": "https://\u00e9xample.org/simple",
                                       "extra-index-url": ["https://a.example.org", "https://b.example.org"],
                                       "find-links": {"z": 1, "a": [True, None, 2.5]}}}},
                                  "myapp_extra_1.2.0", "package:myapp[extra]==1.2.0"),
    "no-digest-for-the-installer": ({"__gunicorn_packages": {"pip_digest": {"index-url": "x"}}}, "release", "git:" + COMMIT),
    "label-of-45": ({"gunicorn_app_version": "v" * 45}, "v" * 45, "git:" + COMMIT),
    "label-of-46": ({"gunicorn_app_version": "v" * 46}, "v" * 40, "git:" + COMMIT),
    "version-a-float": ({"gunicorn_app_version": 1.10}, "1.1", "git:" + COMMIT),
    "version-an-int": ({"gunicorn_app_version": 7}, "7", "git:" + COMMIT),
}


def name_task_variables(task_: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    return {**variables, **trusted(task_["vars"])}


@needs_the_collection_loader
@pytest.mark.parametrize("case", NAMING_CASES, ids=list(NAMING_CASES))
def test_the_release_is_named_as_the_old_tasks_named_it(case: str, venv_files: dict[str, str], code_dir: Path) -> None:
    changes, label, source = NAMING_CASES[case]
    variables = role_variables(venv_files, **changes)
    if variables["_gunicorn_source"] == "dir":
        variables["gunicorn_app_src"] = str(code_dir)
        source += code_tree.digest(str(code_dir))
    old = yaml.safe_load(OLD_NAME_TASK)[0]
    new = task(TASKS / "main.yml", "Name the release")
    old_variables, new_variables = name_task_variables(old, variables), name_task_variables(new, variables)
    facts = new["ansible.builtin.set_fact"]
    name = render(facts["__gunicorn_release"], new_variables)
    assert name == render(old["ansible.builtin.set_fact"]["__gunicorn_release"], old_variables)
    assert render(facts["__gunicorn_release_source"], new_variables) == source
    assert render(old["ansible.builtin.set_fact"]["__gunicorn_release_source"], old_variables) == source
    # And from first principles: json.dumps with its defaults, SHA-256, 12 hex digits.
    digest_of = variables["__gunicorn_packages"].get(variables["gunicorn_installer"] + "_digest", {})
    inputs = [source, variables["_gunicorn_base_packages"] + variables["gunicorn_app_requirements"],
              variables["gunicorn_app_requirements_file"], variables["gunicorn_python"],
              # The file lookup strips trailing white space.
              [hashlib.sha256(Path(path).read_text(encoding="utf-8").rstrip().encode()).hexdigest()
               for path in venv_files.values()], digest_of]
    assert name == f"{label}-{hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:12]}"


@needs_the_collection_loader
def test_an_offline_release_is_named_after_where_the_controller_finds_its_packages(venv_files: dict[str, str]) -> None:
    new = task(TASKS / "main.yml", "Name the release")

    def name(**changes: Any) -> str:
        variables = name_task_variables(new, role_variables(venv_files, **changes))
        return str(render(new["ansible.builtin.set_fact"]["__gunicorn_release"], variables))

    extra = {"UV_EXTRA_INDEX_URL": "https://u:secret@wheels.example.org/simple",
             "PIP_EXTRA_INDEX_URL": "https://u:secret@wheels.example.org/simple"}
    plain = name()
    # Online, or offline without index variables: named as before (no release is renamed).
    assert name(gunicorn_offline=True) == plain and name(_gunicorn_builder_environment=extra) == plain
    with_extra = name(gunicorn_offline=True, _gunicorn_builder_environment=extra)
    assert with_extra != plain
    # Without the credentials: another password, the same release.
    other = {key: value.replace("secret", "other") for key, value in extra.items()}
    assert name(gunicorn_offline=True, _gunicorn_builder_environment=other) == with_extra


def test_the_filter_names_as_the_old_expression_for_inputs_of_every_kind() -> None:
    old = "{{ label ~ '-' ~ (inputs | to_json | hash('sha256'))[:12] }}"
    for inputs in ([], ["\u00e9", ["\U0001f680", {"k\u00e9y": {"nested": [1, 2.5, None, True]}}]],
                   [{"b": 1, "a": 2}, {"a": 2, "b": 1}], ["tab\t", "quote\"", "back\\slash", "new\nline"]):
        new = release_name(inputs, version="1.0")
        assert new == render(old, {"label": "1.0", "inputs": inputs})
        assert new == "1.0-" + hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:12]


@needs_the_collection_loader
def test_a_missing_registered_result_is_refused_with_its_reason(venv_files: dict[str, str]) -> None:
    # The stat of a wheel did not run: before, an undefined variable; now the part the name needs.
    variables = role_variables(venv_files, _gunicorn_source="package", gunicorn_app_package="/srv/app.whl",
                               __gunicorn_git=SKIPPED)
    new = task(TASKS / "main.yml", "Name the release")
    with pytest.raises(AnsibleError, match="needs the wheel file SHA-256"):
        render(new["ansible.builtin.set_fact"]["__gunicorn_release"], name_task_variables(new, variables))


# The lock host, and what each host that builds does about the lock.

def host_facts(release: str = "", built: Any = None, *, offline: bool = False, lock: bool = True) -> dict[str, Any]:
    variables: dict[str, Any] = {"gunicorn_offline": offline, "gunicorn_lock": lock}
    if release:
        variables.update({"__gunicorn_release": release, "__gunicorn_built": built or []})
    return variables


def resolved(text: str) -> dict[str, Any]:
    return {"changed": False, "lock": text, "lock_source": "resolved", "packages": []}


# Each: the play's hosts (all batches) with their facts when the build starts,
# and each host's __gunicorn_lock after the resolution (none: did not build).
LOCK_CASES: dict[str, tuple[dict[str, dict[str, Any]], dict[str, Any]]] = {
    "first-host-resolves": (
        {"web1": host_facts("1.0-aaaa"), "web2": host_facts("1.0-aaaa"), "web3": host_facts("1.0-aaaa")},
        {"web1": resolved("lock 1"), "web2": SKIPPED, "web3": SKIPPED}),
    "a-host-with-it-built-keeps-its-lock": (
        {"web1": host_facts("1.0-aaaa"), "web2": host_facts("1.0-aaaa", ["1.0-aaaa"]), "web3": host_facts("1.0-aaaa")},
        {"web1": resolved("kept on web2"), "web3": resolved("kept on web2")}),
    "serial-an-earlier-batch-built-it": (
        {"web1": host_facts("1.0-aaaa", ["1.0-aaaa"]), "web2": host_facts("1.0-aaaa", ["0.9-zzzz", "1.0-aaaa"]),
         "web3": host_facts("1.0-aaaa", ["0.9-zzzz"]), "web4": host_facts("1.0-aaaa"), "web5": host_facts()},
        {"web3": resolved("kept on web1"), "web4": resolved("kept on web1")}),
    "two-releases": (
        {"api1": host_facts("2.0-bbbb"), "web1": host_facts("1.0-aaaa"), "api2": host_facts("2.0-bbbb"),
         "web2": host_facts("1.0-aaaa")},
        {"api1": resolved("api lock"), "web1": resolved("web lock"), "api2": SKIPPED, "web2": SKIPPED}),
    "offline-lock-host-resolves-on-the-controller": (
        {"web1": host_facts("1.0-aaaa", offline=True), "web2": host_facts("1.0-aaaa", offline=True)},
        {"web1": resolved("from the controller"), "web2": SKIPPED}),
    "offline-with-a-kept-lock": (
        {"web1": host_facts("1.0-aaaa", offline=True), "web2": host_facts("1.0-aaaa", ["1.0-aaaa"], offline=True)},
        {"web1": resolved("kept on web2")}),
    "mixed-offline-and-online": (
        {"web1": host_facts("1.0-aaaa"), "web2": host_facts("1.0-aaaa", offline=True)},
        {"web1": resolved("from web1"), "web2": SKIPPED}),
    "no-lock": (
        {"web1": host_facts("1.0-aaaa", lock=False), "web2": host_facts("1.0-aaaa", ["1.0-aaaa"], lock=False),
         "web3": host_facts("1.0-aaaa", lock=False)},
        {"web1": SKIPPED, "web3": SKIPPED}),
    "the-lock-host-failed": (
        {"web1": host_facts("1.0-aaaa"), "web2": host_facts("1.0-aaaa")},
        {"web1": {"failed": True, "msg": "no index"}, "web2": SKIPPED}),
}


def build_variables(hostvars: dict[str, dict[str, Any]], host: str, block_vars: dict[str, Any]) -> dict[str, Any]:
    return {**hostvars[host], "hostvars": hostvars, "ansible_play_hosts_all": list(hostvars),
            "inventory_hostname": host, **block_vars}


@needs_the_collection_loader
@pytest.mark.parametrize("case", LOCK_CASES, ids=list(LOCK_CASES))
def test_each_host_does_about_the_lock_what_the_old_tasks_did(case: str) -> None:
    before, results = LOCK_CASES[case]
    old = trusted(yaml.safe_load(OLD_LOCK_VARS))
    build = task(TASKS / "build.yml", "Build the release from its source, venv by {{ gunicorn_installer }}")
    resolve = task(TASKS / "build.yml", "Resolve the packages once for every host that builds release {{ __gunicorn_release }}")
    stop = task(TASKS / "build.yml", "Stop where the host that resolves the packages failed")
    new = trusted({**build["vars"], **resolve["vars"]})
    builders = [host for host, facts in before.items()
                if facts.get("__gunicorn_release") and facts["__gunicorn_release"] not in facts["__gunicorn_built"]]
    assert builders
    for host in builders:
        old_variables, new_variables = build_variables(before, host, old), build_variables(before, host, new)
        lock_host = render("{{ __gunicorn_lock_host }}", new_variables)
        assert lock_host == render("{{ __gunicorn_lock_host }}", old_variables), host
        assert render("{{ __gunicorn_on_builder }}", new_variables) == render("{{ __gunicorn_on_builder }}", old_variables)
        assert condition(resolve["when"], new_variables) == condition(old["resolve_when"], old_variables), host
        assert render(resolve["delegate_to"], new_variables) == render(resolve["delegate_to"], old_variables)

    after = {host: {**facts, **({"__gunicorn_lock": results[host]} if host in results else {})}
             for host, facts in before.items()}
    for host in builders:
        if after[host].get("__gunicorn_lock", {}).get("failed"):
            continue  # its own resolution failed: it is in the block's rescue already
        old_variables, new_variables = build_variables(after, host, old), build_variables(after, host, new)
        stopped = condition(stop["when"], new_variables)
        assert stopped == condition(old["stop_when"], old_variables), host
        if not stopped:
            assert render("{{ __gunicorn_lock_text }}", new_variables) == render("{{ __gunicorn_lock_text }}", old_variables)
        else:
            assert render(stop["ansible.builtin.fail"]["msg"], new_variables) == (
                "Release 1.0-aaaa was not built: resolving its packages on web1 failed (that host's error says why).")


def test_the_lock_hosts_choice_in_a_serial_play() -> None:
    before, _results = LOCK_CASES["serial-an-earlier-batch-built-it"]
    plans = {host: release_lock(list(before), before, "1.0-aaaa", host, offline=True) for host in ("web3", "web4")}
    assert {host: (plan["host"], plan["resolve"], plan["on_builder"]) for host, plan in plans.items()} == {
        "web3": ("web1", True, False), "web4": ("web1", True, False)}


@needs_the_collection_loader
def test_a_lock_host_that_stopped_before_is_a_problem_the_old_tasks_did_not_name() -> None:
    # web1 named its release, then stopped (its index did not answer): it registered no lock.
    hostvars = {"web1": host_facts("1.0-aaaa"), "web2": {**host_facts("1.0-aaaa"), "__gunicorn_lock": SKIPPED}}
    stop = task(TASKS / "build.yml", "Stop where the host that resolves the packages failed")
    build = task(TASKS / "build.yml", "Build the release from its source, venv by {{ gunicorn_installer }}")
    variables = build_variables(hostvars, "web2", trusted(build["vars"]))
    assert condition(stop["when"], variables)
    assert render(stop["ansible.builtin.fail"]["msg"], variables).startswith(
        "Release 1.0-aaaa was not built: web1, which resolves its packages for every host that builds it, did not resolve them")


# The filters themselves.

def test_the_filters_are_registered() -> None:
    filters = FilterModule().filters()
    assert filters == {"release_name": release_name, "release_source": release_source, "release_lock": release_lock}


def test_the_documented_examples() -> None:
    inputs = ["package:myapp==1.2.0", ["gunicorn==23.0.0", "uvicorn[standard]==0.35.0"], "requirements.txt",
              "/usr/bin/python3", [], {}]
    assert release_name(inputs, version="1.2.0") == "1.2.0-0d0cd6d88251"
    assert release_name(inputs, source="package", package="/srv/wheels/myapp-1.2.0-py3-none-any.whl").startswith(
        "myapp-1.2.0-py3-none-any-")
    assert release_source("git", commit=COMMIT) == "git:" + COMMIT
    assert release_source("archive", archive_checksum="sha256:9f86d0", strip_components=1) == "archive:sha256:9f86d0:strip=1"
    assert release_source("package", package="myapp==1.2.0") == "package:myapp==1.2.0"
    plan = release_lock(["web1", "web2"], {"web1": {"__gunicorn_release": "1.0.3-aaaa", "__gunicorn_built": []},
                                           "web2": {"__gunicorn_release": "1.0.3-aaaa", "__gunicorn_built": ["1.0.3-aaaa"]}},
                        "1.0.3-aaaa", "web1")
    assert (plan["host"], plan["built"], plan["resolve"], plan["on_builder"]) == ("web2", True, True, False)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: release_name("not a list"), "release_name expects the list"),
        (lambda: release_name([{1, 2}]), r"release_name: inputs\[0\] is a set"),
        (lambda: release_source("svn"), "release_source: unknown release source 'svn'"),
        (lambda: release_source("git"), "release_source: a release from source 'git' needs the commit"),
        (lambda: release_lock("web1", {}, "1.0", "web1"), "release_lock expects the play's hosts"),
        (lambda: release_lock(["web1"], [], "1.0", "web1"), "release_lock expects the play's hosts"),
        (lambda: release_lock(["web1"], {}, "1.0", "web1"), r"release_lock: no host of the play \(web1\)"),
        (lambda: release_lock(["web1"], {"web1": host_facts("1.0")}, "1.0", "web1", offline="maybe"), "release_lock: "),
    ],
)
def test_the_filters_fail_as_filters(call: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        call()


def test_booleans_are_read_as_ansible_reads_them() -> None:
    plan = release_lock(["web1"], {"web1": host_facts("1.0")}, "1.0", "web1", offline="yes", lock="false")
    assert (plan["on_builder"], plan["resolve"]) == (True, False)
