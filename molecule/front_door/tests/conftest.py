"""The fixtures of front_door's tests: which host a test runs on (testinfra runs each on every host)."""

from __future__ import annotations

from typing import Any, Callable

import pytest


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    return host.backend.get_hostname()


@pytest.fixture(scope="module")
def client(host: Any, hostname: str) -> Any:
    """The load's host, which also asks nginx as any client would."""
    if hostname != "client":
        pytest.skip("asked from client")
    return host


@pytest.fixture(scope="module")
def front(host: Any, hostname: str) -> Any:
    """The front door."""
    if hostname != "front":
        pytest.skip("nginx runs on front")
    return host


# A reload closes idle keep-alive connections at once. A client that reuses
# one it has not checked (blind) loses its next request on it; one that checks
# first, and an HTTP/2 client, lose one only when they send at the very moment
# of the close (nginx 1.27.4's keepalive_min_timeout, which the nginx role sets
# where nginx has it, keeps them open instead). These are the kinds of failure
# those closes give.
CLOSED_KINDS = {"empty_reply", "reset", "truncated"}
CURL_CLOSED = ("curl: (16)", "curl: (52)", "curl: (55)", "curl: (56)")


def _closed(kind: str) -> bool:
    return kind in CLOSED_KINDS or (kind.startswith("curl_exit_") and any(code in kind for code in CURL_CLOSED))


def _reload_losses(phase: str, run: str, report: dict[str, Any], reloads: int) -> None:
    """A kept-alive client's REPORT in PHASE: at most one request lost per client and reload, each to a closed connection."""
    bound = reloads * report["clients"]
    print(phase, run, f"{report['failed_total']} of {report['sent']} failed {report['failed']} "
          f"(bound {bound}: {reloads} reload(s), {report['clients']} client(s))", report.get("failures", []))
    assert report["failed_total"] <= bound and all(_closed(kind) for kind in report["failed"]), (phase, run, report)


@pytest.fixture(scope="session")
def reload_losses() -> Callable[[str, str, dict[str, Any], int], None]:
    """Check a kept-alive client's report against the reloads of nginx in its phase."""
    return _reload_losses
