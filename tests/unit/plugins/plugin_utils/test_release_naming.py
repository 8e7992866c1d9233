"""A release's name and the host that resolves its lock (plugins/plugin_utils/release_naming.py).

The name must stay what the role's Jinja gave (hosts keep their releases by
it): here each part against what Ansible's own filters compute, and in
tests/unit/plugins/filter/test_release.py the role's tasks as they were
against the tasks as they are.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from ansible.plugins.filter.core import get_hash, to_json
from ansible_collections.fasterapi.deploy.plugins.filter.gunicorn import lock_host as gunicorn_lock_host
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import release_naming as naming
from jinja2 import Environment

JINJA = Environment()


def jinja_label(text: str) -> str:
    """TEXT as the role's Jinja cut it: regex_replace, then Jinja's own truncate(40, true, '')."""
    return JINJA.from_string("{{ value | truncate(40, true, '') }}").render(
        value=naming._LABEL_UNSAFE.sub("_", text))  # pylint: disable=protected-access


# What the role's digest covers: the source, the packages, the requirements
# file, the Python, the venv files' digests, where packages come from.
INPUTS: list[Any] = [
    "git:4f2c9a0e51d7b1c3a8e6f0d2b9c7a5e3f1d0b8a6",
    ["gunicorn==23.0.0", "uvicorn[standard]==0.35.0", "uvicorn-worker==0.3.0", "httpx>=0.27"],
    "requirements.txt",
    "/usr/bin/python3",
    [hashlib.sha256(b"worker").hexdigest(), hashlib.sha256(b"hooks").hexdigest()],
    {"index-url": "https://pypi.example.org/simple", "extra-index-url": "https://extra.example.org/simple"},
]

VARIED_INPUTS: list[list[Any]] = [
    INPUTS,
    [],
    ["dir:abc", [], "", "/opt/python3.12/bin/python3", [], {}],
    # Beyond ASCII: escaped as \u00e9, and one outside the BMP as a surrogate pair.
    ["package:caf\u00e9==1.0", ["\u00fcber-lib==2.0", "emoji-\U0001f680==1"], "r\u00e9q.txt", "/usr/bin/python3", [],
     {"index-url": "https://\u00e9xample.org/simple"}],
    # Nested mappings keep their order (to_json does not sort keys).
    ["package:app", [], None, "/usr/bin/python3", [], {"z": {"b": [1, 2.5, True, None], "a": {}}, "a": "first?"}],
    ["archive:sha256:00ff:strip=1", ["a", ["b", ["c"]]], "requirements.txt", "python3", ["x"], {"k": ["v", {"w": 0}]}],
    ['quote " and backslash \\ and tab \t and newline \n', [], "", "", [], {}],
]


@pytest.mark.parametrize("inputs", VARIED_INPUTS, ids=[f"inputs{i}" for i in range(len(VARIED_INPUTS))])
def test_inputs_json_is_what_ansibles_to_json_writes(inputs: list[Any]) -> None:
    assert naming.inputs_json(inputs) == to_json(inputs)
    # json.dumps with its defaults: ", " and ": ", ASCII only, keys in their order.
    assert naming.inputs_json(inputs) == json.dumps(inputs)


@pytest.mark.parametrize("inputs", VARIED_INPUTS, ids=[f"inputs{i}" for i in range(len(VARIED_INPUTS))])
def test_inputs_digest_is_to_json_then_hash_sha256(inputs: list[Any]) -> None:
    assert naming.inputs_digest(inputs) == get_hash(to_json(inputs), "sha256")
    assert naming.inputs_digest(inputs) == hashlib.sha256(json.dumps(inputs).encode()).hexdigest()


def test_the_json_keeps_key_order_and_escapes_beyond_ascii() -> None:
    assert naming.inputs_json([{"b": 1, "a": "\u00e9"}]) == '[{"b": 1, "a": "\\u00e9"}]'
    assert naming.inputs_json([{"a": "\u00e9", "b": 1}]) != naming.inputs_json([{"b": 1, "a": "\u00e9"}])


def test_subclasses_of_the_json_types_are_written_as_the_types_themselves() -> None:
    class Text(str):
        def __str__(self) -> str:
            return "not this"

    class Listing(list):  # type: ignore[type-arg]
        pass

    inputs = [Text("abc"), Listing([Text("d")]), (1, 2)]
    assert naming.inputs_json(inputs) == '["abc", ["d"], [1, 2]]'


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object()])
def test_inputs_of_other_types_are_refused(value: Any) -> None:
    with pytest.raises(TypeError, match=r"inputs\[1\]\[0\] is a "):
        naming.inputs_json(["ok", [value]])


def test_release_name_is_the_label_and_twelve_hex_digits_of_the_digest() -> None:
    digest = hashlib.sha256(json.dumps(INPUTS).encode()).hexdigest()
    assert naming.release_name(INPUTS, "1.2.0") == "1.2.0-" + digest[:12]
    # The documented example (plugins/filter/release_name.yml).
    documented = ["package:myapp==1.2.0", ["gunicorn==23.0.0", "uvicorn[standard]==0.35.0"], "requirements.txt",
                  "/usr/bin/python3", [], {}]
    assert naming.release_name(documented, "1.2.0") == "1.2.0-0d0cd6d88251"


@pytest.mark.parametrize(
    ("version", "source", "git_version", "package", "label"),
    [
        ("1.2.0", "git", "v9", "", "1.2.0"),
        ("", "git", "v1.4.0", "", "v1.4.0"),
        ("", "git", "HEAD", "", "release"),
        ("", "git", "feature/new thing", "", "feature_new_thing"),
        ("", "dir", "v1.4.0", "", "release"),
        ("", "package", "HEAD", "/srv/wheels/myapp-1.2.0-py3-none-any.whl", "myapp-1.2.0-py3-none-any"),
        ("", "package", "HEAD", "myapp==1.2.0", "myapp_1.2.0"),
        ("", "package", "HEAD", "myapp[extra]>=1,<2", "myapp_extra_1_2"),
        ("", "archive", "HEAD", "ignored.whl", "release"),
        ("caf\u00e9 \u00fcber", "dir", "HEAD", "", "caf_ber"),
        ("1.0+local.7", "dir", "HEAD", "", "1.0+local.7"),
        (1.1, "dir", "HEAD", "", "1.1"),
        (7, "dir", "HEAD", "", "7"),
        (0, "dir", "HEAD", "", "release"),
        (None, "git", 3.0, "", "3.0"),
    ],
)
def test_release_label(version: Any, source: str, git_version: Any, package: str, label: str) -> None:
    assert naming.release_label(version, source, git_version, package) == label


@pytest.mark.parametrize("length", [1, 39, 40, 41, 44, 45, 46, 47, 80])
def test_a_label_is_cut_as_jinjas_truncate_cuts_it(length: int) -> None:
    version = "".join("abcdefghij"[i % 10] for i in range(length))
    label = naming.release_label(version, "dir")
    assert label == jinja_label(version)
    # Jinja's leeway: up to 45 characters stay whole, more are cut to 40.
    assert label == (version if length <= 45 else version[:40])


def test_a_label_of_replaced_characters_is_cut_after_the_replacement() -> None:
    version = "v1 / " * 9  # 45 characters, 27 as "v1_" * 9
    assert naming.release_label(version, "dir") == jinja_label(version) == "v1_" * 9
    version = "v1 / " * 16  # a run of characters is one "_": 48, cut to 40
    assert naming.release_label(version, "dir") == jinja_label(version) == ("v1_" * 16)[:40]
    long_version = "\u00e9-" * 30
    assert naming.release_label(long_version, "dir") == jinja_label(long_version) == ("_-" * 30)[:40]


def test_a_wheel_suffix_is_dropped_only_at_the_end() -> None:
    assert naming.release_label("", "package", package="dist/app.whl.tar") == "app.whl.tar"
    # "$" of Ansible's regex_replace matches before a final newline too.
    assert naming.release_label("", "package", package="dist/app.whl\n") == "app_"


@pytest.mark.parametrize(
    ("kind", "arguments", "source"),
    [
        ("dir", {"tree": "0123abcd"}, "dir:0123abcd"),
        ("git", {"commit": "4f2c9a0e"}, "git:4f2c9a0e"),
        ("archive", {"archive_checksum": "sha256:feed", "file_checksum": "", "strip_components": 1},
         "archive:sha256:feed:strip=1"),
        ("archive", {"archive_checksum": "", "file_checksum": "beef", "strip_components": 0}, "archive:sha256:beef:strip=0"),
        ("archive", {"archive_checksum": "md5:00", "strip_components": "2"}, "archive:md5:00:strip=2"),
        ("package", {"package": "/srv/wheels/app-1.0-py3-none-any.whl", "file_checksum": "cafe"},
         "wheel:sha256:cafe:app-1.0-py3-none-any.whl"),
        ("package", {"package": "app==1.0"}, "package:app==1.0"),
        ("package", {"package": "app @ https://example.org/app.tar.gz"}, "package:app @ https://example.org/app.tar.gz"),
    ],
)
def test_source_ref(kind: str, arguments: dict[str, Any], source: str) -> None:
    assert naming.source_ref(kind, **arguments) == source


@pytest.mark.parametrize(
    ("kind", "arguments", "message"),
    [
        ("dir", {}, "needs the code directory's digest"),
        ("git", {"commit": ""}, "needs the commit deployed"),
        ("archive", {"strip_components": 1}, "needs gunicorn_app_archive_checksum or the archive's SHA-256"),
        ("package", {"package": "app.whl"}, "needs the wheel file SHA-256"),
        ("none", {}, "unknown release source 'none'"),
    ],
)
def test_source_ref_refuses_what_misses_its_part(kind: str, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        naming.source_ref(kind, **arguments)


# The lock host: the play's hosts, each one's release and the releases built there.

def test_lock_hosts_prefers_a_host_that_has_the_release_built() -> None:
    hosts = ["web1", "web2", "web3"]
    releases = dict.fromkeys(hosts, "1.0-aaaa")
    assert naming.lock_hosts(hosts, releases, {"web1": [], "web2": [], "web3": ["1.0-aaaa"]}) == {"1.0-aaaa": "web3"}


def test_lock_hosts_takes_the_first_of_several_that_have_it_built() -> None:
    hosts = ["web1", "web2", "web3"]
    releases = dict.fromkeys(hosts, "1.0-aaaa")
    built = {"web1": ["0.9-zzzz"], "web2": ["1.0-aaaa"], "web3": ["1.0-aaaa"]}
    assert naming.lock_hosts(hosts, releases, built) == {"1.0-aaaa": "web2"}


def test_lock_hosts_picks_one_host_per_release() -> None:
    hosts = ["api1", "web1", "api2", "web2", "worker1"]
    releases = {"api1": "2.0-bbbb", "web1": "1.0-aaaa", "api2": "2.0-bbbb", "web2": "1.0-aaaa", "worker1": "1.0-aaaa"}
    built = {"web2": ["1.0-aaaa"]}
    assert naming.lock_hosts(hosts, releases, built) == {"2.0-bbbb": "api1", "1.0-aaaa": "web2"}


def test_lock_hosts_leaves_out_hosts_without_a_release() -> None:
    # A later batch of a serial play has no release yet; a host that has one built but deploys another does not count.
    hosts = ["web1", "web2", "web3"]
    releases = {"web1": "", "web2": "1.0-aaaa"}
    built = {"web1": ["1.0-aaaa"], "web3": ["1.0-aaaa"]}
    assert naming.lock_hosts(hosts, releases, built) == {"1.0-aaaa": "web2"}


def test_lock_hosts_refuses_what_is_not_a_mapping() -> None:
    with pytest.raises(TypeError, match="mapping of host to release"):
        naming.lock_hosts(["web1"], ["1.0"], {})  # type: ignore[arg-type]


def test_lock_hosts_chooses_as_the_lock_host_filter_does() -> None:
    # plugins/filter/gunicorn.py's lock_host (documented since 0.6.0) is kept for playbooks that use it: it hands
    # over to lock_hosts, and must give the same choice.
    chance = random.Random(20260)
    for _round in range(300):
        hosts = [f"h{index}" for index in range(chance.randint(0, 7))]
        names = ["1.0-aaaa", "1.1-bbbb", "2.0-cccc"]
        releases = {host: chance.choice([*names, ""]) for host in hosts if chance.random() < 0.9}
        built = {host: chance.sample(names, chance.randint(0, 2)) for host in hosts if chance.random() < 0.8}
        assert naming.lock_hosts(hosts, releases, built) == gunicorn_lock_host(hosts, releases, built)


def facts(release: str = "", built: Any = None, lock: Any = None) -> dict[str, Any]:
    """A host's variables as release/main.yml and release/build.yml leave them."""
    variables: dict[str, Any] = {"gunicorn_offline": False}
    if release:
        variables[naming.RELEASE_FACT] = release
        variables[naming.BUILT_FACT] = built or []
    if lock is not None:
        variables[naming.LOCK_RESULT] = lock
    return variables


SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}


def resolved(text: str) -> dict[str, Any]:
    return {"changed": False, "lock": text, "lock_source": "resolved", "packages": []}


def test_the_first_host_that_builds_the_release_resolves_it() -> None:
    hostvars = {"web1": facts("1.0-aaaa"), "web2": facts("1.0-aaaa"), "web3": facts("1.0-aaaa")}
    plans = {host: naming.lock_plan(list(hostvars), hostvars, "1.0-aaaa", host) for host in hostvars}
    assert {host: (plan["host"], plan["built"], plan["resolve"], plan["on_builder"]) for host, plan in plans.items()} == {
        "web1": ("web1", False, True, False), "web2": ("web1", False, False, False), "web3": ("web1", False, False, False)}


def test_a_host_that_has_the_release_built_keeps_its_lock_and_every_host_asks_it() -> None:
    hostvars = {"web1": facts("1.0-aaaa"), "web2": facts("1.0-aaaa", ["1.0-aaaa"]), "web3": facts("1.0-aaaa")}
    for host in ("web1", "web3"):
        plan = naming.lock_plan(["web1", "web2", "web3"], hostvars, "1.0-aaaa", host)
        assert (plan["host"], plan["built"], plan["resolve"], plan["on_builder"]) == ("web2", True, True, False)


