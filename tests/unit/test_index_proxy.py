"""The test index (tests/tools/index_proxy.py) with a CA from tests/tools/make_pki.py, against a local upstream."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from _load import load_module

proxy = load_module("tests/tools/index_proxy.py", "index_proxy")
pki = load_module("tests/tools/make_pki.py", "make_pki")


class Upstream(BaseHTTPRequestHandler):
    """A tiny PyPI: one simple page linking to its file host (this same server), one file."""

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        return

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        if self.path == "/simple/demo/":
            body = b'<a href="http://127.0.0.1:%d/packages/demo-1.0-py3-none-any.whl#sha256=00">demo</a>' % self.server.server_port
        elif self.path == "/packages/demo-1.0-py3-none-any.whl":
            body = b"wheel bytes"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    where = tmp_path_factory.mktemp("pki")
    pki.make(str(where), ["localhost"])
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    base = "http://127.0.0.1:%d" % upstream.server_port
    server = proxy.IndexProxy(0, base, base, str(where / "log.jsonl"), None)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(where / "localhost.pem"), str(where / "localhost.key"))
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    for each in (upstream, server):
        threading.Thread(target=each.serve_forever, daemon=True).start()
    yield "https://localhost:%d" % server.server_address[1], where / "ca.pem", where / "log.jsonl"
    for each in (upstream, server):
        each.shutdown()


def test_pages_and_files_come_through_the_index_with_its_own_ca(served: tuple[str, Path, Path]) -> None:
    url, ca, log = served
    trust = ssl.create_default_context(cafile=str(ca))
    page = urllib.request.urlopen(url + "/simple/demo/", context=trust, timeout=10).read().decode()
    assert f'href="{url}/files/packages/demo-1.0-py3-none-any.whl#sha256=00"' in page
    assert urllib.request.urlopen(url + "/files/packages/demo-1.0-py3-none-any.whl", context=trust, timeout=10).read() == b"wheel bytes"
    head = urllib.request.Request(url + "/files/packages/demo-1.0-py3-none-any.whl", method="HEAD")
    assert urllib.request.urlopen(head, context=trust, timeout=10).headers["Content-Length"] == "11"
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(entry["path"].split("/")[1], entry["status"], entry["client"]) for entry in logged][:2] == [
        ("simple", 200, "127.0.0.1"), ("files", 200, "127.0.0.1")]


def test_a_client_without_the_ca_is_refused(served: tuple[str, Path, Path]) -> None:
    url, _ca, _log = served
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(url + "/simple/demo/", context=ssl.create_default_context(), timeout=10)


def test_what_upstream_lacks_is_a_404(served: tuple[str, Path, Path]) -> None:
    url, ca, _log = served
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(url + "/simple/missing/", context=ssl.create_default_context(cafile=str(ca)), timeout=10)
