"""The in-memory key-value store passes the conformance kit it ships with."""

import pytest

from spine_core import InMemoryKeyValueStore
from spine_core.testing import KeyValueStoreContract


class TestInMemoryKeyValueStore(KeyValueStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryKeyValueStore:
        self.now = 1000.0
        return InMemoryKeyValueStore(clock=lambda: self.now)

    async def advance_time(self, store: InMemoryKeyValueStore, seconds: float) -> None:
        self.now += seconds