def test_a_host_of_an_earlier_batch_gives_its_lock_to_the_later_batches() -> None:
    # serial: 2 -- web1 and web2 built 1.0-aaaa (web1 resolved); web3, web4 now; web5 in a later batch.
    hostvars = {"web1": facts("1.0-aaaa", ["0.9-zzzz", "1.0-aaaa"], resolved("lock of web1")),
                "web2": facts("1.0-aaaa", ["0.9-zzzz", "1.0-aaaa"], SKIPPED),
                "web3": facts("1.0-aaaa", ["0.9-zzzz"]), "web4": facts("1.0-aaaa"), "web5": facts()}
    hosts = list(hostvars)
    for host in ("web3", "web4"):
        plan = naming.lock_plan(hosts, hostvars, "1.0-aaaa", host, offline=True)
        # On an offline host too: the kept lock is read where it is, not resolved on the controller.
        assert (plan["host"], plan["built"], plan["resolve"], plan["on_builder"]) == ("web1", True, True, False)
    # After the resolution (each asked web1 itself): each its own result.
    hostvars["web3"][naming.LOCK_RESULT] = resolved("lock kept on web1")
    assert naming.lock_plan(hosts, hostvars, "1.0-aaaa", "web3")["text"] == "lock kept on web1"


def test_a_later_batch_deploying_another_release_resolves_it_itself() -> None:
    hostvars = {"web1": facts("1.0-aaaa", ["1.0-aaaa"]), "web2": facts("1.1-bbbb", ["1.0-aaaa"]),
                "web3": facts("1.1-bbbb")}
    plan = naming.lock_plan(list(hostvars), hostvars, "1.1-bbbb", "web3")
    assert (plan["host"], plan["built"], plan["resolve"]) == ("web2", False, False)
    assert naming.lock_plan(list(hostvars), hostvars, "1.1-bbbb", "web2")["resolve"] is True


