"""plugins/module_utils/package_settings.py on real files in a scratch root (not this machine's /etc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import package_settings as ps


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path


def run(root: Path, environ: Dict[str, str], role: Dict[str, Any], local_ca: tuple = ()) -> Dict[str, Any]:
    origin = {name: "environment" for name in environ}
    return ps.effective(role, environ, origin, str(root / "home"), local_ca, root=str(root))


def source(result: Dict[str, Any], setting: str, key: str = "settings") -> str:
    found = [s for s in result[key] if s["setting"] == setting]
    return found[0]["source"] if found else ""


def test_etc_pip_conf_reaches_uv_with_its_source(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("[global]\ncert = /etc/ssl/corp.pem\nindex-url = https://u:secret@mirror.example/simple\n"
                                           "timeout = 30\n[install]\nextra-index-url =\n  https://a.example/simple\n  https://b.example/simple\n")
    result = run(root, {}, {})
    assert result["uv_environment"]["SSL_CERT_FILE"] == "/etc/ssl/corp.pem"
    assert result["uv_environment"]["UV_INDEX_URL"] == "https://u:secret@mirror.example/simple"
    assert result["uv_environment"]["UV_EXTRA_INDEX_URL"] == "https://a.example/simple https://b.example/simple"
    assert result["uv_environment"]["UV_HTTP_TIMEOUT"] == "30"
    assert result["uv_environment"]["UV_SYSTEM_CERTS"] == "1"
    # pip reads its own files: it is told nothing more.
    assert result["pip_environment"] == {}
    assert source(result, "cert") == f"{root}/etc/pip.conf [global]"
    assert source(result, "extra-index-url") == f"{root}/etc/pip.conf [install]"
    shown = [s["value"] for s in result["settings"] if s["setting"] == "index-url"]
    assert shown == ["https://***@mirror.example/simple"]
    assert "secret" not in repr(result["settings"]) + repr(result["uv_settings"]) + repr(result["uv_digest"])
    assert result["uv_digest"] == {"index-url": "https://mirror.example/simple",
                                   "extra-index-url": "https://a.example/simple https://b.example/simple"}


def test_the_role_wins_over_variables_which_win_over_files(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("[global]\nindex-url = https://file.example/simple\ncert = /file.pem\nretries = 2\n")
    environ = {"PIP_INDEX_URL": "https://variable.example/simple", "PIP_RETRIES": "7"}
    result = run(root, environ, {"index-url": "https://role.example/simple", "cert": ""})
    assert result["uv_environment"]["UV_INDEX_URL"] == "https://role.example/simple"
    assert result["pip_environment"] == {"PIP_INDEX_URL": "https://role.example/simple"}
    assert source(result, "index-url") == "role variable gunicorn_pip_index_url"
    assert source(result, "retries") == "PIP_RETRIES (environment)"
    assert result["uv_environment"]["UV_HTTP_RETRIES"] == "7"
    assert source(result, "cert") == f"{root}/etc/pip.conf [global]"


def test_pip_config_file_devnull_turns_the_files_off(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("[global]\nindex-url = https://file.example/simple\n")
    result = run(root, {"PIP_CONFIG_FILE": "/dev/null"}, {})
    assert "UV_INDEX_URL" not in result["uv_environment"]
    assert result["settings"] == []


def test_user_files_override_global_ones_in_pips_order(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("[global]\nindex-url = https://global.example/simple\n")
    user = root / "home" / ".config" / "pip"
    user.mkdir(parents=True)
    (user / "pip.conf").write_text("[global]\nindex-url = https://user.example/simple\n")
    result = run(root, {}, {})
    assert result["uv_environment"]["UV_INDEX_URL"] == "https://user.example/simple"


def test_uvs_own_configuration_wins_for_uv_but_not_over_the_role(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("[global]\nindex-url = https://pip.example/simple\nfind-links = /srv/wheels\n")
    (root / "etc" / "uv").mkdir()
    (root / "etc" / "uv" / "uv.toml").write_text('[[index]]\nurl = "https://uv.example/simple"\ndefault = true\n')
    result = run(root, {}, {})
    assert "UV_INDEX_URL" not in result["uv_environment"]  # uv reads its uv.toml itself
    assert result["uv_environment"]["UV_FIND_LINKS"] == "/srv/wheels"
    assert source(result, "index-url", "uv_settings") == f"{root}/etc/uv/uv.toml [[index]]"
    assert result["uv_digest"]["index-url"] == "https://uv.example/simple"
    forced = run(root, {}, {"index-url": "https://role.example/simple"})
    assert forced["uv_environment"]["UV_INDEX_URL"] == "https://role.example/simple"


def test_etc_environment_supplies_proxies_and_pip_variables_a_session_lacks(root: Path) -> None:
    (root / "etc" / "environment").write_text('# proxy\nHTTPS_PROXY="http://proxy.example:3128"\nNO_PROXY=localhost,.corp\n'
                                              "PIP_INDEX_URL=https://corp.example/simple\nPATH=/usr/bin\n")
    environ, origin = ps.host_environment({"PATH": "/bin"}, str(root / "etc" / "environment"))
    assert environ["PATH"] == "/bin"
    result = ps.effective({}, environ, origin, str(root / "home"), root=str(root))
    assert result["uv_environment"]["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert result["pip_environment"]["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert result["pip_environment"]["PIP_INDEX_URL"] == "https://corp.example/simple"
    assert result["uv_environment"]["NO_PROXY"] == "localhost,.corp"
    assert source(result, "HTTPS_PROXY") == f"{root}/etc/environment"


def test_proxies_in_the_sessions_own_environment_are_not_repeated(root: Path) -> None:
    result = run(root, {"https_proxy": "http://p:3128"}, {})
    assert "https_proxy" not in result["uv_environment"]
    assert source(result, "https_proxy") == "environment"


def test_a_ca_added_to_the_system_store_is_reported(root: Path) -> None:
    store = root / "ca"
    store.mkdir()
    (store / "corp.crt").write_text("x")
    (store / "README").write_text("x")
    found = ps.system_ca(str(store))
    assert found == [str(store / "corp.crt")]
    result = run(root, {}, {}, tuple(found))
    assert source(result, "system trust store") == ps.LOCAL_CA_DIR
    assert result["uv_environment"]["UV_SYSTEM_CERTS"] == "1"


def test_an_unreadable_pip_conf_is_a_problem_not_a_crash(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("index-url = no section\n")
    result = run(root, {}, {})
    assert result["problems"] and "pip.conf is not a pip configuration file" in result["problems"][0]


@pytest.mark.parametrize(("value", "expected"), [
    ("https://user:pw@h.example/simple", "https://***@h.example/simple"),
    ("https://token@h.example/simple https://x.example/", "https://***@h.example/simple https://x.example/"),
    ("/srv/wheels", "/srv/wheels"),
])
def test_redact(value: str, expected: str) -> None:
    assert ps.redact(value) == expected


def test_secret_values_are_those_with_credentials() -> None:
    assert ps.secret_values({"UV_INDEX_URL": "https://u:pw@h/simple", "UV_SYSTEM_CERTS": "1", "X": "https://h/"}) == [
        "https://u:pw@h/simple"]


def test_a_wheelhouse_overrides_the_index_and_leaves_the_digest_empty(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("[global]\nindex-url = https://corp.example/simple\n")
    result = ps.effective({}, {}, {}, str(root / "home"), root=str(root), wheelhouse="/var/cache/w")
    assert result["uv_arguments"] == ["--no-index"] and "UV_NO_INDEX" not in result["uv_environment"]
    assert result["uv_environment"]["UV_FIND_LINKS"] == "/var/cache/w"
    assert result["pip_environment"]["PIP_NO_INDEX"] == "1"
    assert result["pip_environment"]["PIP_FIND_LINKS"] == "/var/cache/w"
    assert result["uv_digest"] == {} and result["pip_digest"] == {}
    assert source(result, "no-index") == ps.OFFLINE


def test_the_index_names_where_it_was_set(root: Path) -> None:
    assert run(root, {}, {})["index"] == {"url": ps.DEFAULT_INDEX, "source": "pip's default", "cert": ""}
    (root / "etc" / "pip.conf").write_text("[global]\nindex-url = https://corp.example/simple\ncert = /c.pem\n")
    assert run(root, {}, {})["index"] == {"url": "https://corp.example/simple", "source": f"{root}/etc/pip.conf [global]",
                                          "cert": "/c.pem"}


def test_probe_of_a_port_nobody_listens_on_fails_at_once() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    got = ps.probe({"url": f"http://127.0.0.1:{port}/simple", "cert": ""}, {}, 5)
    assert not got["ok"] and "refused" in got["error"].lower()
    assert got["seconds"] < 2


def test_probe_gives_up_after_its_timeout() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)  # accepts the connection in the kernel, never answers
        got = ps.probe({"url": "http://127.0.0.1:%d/simple" % server.getsockname()[1], "cert": ""}, {}, 0.5)
    assert not got["ok"] and got["error"] == "no answer within 0.5 s"
    assert 0.4 < got["seconds"] < 3


def test_probe_counts_any_http_answer_as_reachable() -> None:
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)  # 501 to HEAD
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        got = ps.probe({"url": "http://u:pw@127.0.0.1:%d/simple" % server.server_port, "cert": ""}, {}, 5)
    finally:
        server.shutdown()
    assert got["ok"], got
    assert "pw" not in got["url"]


def test_target_reads_this_python() -> None:
    import sys

    got = ps.target(sys.executable)
    assert got["python_version"] == "%d.%d" % sys.version_info[:2]
    assert got["machine"] and got["glibc"].startswith("2.")
    assert ps.target("/nonexistent/python") == {"python_version": "", "machine": "", "glibc": ""}


@pytest.mark.parametrize("name", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_a_ca_bundle_only_etc_environment_names_reaches_both_installers_and_the_probe(root: Path, name: str) -> None:
    (root / "etc" / "environment").write_text(f'{name}="/etc/ssl/corp/ca.pem"\n')
    environ, origin = ps.host_environment({"PATH": "/bin"}, str(root / "etc" / "environment"))
    result = ps.effective({}, environ, origin, str(root / "home"), root=str(root))
    assert result["pip_environment"]["PIP_CERT"] == "/etc/ssl/corp/ca.pem"
    assert result["uv_environment"]["SSL_CERT_FILE"] == "/etc/ssl/corp/ca.pem"
    assert result["index"]["cert"] == "/etc/ssl/corp/ca.pem"  # what the probe trusts
    assert source(result, "cert") == f"{name} ({root}/etc/environment)"
    assert source(result, "cert", "uv_settings") == f"{name} ({root}/etc/environment)"


def test_pip_configuration_names_the_ca_before_the_environment_does(root: Path) -> None:
    (root / "etc" / "pip.conf").write_text("[global]\ncert = /etc/ssl/pip.pem\n")
    result = run(root, {"SSL_CERT_FILE": "/etc/ssl/openssl.pem"}, {})
    assert source(result, "cert") == f"{root}/etc/pip.conf [global]"
    assert result["index"]["cert"] == "/etc/ssl/pip.pem"
    # uv reads SSL_CERT_FILE from its own session: not repeated.
    assert "SSL_CERT_FILE" not in result["uv_environment"]


def test_uv_variables_only_etc_environment_sets_are_passed_to_uv(root: Path) -> None:
    (root / "etc" / "environment").write_text("UV_INDEX_URL=https://uv.corp.example/simple\n")
    (root / "etc" / "pip.conf").write_text("[global]\nindex-url = https://pip.corp.example/simple\n")
    environ, origin = ps.host_environment({}, str(root / "etc" / "environment"))
    result = ps.effective({}, environ, origin, str(root / "home"), root=str(root))
    assert result["uv_environment"]["UV_INDEX_URL"] == "https://uv.corp.example/simple"


@pytest.fixture()
def simple_index():  # type: ignore[no-untyped-def]
    """A PEP 503 index on loopback with one project, uv (0.13.9: a wheel and an sdist); it records the Authorization it got."""
    import http.server
    import threading

    seen: Dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen["authorization"] = self.headers.get("Authorization", "")
            if self.path != "/simple/uv/":
                self.send_error(404)
                return
            body = (b'<html><body><a href="../../f/uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl#sha256=00">'
                    b"uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl</a>\n<a href=\"x\">uv-0.13.8.tar.gz</a></body></html>")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "u:p%%40ss@127.0.0.1:%d" % server.server_port, seen
    server.shutdown()


@pytest.mark.parametrize(("project", "version", "found", "error"), [
    ("uv", "0.13.9", True, ""), ("UV", "0.13.8", True, ""),
    ("uv", "0.13.99", False, "/simple/uv/ lists no file of uv 0.13.99"),
    ("no-such", "1.0", False, "/simple/no-such/ has no page for no-such (HTTP 404)"),
])
def test_on_index_reads_the_projects_page(simple_index: Any, project: str, version: str, found: bool, error: str) -> None:
    address, seen = simple_index
    got = ps.on_index({"url": f"http://{address}/simple", "cert": ""}, {}, 5, project, version)
    assert got["found"] is found and got["error"].endswith(error), got
    assert "p%40ss" not in got["error"] and "p@ss" not in got["error"]
    import base64

    assert seen["authorization"] == "Basic " + base64.b64encode(b"u:p@ss").decode()


def test_on_index_concludes_nothing_when_the_index_does_not_answer() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert ps.on_index({"url": f"http://127.0.0.1:{port}/simple", "cert": ""}, {}, 2, "uv", "0.13.9")["found"] is None
