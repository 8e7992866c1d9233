"""A small ASGI app for demos and tests of fasterapi.deploy. Dependency-free.

Paths:
  /health   200 "ok" once this worker's lifespan startup has run
  /version  JSON: app version (file VERSION), worker pid and parent pid, and
            the directory, venv and file it runs from
  /slow     sleeps ?seconds=N (default 1, at most 60), then answers
  /metrics  with prometheus_client installed and PROMETHEUS_MULTIPROC_DIR set:
            sample_app_requests_total{worker}, summed over every worker
            (prometheus_client's multiprocess mode), in the text format
  /         a greeting

With SAMPLE_APP_PROBES=1 (tests only), probes of what the sandbox allows
(/raise, /hang, /connect, /write, /resolve, /leak) and of what the app was
given: /env?name=NAME (the variable's value) and /credential?name=NAME (the
file $CREDENTIALS_DIRECTORY/NAME, base64).

The lifespan handler opens per-worker state after the fork (the safe place
with preload_app = True). SAMPLE_APP_FAIL_STARTUP=1 in the environment, or a
file FAIL_STARTUP next to this one, makes startup fail, to exercise failed
deploys. A file FAULT next to this one (JSON) makes a faulty release for
canary tests: {"error_every": 50} answers every 50th request of each worker process
with 500 (2 %), {"delay": 0.2} answers each request 0.2 s late; /health is
spared (the release starts and passes its health check). A credential sample-app-guard that starts with "refuse" makes the
import fail, to exercise a full restart that would fail.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.metadata
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _version() -> str:
    """The VERSION file next to this module, else the installed wheel's version (package deploys)."""
    path = Path(__file__).with_name("VERSION")
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    try:
        return importlib.metadata.version("fasterapi-sample-app")
    except importlib.metadata.PackageNotFoundError:
        return "0"


VERSION = _version()


def _fault() -> dict[str, float]:
    """The faults of this release (the file FAULT next to this module), none without it."""
    path = Path(__file__).with_name("FAULT")
    if not path.exists():
        return {}
    return {key: float(value) for key, value in json.loads(path.read_text(encoding="utf-8")).items()}


FAULT = _fault()
# Requests this process answered, for FAULT's error_every.
_FAULT_SEEN = itertools.count(1)


def _refuse_a_guarded_credential() -> None:
    """Fail the import when the credential sample-app-guard starts with "refuse" (tests of a failed full restart)."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    guard = Path(directory) / "sample-app-guard" if directory else None
    if guard is not None and guard.is_file() and guard.read_bytes().startswith(b"refuse"):
        raise RuntimeError("sample app: the credential sample-app-guard was refused on purpose")


_refuse_a_guarded_credential()
IMPORTED_IN_PID = os.getpid()

try:  # Optional: the metrics of the multiprocess mode (gunicorn_prometheus_multiproc).
    import prometheus_client
    from prometheus_client import multiprocess

    REQUESTS: Any = prometheus_client.Counter("sample_app_requests", "HTTP requests answered", ["worker"])
except ImportError:
    prometheus_client = None  # pylint: disable=invalid-name
    REQUESTS = None


class WorkerState:
    """Per-worker resources, opened in the worker after fork (e.g. a DB pool)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.started = time.time()
        self.requests = 0


async def _respond(send: Send, status: int, body: bytes, content_type: bytes = b"text/plain") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, state: dict[str, Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if os.environ.get("SAMPLE_APP_FAIL_STARTUP") == "1" or Path(__file__).with_name("FAIL_STARTUP").exists():
                await send({"type": "lifespan.startup.failed",
                            "message": f"sample app {VERSION}: startup failed on purpose (SAMPLE_APP_FAIL_STARTUP)"})
                return
            state["worker"] = WorkerState()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            state.pop("worker", None)
            await send({"type": "lifespan.shutdown.complete"})
            return


_STATE: dict[str, Any] = {}


async def _raise(send: Send, query: dict[str, str]) -> None:
    raise RuntimeError("sample app: /raise raises on purpose")


async def _hang(send: Send, query: dict[str, str]) -> None:
    time.sleep(min(float(query.get("seconds", "60")), 600.0))  # blocks the event loop on purpose
    await _respond(send, 200, b"woke up\n")


def _outcome(error: OSError | None) -> bytes:
    return json.dumps({"ok": error is None, "error": None if error is None else
                       f"{type(error).__name__}: [Errno {error.errno}] {error.strerror}"}).encode()


async def _connect(send: Send, query: dict[str, str]) -> None:
    error: OSError | None = None
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(query["host"], int(query["port"])), 3.0)
        writer.close()
    except asyncio.TimeoutError:
        error = TimeoutError(110, "timed out")
    except OSError as err:
        error = err
    await _respond(send, 200, _outcome(error), b"application/json")


async def _write(send: Send, query: dict[str, str]) -> None:
    error: OSError | None = None
    target = Path(query["dir"]) / f".sample-app-write-{os.getpid()}"
    try:
        target.write_text("x", encoding="ascii")
        target.unlink()
    except OSError as err:
        error = err
    await _respond(send, 200, _outcome(error), b"application/json")


