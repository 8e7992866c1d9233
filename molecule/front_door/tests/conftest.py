"""The fixtures of front_door's tests: which host a test runs on (testinfra runs each on every host)."""

from __future__ import annotations

from typing import Any

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
