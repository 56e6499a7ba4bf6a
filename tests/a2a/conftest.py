"""Fixtures of the A2A tests (helpers are in `a2a_helpers.py`): an `httpx.AsyncClient` (a2a-sdk
needs the legacy httpx, not httpx2) and a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import socket
import uuid
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


@pytest.fixture
async def postgres_schema(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh schema in the local PostgreSQL, dropped after the test."""
    import asyncpg

    schema = f"a2a_{uuid.uuid4().hex[:12]}"
    con = await asyncpg.connect(postgres_dsn)
    try:
        await con.execute(f"CREATE SCHEMA {schema}")
    finally:
        await con.close()
    yield schema
    con = await asyncpg.connect(postgres_dsn)
    try:
        await con.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await con.close()
