"""Real services for the durability tests: the local PostgreSQL (a fresh schema per test).

An unreachable service skips its tests locally and fails them when CI=true.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_DSN = os.environ.get(
    "SPINE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
    except OSError as exc:
        message = f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return POSTGRES_DSN
