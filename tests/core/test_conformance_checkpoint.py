"""The in-memory checkpoint store passes the conformance kit it ships with."""

import pytest

from spine_core import InMemoryCheckpointStore
from spine_core.testing import CheckpointStoreContract


class TestInMemoryCheckpointStore(CheckpointStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryCheckpointStore:
        return InMemoryCheckpointStore()