async def _resolve(send: Send, query: dict[str, str]) -> None:
    error: OSError | None = None
    try:
        await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(query["name"], 80), 3.0)
    except asyncio.TimeoutError:
        error = TimeoutError(110, "timed out")
    except OSError as err:
        error = err
    await _respond(send, 200, _outcome(error), b"application/json")


_LEAKED: list[bytes] = []


async def _leak(send: Send, query: dict[str, str]) -> None:
    """Keep MiB more memory for good, as a leaking app would; answer with this worker's pid and the total kept."""
    mib = min(max(int(query.get("mib", "10")), 0), 1024)
    _LEAKED.append(b"x" * (mib * 1048576))  # filled, so resident at once
    body = json.dumps({"pid": os.getpid(), "leaked_mib": sum(len(chunk) for chunk in _LEAKED) // 1048576}).encode()
    await _respond(send, 200, body, b"application/json")


async def _env(send: Send, query: dict[str, str]) -> None:
    name = query.get("name", "")
    value = os.environ.get(name)
    body = {"name": name, "present": value is not None, "value": value,
            "sha256": hashlib.sha256(value.encode()).hexdigest() if value is not None else None}
    await _respond(send, 200, json.dumps(body).encode(), b"application/json")


async def _credential(send: Send, query: dict[str, str]) -> None:
    name = query.get("name", "")
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    body: dict[str, Any] = {"name": name, "directory": directory}
    try:
        if not directory or "/" in name or name in ("", ".", ".."):
            raise FileNotFoundError(name)
        data = Path(directory, name).read_bytes()
        body.update(present=True, base64=base64.b64encode(data).decode(), sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data))
    except OSError as error:
        body.update(present=False, error=f"{type(error).__name__}: {error}")
    await _respond(send, 200, json.dumps(body).encode(), b"application/json")


_PROBES: dict[str, Callable[[Send, dict[str, str]], Awaitable[None]]] = {
    "/raise": _raise, "/hang": _hang, "/connect": _connect, "/write": _write,
    "/resolve": _resolve, "/leak": _leak, "/env": _env, "/credential": _credential}


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """/ws: says which version and process answered, then echoes each text message until either side closes."""
    message = await receive()
    if message["type"] != "websocket.connect" or scope["path"] != "/ws":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps({"version": VERSION, "pid": os.getpid()})})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI callable (main:app)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, _STATE)
        return
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    worker: WorkerState | None = _STATE.get("worker")
    if worker is not None:
        worker.requests += 1
    path = scope["path"]
    if FAULT and path != "/health":
        if FAULT.get("delay"):
            await asyncio.sleep(FAULT["delay"])
        every = int(FAULT.get("error_every", 0))
        if every and next(_FAULT_SEEN) % every == 0:
            await _respond(send, 500, b"injected fault\n")
            return
    if REQUESTS is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        REQUESTS.labels(worker=str(os.getpid())).inc()
    if path == "/health":
        if worker is None:
            await _respond(send, 503, b"lifespan startup has not run\n")
        else:
            await _respond(send, 200, b"ok\n")
    elif path == "/client":
        # What a proxy in front passed on, as the app sees it (X-Forwarded-* applied by uvicorn when trusted).
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        body = json.dumps({"client": (scope.get("client") or ["", 0])[0], "scheme": scope["scheme"],
                           "host": headers.get("host", ""), "http_version": scope.get("http_version", "")}).encode()
        await _respond(send, 200, body, b"application/json")
    elif path == "/version":
        received = await _read_body(receive) if scope.get("method") == "POST" else b""
        body = json.dumps({"received": len(received), "version": VERSION, "pid": os.getpid(), "ppid": os.getppid(),
                           "imported_in_pid": IMPORTED_IN_PID,
                           "lifespan": worker is not None,
                           # Where this process really runs from (symlinks resolved).
                           "cwd": os.getcwd(), "prefix": os.path.realpath(sys.prefix),
                           "module": os.path.realpath(__file__)}).encode()
        await _respond(send, 200, body, b"application/json")
    elif path == "/metrics" and prometheus_client is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        await _respond(send, 200, prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST.encode())
    elif path == "/slow":
        query = parse_qs(scope.get("query_string", b"").decode())
        try:
            seconds = min(max(float(query.get("seconds", ["1"])[0]), 0.0), 60.0)
        except ValueError:
            await _respond(send, 400, b"seconds must be a number\n")
            return
        await asyncio.sleep(seconds)
        await _respond(send, 200, f"slept {seconds}\n".encode())
    elif os.environ.get("SAMPLE_APP_PROBES") == "1" and path in _PROBES:
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        await _PROBES[path](send, query)
    elif path == "/":
        await _respond(send, 200, f"Hello from the fasterapi sample app {VERSION}\n".encode())
    else:
        await _respond(send, 404, b"not found\n")