def test_an_offline_lock_host_resolves_on_the_controller() -> None:
    hostvars = {"web1": facts("1.0-aaaa"), "web2": facts("1.0-aaaa")}
    plan = naming.lock_plan(["web1", "web2"], hostvars, "1.0-aaaa", "web1", offline=True)
    assert (plan["host"], plan["resolve"], plan["on_builder"]) == ("web1", True, True)
    online = naming.lock_plan(["web1", "web2"], hostvars, "1.0-aaaa", "web1", offline=False)
    assert (online["resolve"], online["on_builder"]) == (True, False)


def test_without_a_lock_nothing_is_resolved() -> None:
    hostvars = {"web1": facts("1.0-aaaa", lock=SKIPPED), "web2": facts("1.0-aaaa", ["1.0-aaaa"], SKIPPED)}
    for host in hostvars:
        plan = naming.lock_plan(list(hostvars), hostvars, "1.0-aaaa", host, offline=True, lock=False)
        assert (plan["host"], plan["resolve"], plan["text"], plan["problem"]) == ("web2", False, "", "")


def test_after_the_resolution_each_host_installs_the_lock_hosts_lock() -> None:
    hostvars = {"web1": facts("1.0-aaaa", lock=resolved("pkg==1 --hash=sha256:00\n")),
                "web2": facts("1.0-aaaa", lock=SKIPPED)}
    for host in hostvars:
        plan = naming.lock_plan(list(hostvars), hostvars, "1.0-aaaa", host)
        assert (plan["text"], plan["problem"]) == ("pkg==1 --hash=sha256:00\n", "")


