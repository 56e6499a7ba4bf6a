"""The real services behind the spine_backends conformance tests: the Redis and PostgreSQL on
this machine, and a private PostgreSQL with pgvector from the `pgserver` wheel. Unreachable,
a test skips locally and fails under CI=true (as in tests/backends)."""

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


def unavailable(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A fresh key prefix ending in ":", like the reference's; its keys are removed after."""
    import redis.asyncio as aioredis

    prefix = f"spine-ref:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def postgres_dsn() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
    except OSError as exc:
        unavailable("PostgreSQL at 127.0.0.1:5432", exc)
    return POSTGRES_DSN


@pytest.fixture
async def postgres_table(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh table name in the local PostgreSQL; the table and its messages are dropped."""
    import asyncpg

    table = f"ref_{uuid.uuid4().hex[:12]}"
    yield table
    con = await asyncpg.connect(postgres_dsn)
    try:
        await con.execute(f"DROP TABLE IF EXISTS {table}, {table}_messages")
    finally:
        await con.close()


@pytest.fixture(scope="module")
def pgvector_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import pgserver

        server: Any = pgserver.get_server(
            Path(tmp_path_factory.mktemp("pgvector-ref")) / "data", cleanup_mode="stop"
        )
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    except Exception as exc:
        unavailable("a pgserver PostgreSQL with pgvector", exc)
    yield server.get_uri()
    server.cleanup()
