"""Shared test configuration: anyio's pytest plugin runs async tests (asyncio by default), and
every test has a time limit, so a broken timeout guard fails the run instead of hanging it."""

from __future__ import annotations

import faulthandler
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

# Seconds one test may take (set, setup and teardown included) before the run is stopped with
# every thread's traceback; SPINE_TEST_TIMEOUT_S overrides it.
TEST_TIMEOUT_S = float(os.environ.get("SPINE_TEST_TIMEOUT_S", "300"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _time_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
async def postgres_schema(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh schema in the local PostgreSQL, dropped with its tables after the test (each
    test package that uses it defines `postgres_dsn`, which checks the server answers)."""
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    con = await asyncpg.connect(postgres_dsn)
    try:
        await con.execute(f"CREATE SCHEMA {schema}")
    finally:
        await con.close()
    yield schema
    con = await asyncpg.connect(postgres_dsn)
    try:
        await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await con.close()