def test_an_empty_lock_is_a_lock() -> None:
    hostvars = {"web1": facts("1.0-aaaa", lock=resolved(""))}
    assert naming.lock_plan(["web1"], hostvars, "1.0-aaaa", "web1")["problem"] == ""


@pytest.mark.parametrize(
    ("lock_host_result", "problem"),
    [
        ({"failed": True, "msg": "no index"}, "resolving its packages on web1 failed (that host's error says why)"),
        (SKIPPED, "web1, which resolves its packages for every host that builds it, did not resolve them"),
        (None, "web1, which resolves its packages for every host that builds it, did not resolve them"),
        ({"changed": False}, "resolving its packages on web1 returned no lock"),
    ],
)
def test_no_lock_from_the_lock_host_is_a_problem(lock_host_result: Any, problem: str) -> None:
    hostvars = {"web1": facts("1.0-aaaa", lock=lock_host_result), "web2": facts("1.0-aaaa", lock=SKIPPED)}
    plan = naming.lock_plan(["web1", "web2"], hostvars, "1.0-aaaa", "web2")
    assert plan["problem"].startswith(problem) and plan["text"] == ""


def test_hostvars_without_the_host_or_with_nulls_count_as_absent() -> None:
    hostvars: dict[str, Any] = {"web2": {naming.RELEASE_FACT: "1.0-aaaa", naming.BUILT_FACT: None},
                                "web3": {naming.RELEASE_FACT: None}}
    plan = naming.lock_plan(["web1", "web2", "web3"], hostvars, "1.0-aaaa", "web2")
    assert (plan["host"], plan["built"], plan["resolve"]) == ("web2", False, True)


def test_a_release_no_host_deploys_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no host of the play \(web1\) has release '2.0-cccc'"):
        naming.lock_plan(["web1"], {"web1": facts("1.0-aaaa")}, "2.0-cccc", "web1")
