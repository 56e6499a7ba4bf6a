"""Test support for Spine users and plugin authors.

- The offline providers (`TestProvider`, `FunctionProvider`, `ScriptedProvider`).
- Conformance kits: subclass a contract class in your own test module and provide the fixture
  it asks for, and pytest runs the whole contract against your implementation:

      from spine_core.testing import CheckpointStoreContract

      class TestMyStore(CheckpointStoreContract):
          @pytest.fixture
          async def store(self):
              yield MyStore(...)

Importing the contracts imports pytest; importing `spine_core` does not.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..doubles import FunctionProvider, ScriptedCall, ScriptedProvider, TestProvider, sample_json

_CONTRACTS = {
    "CheckpointStoreContract": "checkpoint_contract",
    "KeyValueStoreContract": "kv_contract",
    "ProviderContract": "provider_contract",
}

__all__ = [
    "FunctionProvider",
    "ScriptedCall",
    "ScriptedProvider",
    "TestProvider",
    "sample_json",
    *_CONTRACTS,
]


def __getattr__(name: str) -> Any:
    module = _CONTRACTS.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
