from __future__ import annotations

import uuid
from typing import Any

import pytest

from spine_core import (
    Agent,
    Guards,
    MemoryHit,
    MemoryRecord,
    Message,
    ScriptedProvider,
    StopReason,
    ToolCall,
    register_memory,
    tool,
)
from spine_middleware import MemoryRecall

pytestmark = pytest.mark.anyio


class WordMemory:
    """A small real `Memory` (the reference protocol): records scored by the share of the
    query's words they contain."""

    def __init__(self) -> None:
        self.records: list[MemoryRecord] = []
        self.searches: list[tuple[str, int, str | None]] = []

    async def save(
        self, content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        record = MemoryRecord(
            id=uuid.uuid4().hex, content=content, session_id=session_id, metadata=metadata or {}
        )
        self.records.append(record)
        return record

    async def search(
        self, query: str, *, k: int = 5, session_id: str | None = None
    ) -> list[MemoryHit]:
        self.searches.append((query, k, session_id))
        words = set(query.lower().split())
        hits = []
        for record in self.records:
            if session_id is not None and record.session_id != session_id:
                continue
            score = len(words & set(record.content.lower().split())) / max(len(words), 1)
            if score > 0:
                hits.append(MemoryHit(record=record, score=score))
        return sorted(hits, key=lambda h: -h.score)[:k]

    async def load(self, session_id: str, *, limit: int = 20) -> list[MemoryRecord]:
        return [r for r in self.records if r.session_id == session_id][-limit:]


@tool
def lookup() -> str:
    """Look something up."""
    return "nothing"


def system_sent(provider: ScriptedProvider, call: int = 0) -> str:
    first = provider.calls[call].messages[0]
    assert first.role == "system"
    return first.text


async def test_recalls_into_the_prompt_without_touching_the_history() -> None:
    memory = WordMemory()
    await memory.save("the user's dog is called Rex")
    provider = ScriptedProvider(["Rex!"])
    agent = Agent(provider, system="Be brief.", middleware=[MemoryRecall(memory)])
    result = await agent.run("what is my dog called")
    assert (
        system_sent(provider) == "Be brief.\n\nRelevant memories:\n- the user's dog is called Rex"
    )
    assert [m.text for m in result.state.messages] == [
        "Be brief.",
        "what is my dog called",
        "Rex!",
    ]
    assert memory.searches == [("what is my dog called", 3, None)]


async def test_saves_the_exchange_with_the_session_after_a_final_answer() -> None:
    memory = WordMemory()
    agent = Agent(ScriptedProvider(["Rex!"]), middleware=[MemoryRecall(memory)])
    result = await agent.run("what is my dog called", session_id="s1")
    [saved] = memory.records
    assert saved.content == "Q: what is my dog called\nA: Rex!"
    assert saved.session_id == "s1" == result.session_id
    assert await memory.load("s1") == [saved]


async def test_the_recall_lasts_the_run_and_every_run_recalls_again() -> None:
    memory = WordMemory()
    await memory.save("dog is called Rex")
    step = Message.assistant(tool_calls=[ToolCall(id="1", name="lookup")])
    provider = ScriptedProvider([step, "Rex", "still Rex"])
    agent = Agent(provider, tools=[lookup], middleware=[MemoryRecall(memory, store_results=False)])
    await agent.run("what is my dog called", session_id="s")
    await agent.run("and the dog again?", session_id="s")
    assert len(memory.searches) == 2  # once per run, not once per model call or per session
    assert all("- dog is called Rex" in system_sent(provider, i) for i in range(3))


async def test_scope_session_k_and_min_score() -> None:
    memory = WordMemory()
    await memory.save("dog is called Rex", session_id="other")
    await memory.save("my dog likes the park", session_id="mine")
    provider = ScriptedProvider(["?"])
    recall = MemoryRecall(memory, k=1, scope_session=True, store_results=False)
    await Agent(provider, middleware=[recall]).run("what is my dog called", session_id="mine")
    assert memory.searches == [("what is my dog called", 1, "mine")]
    assert system_sent(provider) == "Relevant memories:\n- my dog likes the park"

    provider = ScriptedProvider(["?"])
    picky = MemoryRecall(memory, min_score=0.9, store_results=False)
    await Agent(provider, middleware=[picky]).run("what is my dog called")
    assert all(m.role != "system" for m in provider.calls[0].messages)


async def test_nothing_is_saved_when_the_run_does_not_end_with_an_answer() -> None:
    memory = WordMemory()
    step = Message.assistant(tool_calls=[ToolCall(id="1", name="lookup")])
    agent = Agent(
        ScriptedProvider([step, step]),
        tools=[lookup],
        guards=Guards(max_steps=1),
        middleware=[MemoryRecall(memory)],
    )
    result = await agent.run("loop")
    assert result.stopped_reason is StopReason.MAX_STEPS
    assert memory.records == []

    agent = Agent(
        ScriptedProvider(["fine"]), middleware=[MemoryRecall(memory, store_results=False)]
    )
    await agent.run("hello")
    assert memory.records == []


async def test_the_saved_question_is_the_users_not_an_output_repair_request() -> None:
    memory = WordMemory()
    agent = Agent(
        ScriptedProvider(["forty-two", "42"]), output_type=int, middleware=[MemoryRecall(memory)]
    )
    result = await agent.run("what is six times seven")
    assert result.output == 42
    assert [r.content for r in memory.records] == ["Q: what is six times seven\nA: 42"]


async def test_a_memory_given_by_registered_name_is_built_on_first_use() -> None:
    built: list[WordMemory] = []

    def factory(**params: Any) -> WordMemory:
        assert params == {"flavour": "plain"}
        built.append(WordMemory())
        return built[-1]

    register_memory("test_word_memory", factory)
    recall = MemoryRecall("test_word_memory", memory_params={"flavour": "plain"})
    assert built == []
    await Agent(ScriptedProvider(["hi"]), middleware=[recall]).run("hello")
    assert len(built) == 1 and [r.content for r in built[0].records] == ["Q: hello\nA: hi"]
