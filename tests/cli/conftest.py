"""Fixtures for the CLI tests: the real `spine` command in a subprocess, spec files in
tmp_path, and a small repository with known contents for the quickstart tools."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart" / "agent.yaml"

SpineRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def spine(tmp_path: Path) -> SpineRunner:
    """Run `python -m spine ARGS...` in tmp_path with an offline environment."""

    def run(
        *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
        environ.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "spine", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=environ,
            timeout=60,
        )

    return run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented file under tmp_path and return its path."""

    def put(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return put


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A repository with known contents: 4 Python lines (2 `def `), 2 Markdown lines."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text(
        "def main():\n    return helper()\n\n\ndef helper():\n    return 1\n"
    )
    (root / "README.md").write_text("# Sample\nA tiny repository.\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("def not_counted():\n")
    (root / "logo.png").write_bytes(b"\x89PNG\0\0binary")
    return root


def _has_sqlite() -> bool:
    from spine_core import available

    return any(info.name == "sqlite" for info in available("spine.checkpoints"))


needs_sqlite = pytest.mark.skipif(
    not _has_sqlite(),
    reason="cross-process sessions need spine-backends' `sqlite` checkpoint entry point",
)


REDIS_URL = os.environ.get("SPINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get(
    "SPINE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


def _unavailable(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def redis_store() -> Iterator[str]:
    """A spec `checkpoint:` block for the real Redis under a fresh key prefix (its keys are
    removed afterwards)."""
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        client.ping()
    except Exception as exc:
        _unavailable(f"Redis at {REDIS_URL}", exc)
    prefix = f"spine-cli-test:{uuid.uuid4().hex[:12]}"
    yield f"checkpoint:\n  redis: {{url: '{REDIS_URL}', prefix: '{prefix}'}}\n"
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def postgres_store() -> Iterator[str]:
    """A spec `checkpoint:` block for the real PostgreSQL in a fresh schema (dropped
    afterwards)."""
    import anyio

    schema = f"cli_{uuid.uuid4().hex[:12]}"

    async def drop() -> None:
        import asyncpg

        con = await asyncpg.connect(POSTGRES_DSN)
        try:
            await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await con.close()

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError as exc:
        _unavailable("PostgreSQL at 127.0.0.1:5432", exc)
    yield f"checkpoint:\n  postgres: {{dsn: '{POSTGRES_DSN}', schema: {schema}}}\n"
    anyio.run(drop)


STORES = ("sqlite", "redis", "postgres")


@pytest.fixture(params=STORES)
def store_block(request: pytest.FixtureRequest) -> str:
    """The `checkpoint:` block of a spec, once per real store."""
    if request.param == "sqlite":
        return "checkpoint:\n  sqlite: {path: state/sessions.db}\n"
    fixture = "redis_store" if request.param == "redis" else "postgres_store"
    return str(request.getfixturevalue(fixture))
