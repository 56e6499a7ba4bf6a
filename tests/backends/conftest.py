"""Real services for the backend tests: Redis and PostgreSQL on this machine, and a private
PostgreSQL with pgvector started from the `pgserver` wheel.

An unreachable service skips its tests locally and fails them when CI=true.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

REDIS_URL = os.environ.get("SPINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get(
    "SPINE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


def _unavailable(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _reachable(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=2):
        pass


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        _unavailable(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A fresh key prefix; every key under it is removed after the test."""
    import redis.asyncio as aioredis

    prefix = f"spine-test:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    try:
        _reachable("127.0.0.1", 5432)
    except OSError as exc:
        _unavailable("PostgreSQL at 127.0.0.1:5432", exc)
    return POSTGRES_DSN


async def _schema(dsn: str) -> AsyncIterator[str]:
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(f"CREATE SCHEMA {schema}")
    finally:
        await con.close()
    yield schema
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await con.close()


@pytest.fixture(scope="session")
def pgvector_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private PostgreSQL with the pgvector extension, for the whole session."""
    data = Path(tmp_path_factory.mktemp("pgvector")) / "data"
    error: Exception | None = None
    for _ in range(3):  # pgserver waits 10 s for pg_ctl start; a busy machine may need longer
        try:
            import pgserver

            server: Any = pgserver.get_server(data, cleanup_mode="stop")
            server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
            error = None
            break
        except Exception as exc:
            error = exc
    if error is not None:
        _unavailable("a pgserver PostgreSQL with pgvector", error)
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
async def pgvector_schema(pgvector_dsn: str) -> AsyncIterator[str]:
    async for schema in _schema(pgvector_dsn):
        yield schema
