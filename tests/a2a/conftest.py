"""Fixtures of the A2A tests (helpers are in `a2a_helpers.py`): an `httpx.AsyncClient` (a2a-sdk
needs the legacy httpx, not httpx2) and a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from a2a_helpers import TLS

os.environ.setdefault("OTEL_INSTRUMENTATION_A2A_SDK_ENABLED", "false")

POSTGRES_DSN = os.environ.get(
    "SPINE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, verify=TLS) as client:
        yield client


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
