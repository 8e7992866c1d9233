"""What the real_hosts tests share: the app hosts, and a hostname that skips the others."""

from __future__ import annotations

from typing import Any

import pytest

# The hosts the role deploys to (molecule.yml); index and git serve them.
APP_HOSTS = ("airgap", "pipconf", "sysca", "userconf")


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    name = host.backend.get_hostname()
    if name not in APP_HOSTS:
        pytest.skip("the index and git hosts deploy nothing")
    return name
