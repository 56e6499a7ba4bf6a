from __future__ import annotations

import pytest

from spine_core import Agent, MemoryRecord, ScriptedProvider
from spine_middleware import MemoryRecall

from .helpers import WordMemory

pytestmark = pytest.mark.anyio


async def test_recalls_before_the_first_call_and_saves_after_the_answer() -> None:
    memory = WordMemory()
    await memory.add([MemoryRecord(id="1", text="the user's dog is called Rex", namespace="acme")])
    provider = ScriptedProvider(["Rex!"])
    agent = Agent(
        provider, system="Be brief.", tenant_id="acme", middleware=[MemoryRecall(memory=memory)]
    )
    result = await agent.run("what is my dog called")
    sent_system = provider.calls[0].messages[0]
    assert sent_system.content.startswith("Be brief.")
    assert "the user's dog is called Rex" in sent_system.content
    assert result.state.messages[0].content == "what is my dog called"
    saved = [r for r in memory.records.values() if r.id != "1"]
    assert len(saved) == 1
    assert saved[0].text == "User: what is my dog called\nAssistant: Rex!"
    assert saved[0].namespace == "acme"


async def test_other_namespaces_are_not_recalled() -> None:
    memory = WordMemory()
    await memory.add([MemoryRecord(id="1", text="dog is called Rex", namespace="other")])
    provider = ScriptedProvider(["?"])
    agent = Agent(provider, middleware=[MemoryRecall(memory=memory, save=False)])
    await agent.run("what is my dog called")
    assert all("Rex" not in m.content for m in provider.calls[0].messages)
    assert list(memory.records) == ["1"]
