"""Fixtures for spine-eval tests."""

from __future__ import annotations

import pytest
from evalkit import clock, weather

from spine_core import Agent, TestProvider


@pytest.fixture
def agent() -> Agent:
    """An offline agent (TestProvider): calls weather and clock, then summarises."""
    return Agent(TestProvider(), tools=[weather, clock], name="offline")
