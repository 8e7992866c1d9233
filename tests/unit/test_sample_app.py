"""The sample app answers its paths and honours its lifespan contract."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from _load import ROOT, load_module

sample = load_module("tests/sample_app/main.py", "sample_main")


async def _call(scope: dict[str, Any], inbox: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await sample.app(scope, receive, send)
    return sent


def _get(path: str, query: bytes = b"") -> tuple[int, bytes]:
    sent = asyncio.run(_call({"type": "http", "path": path, "query_string": query}, []))
    return sent[0]["status"], sent[1]["body"]


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    sample._STATE.clear()


def test_health_needs_lifespan_startup() -> None:
    assert _get("/health")[0] == 503
    sent = asyncio.run(_call({"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_version_reports_pid_and_version() -> None:
    asyncio.run(_call({"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]))
    status, body = _get("/version")
    data = json.loads(body)
    assert status == 200 and data["pid"] == os.getpid() and data["version"] == sample.VERSION


def test_startup_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_APP_FAIL_STARTUP", "1")
    sent = asyncio.run(_call({"type": "lifespan"}, [{"type": "lifespan.startup"}]))
    assert sent[0]["type"] == "lifespan.startup.failed" and "on purpose" in sent[0]["message"]


def test_slow_and_not_found() -> None:
    assert _get("/slow", b"seconds=0.01") == (200, b"slept 0.01\n")
    assert _get("/slow", b"seconds=x")[0] == 400
    assert _get("/nope")[0] == 404


def test_version_comes_from_the_installed_wheel_without_a_version_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A package deploy installs main.py into site-packages, with no VERSION file beside it.
    (tmp_path / "main.py").write_text((ROOT / "tests" / "sample_app" / "main.py").read_text())
    dist = tmp_path / "fasterapi_sample_app-4.5.6.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fasterapi-sample-app\nVersion: 4.5.6\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = load_module(str(tmp_path / "main.py"), "sample_from_wheel")
    assert module.VERSION == "4.5.6"


def test_probes_only_with_the_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SAMPLE_APP_PROBES", raising=False)
    assert _get("/raise")[0] == 404 and _get("/write", b"dir=" + str(tmp_path).encode())[0] == 404
    monkeypatch.setenv("SAMPLE_APP_PROBES", "1")
    with pytest.raises(RuntimeError, match="on purpose"):
        _get("/raise")
    assert json.loads(_get("/write", b"dir=" + str(tmp_path).encode())[1]) == {"ok": True, "error": None}
    assert list(tmp_path.iterdir()) == []
    refused = json.loads(_get("/write", b"dir=/nonexistent-dir")[1])
    assert refused["ok"] is False and "Errno 2" in refused["error"]
    status, body = _get("/hang", b"seconds=0.01")
    assert (status, body) == (200, b"woke up\n")


def test_connect_probe_reports_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_APP_PROBES", "1")

    async def listen_then_probe() -> tuple[dict[str, Any], dict[str, Any]]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        ok = await _call({"type": "http", "path": "/connect", "query_string": f"host=127.0.0.1&port={port}".encode()}, [])
        server.close()
        await server.wait_closed()
        refused = await _call({"type": "http", "path": "/connect", "query_string": f"host=127.0.0.1&port={port}".encode()}, [])
        return json.loads(ok[1]["body"]), json.loads(refused[1]["body"])

    ok, refused = asyncio.run(listen_then_probe())
    assert ok == {"ok": True, "error": None}
    assert refused["ok"] is False and "ConnectionRefusedError" in refused["error"]


def test_resolve_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_APP_PROBES", "1")
    assert json.loads(_get("/resolve", b"name=localhost")[1]) == {"ok": True, "error": None}
    failed = json.loads(_get("/resolve", b"name=no-such-host.invalid")[1])
    assert failed["ok"] is False and "Errno" in failed["error"]


def test_leak_probe_keeps_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_APP_PROBES", "1")
    first = json.loads(_get("/leak", b"mib=2")[1])
    second = json.loads(_get("/leak", b"mib=3")[1])
    assert second["pid"] == os.getpid() and second["leaked_mib"] - first["leaked_mib"] == 3


def test_post_to_version_reads_the_body() -> None:
    inbox = [{"type": "http.request", "body": b"abc", "more_body": True}, {"type": "http.request", "body": b"de"}]
    sent = asyncio.run(_call({"type": "http", "path": "/version", "method": "POST", "query_string": b""}, inbox))
    assert sent[0]["status"] == 200 and json.loads(sent[1]["body"])["received"] == 5


def test_client_shows_address_scheme_and_host() -> None:
    scope = {"type": "http", "path": "/client", "scheme": "https", "client": ("203.0.113.7", 5555),
             "headers": [(b"host", b"app.example.org")], "http_version": "1.1", "query_string": b""}
    sent = asyncio.run(_call(scope, []))
    assert json.loads(sent[1]["body"]) == {"client": "203.0.113.7", "scheme": "https", "host": "app.example.org",
                                           "http_version": "1.1"}


def test_websocket_says_its_version_and_echoes() -> None:
    inbox = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "ping"},
             {"type": "websocket.disconnect", "code": 1000}]
    sent = asyncio.run(_call({"type": "websocket", "path": "/ws"}, inbox))
    assert sent[0] == {"type": "websocket.accept"}
    assert json.loads(sent[1]["text"])["version"] == sample.VERSION
    assert sent[2] == {"type": "websocket.send", "text": "ping"} and len(sent) == 3


def test_websocket_elsewhere_is_refused() -> None:
    sent = asyncio.run(_call({"type": "websocket", "path": "/other"}, [{"type": "websocket.connect"}]))
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_a_guarded_credential_fails_the_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    sample._refuse_a_guarded_credential()  # none there
    (tmp_path / "sample-app-guard").write_bytes(b"accept")
    sample._refuse_a_guarded_credential()
    (tmp_path / "sample-app-guard").write_bytes(b"refuse this one")
    with pytest.raises(RuntimeError, match="sample-app-guard was refused on purpose"):
        sample._refuse_a_guarded_credential()


def test_a_faulty_release_fails_every_nth_request_and_spares_health(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "FAULT", {"error_every": 5})
    monkeypatch.setattr(sample, "_FAULT_SEEN", itertools.count(1))
    statuses = [_get("/version")[0] for _number in range(20)]
    assert statuses.count(500) == 4 and statuses.count(200) == 16
    # The health path is spared and not counted: the 25th request is the next to fail.
    assert all(_get("/health")[0] != 500 for _number in range(10))
    assert [_get("/version")[0] for _number in range(5)] == [200, 200, 200, 200, 500]


def test_a_slow_release_answers_late(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "FAULT", {"delay": 0.05})
    asyncio.run(_call({"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]))
    started = time.monotonic()
    assert _get("/")[0] == 200 and time.monotonic() - started >= 0.05
