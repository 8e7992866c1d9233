"""A package index over HTTPS with a certificate of the test's own CA, in front of PyPI.

It stands for a company mirror or a TLS-intercepting proxy: a host trusts
it only if its pip configuration or its system trust store says so. Every
request goes through it, the files too (their links are rewritten to
/files/), and each is logged as a JSON line with the client's address, so a
test can tell which hosts used it.

    index_proxy.py --cert server.pem --key server.key --log requests.jsonl \
        [--port 8443] [--upstream https://pypi.org] [--files https://files.pythonhosted.org] [--cafile bundle]

Standard library only (it runs in a test container).
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

SIMPLE_TYPES = "application/vnd.pypi.simple.v1+html, text/html;q=0.9"


def rewrite(page: str, files_upstream: str, base: str) -> str:
    """PAGE (a simple-index page) with links to FILES_UPSTREAM pointing at BASE/files instead."""
    return page.replace(files_upstream.rstrip("/") + "/", base.rstrip("/") + "/files/")


class Handler(BaseHTTPRequestHandler):
    """GET /simple/... from the upstream index, GET /files/... from its file host, both relayed."""

    server: "IndexProxy"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        return

    def _record(self, status: int) -> None:
        line = json.dumps({"client": self.client_address[0], "path": self.path, "status": status, "time": time.time()})
        with self.server.log_lock, open(self.server.log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def _fail(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._record(status)

    def do_HEAD(self) -> None:  # pylint: disable=invalid-name
        self._relay(head=True)

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        self._relay(head=False)

    def _relay(self, head: bool) -> None:
        if self.path.startswith("/simple"):
            url, accept = self.server.upstream + self.path, SIMPLE_TYPES
        elif self.path.startswith("/files/"):
            url, accept = self.server.files + self.path[len("/files"):], "*/*"
        else:
            self._fail(404, "not here: /simple/ and /files/ only\n")
            return
        request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "fasterapi-deploy-test-index"},
                                         method="HEAD" if head else "GET")
        try:
            with urllib.request.urlopen(request, context=self.server.upstream_tls, timeout=60) as answer:
                if head:  # no ranges offered: a client reads whole files
                    self.send_response(200)
                    self.send_header("Content-Length", answer.headers.get("Content-Length", "0"))
                    self.end_headers()
                elif self.path.startswith("/simple"):
                    host = self.headers.get("Host", "localhost")
                    body = rewrite(answer.read().decode("utf-8"), self.server.files, "https://" + host).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Cache-Control", "max-age=0")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", answer.headers.get("Content-Type", "application/octet-stream"))
                    self.send_header("Content-Length", answer.headers.get("Content-Length", "0"))
                    self.end_headers()
                    shutil.copyfileobj(answer, self.wfile)
        except urllib.error.HTTPError as err:
            self._fail(err.code, "upstream said %s\n" % err.code)
            return
        except (urllib.error.URLError, OSError) as err:
            self._fail(502, "upstream unreachable: %s\n" % err)
            return
        self._record(200)


class IndexProxy(ThreadingHTTPServer):
    """The server, with what the handler needs."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that goes away mid-file (uv stops once it has a wheel's metadata) is no error of ours."""

    def __init__(self, port: int, upstream: str, files: str, log_path: str, cafile: Optional[str]) -> None:
        super().__init__(("", port), Handler)
        self.upstream = upstream.rstrip("/")
        self.files = files.rstrip("/")
        self.log_path = log_path
        self.log_lock = threading.Lock()
        self.upstream_tls = ssl.create_default_context(cafile=cafile)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--upstream", default="https://pypi.org")
    parser.add_argument("--files", default="https://files.pythonhosted.org")
    parser.add_argument("--cafile", default=None, help="CAs this proxy trusts upstream (default: the system's)")
    args = parser.parse_args(argv)
    server = IndexProxy(args.port, args.upstream, args.files, args.log, args.cafile)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
