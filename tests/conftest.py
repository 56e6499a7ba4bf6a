"""Shared test configuration: anyio's pytest plugin runs async tests (asyncio by default)."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
