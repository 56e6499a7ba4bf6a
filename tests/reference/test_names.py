"""Every name the reference documents under `spine_core` exists at `spine_core.<name>`, and at
the module its source listing names ("Source code in packages/spine-core/src/spine_core/...")."""

from __future__ import annotations

import importlib

import pytest

import spine_core

DOCUMENTED = [
    "Agent",
    "Result",
    "StopReason",
    "Guards",
    "Message",
    "ModelResponse",
    "Usage",
    "ToolCall",
    "tool",
    "raw_tool",
    "Tool",
    "Middleware",
    "StepContext",
    "ToolContext",
    "ErrorAction",
    "StopRun",
    "Provider",
    "StreamingProvider",
    "StreamChunk",
    "State",
    "Memory",
    "Embedder",
    "register_provider",
    "register_middleware",
    "register_checkpoint",
    "register_memory",
]

# Names the reference's own source uses from spine_core besides the documented ones.
USED_BY_THE_REFERENCE = ["Role", "RunStatus", "ResumeError", "MemoryRecord", "MemoryHit"]

# (module, name) as the reference's "Source code in ..." lines place them.
SOURCE_MODULES = [
    ("spine_core.agent", "Agent"),
    ("spine_core.result", "Result"),
    ("spine_core.result", "StopReason"),
    ("spine_core.guards", "Guards"),
    ("spine_core.messages", "Message"),
    ("spine_core.messages", "ModelResponse"),
    ("spine_core.messages", "Usage"),
    ("spine_core.messages", "ToolCall"),
    ("spine_core.tools", "tool"),
    ("spine_core.tools", "raw_tool"),
    ("spine_core.tools", "Tool"),
    ("spine_core.middleware", "Middleware"),
    ("spine_core.middleware", "StepContext"),
    ("spine_core.middleware", "ToolContext"),
    ("spine_core.middleware", "ErrorAction"),
    ("spine_core.state", "State"),
    ("spine_core.memory", "Memory"),
    ("spine_core.memory", "Embedder"),
    ("spine_core.registry", "register_middleware"),
    ("spine_core.registry", "register_checkpoint"),
    ("spine_core.registry", "register_memory"),
    ("spine_core.errors", "ResumeError"),
]

# The reference places these in `spine_core.provider` and `spine_core.control`; its own provider
# code imports `from spine_core.provider import StreamChunk`.
MORE_SOURCE_MODULES = [
    ("spine_core.provider", "Provider"),
    ("spine_core.provider", "StreamingProvider"),
    ("spine_core.provider", "StreamChunk"),
    ("spine_core.provider", "register_provider"),
    ("spine_core.control", "StopRun"),
]


@pytest.mark.parametrize("name", DOCUMENTED + USED_BY_THE_REFERENCE)
def test_documented_name_is_exported_from_spine_core(name: str) -> None:
    assert hasattr(spine_core, name)
    assert name in spine_core.__all__


@pytest.mark.parametrize(("module", "name"), SOURCE_MODULES)
def test_name_lives_at_the_reference_source_module(module: str, name: str) -> None:
    found = getattr(importlib.import_module(module), name)
    assert found is getattr(spine_core, name)


@pytest.mark.parametrize(("module", "name"), MORE_SOURCE_MODULES)
def test_name_lives_at_the_provider_and_control_modules(module: str, name: str) -> None:
    found = getattr(importlib.import_module(module), name)
    assert found is getattr(spine_core, name)
