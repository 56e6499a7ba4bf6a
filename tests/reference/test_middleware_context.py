"""spine_middleware's cost, context and behaviour middleware called exactly as the Spine API
reference shows: CostTracking, Cache, Compaction, StructuredOutput, ToolOutputTruncation,
TenantBudget, MemoryRecall, Recorder and Replayer, with the reference's bugs fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from spine_core import (
    Agent,
    MemoryHit,
    MemoryRecord,
    Message,
    ModelResponse,
    Role,
    StopReason,
    Usage,
    tool,
)
from spine_middleware import (
    Cache,
    Compaction,
    CostTracking,
    MemoryRecall,
    Recorder,
    Replayer,
    StructuredOutput,
    TenantBudget,
    ToolOutputTruncation,
)

from .refkit import EMPTY, KW, POS, RefProvider, ask, costly, documented, respond, tool_results

pytestmark = pytest.mark.anyio


@tool
async def weather(city: str) -> str:
    """The weather.

    Args:
        city: City.
    """
    return f"sunny in {city}"


@tool
async def dump() -> str:
    """A huge output."""
    return "x" * 50


def tokens(input_tokens: int, output_tokens: int, text: str = "ok") -> ModelResponse:
    return ModelResponse(
        message=Message.assistant(text),
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
    )


# -- CostTracking ----------------------------------------------------------------------------


def test_cost_tracking_signature() -> None:
    assert documented(
        CostTracking,
        ("input_per_mtok", POS, None),
        ("output_per_mtok", POS, None),
        ("overwrite", KW, False),
    )


async def test_cost_tracking_prices_tokens_per_million() -> None:
    provider = RefProvider([tokens(1_000_000, 500_000)])
    result = await Agent(provider, middleware=[CostTracking(3.0, 15.0)]).run("hi")
    assert result.usage.cost_usd == pytest.approx(3.0 + 7.5)


async def test_cost_tracking_fills_only_a_zero_cost_unless_overwrite() -> None:
    reported = costly("ok", 0.5, tokens=1_000_000)
    kept = await Agent(RefProvider([reported]), middleware=[CostTracking(1.0, 1.0)]).run("hi")
    assert kept.usage.cost_usd == pytest.approx(0.5)
    again = costly("ok", 0.5, tokens=1_000_000)
    redone = await Agent(
        RefProvider([again]), middleware=[CostTracking(1.0, 1.0, overwrite=True)]
    ).run("hi")
    assert redone.usage.cost_usd == pytest.approx(2.0)


# -- Cache -----------------------------------------------------------------------------------


def test_cache_signature() -> None:
    assert documented(
        Cache,
        ("ttl_s", KW, None),
        ("max_size", KW, 1024),
        ("zero_cost_on_hit", KW, True),
        ("store", KW, None),
    )


async def test_cache_hit_skips_the_provider_counts_and_is_free() -> None:
    cache = Cache()
    provider = RefProvider([costly("cached", 0.25, tokens=10)])
    agent = Agent(provider, middleware=[cache])
    first = await agent.run("same")
    second = await agent.run("same", session_id=None)
    assert (first.answer, second.answer) == ("cached", "cached")
    assert len(provider.calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert second.usage.cost_usd == 0.0


async def test_cache_hit_keeps_the_cost_when_zero_cost_on_hit_is_off() -> None:
    cache = Cache(zero_cost_on_hit=False)
    agent = Agent(RefProvider([costly("cached", 0.25, tokens=10)]), middleware=[cache])
    await agent.run("same")
    assert (await agent.run("same")).usage.cost_usd == pytest.approx(0.25)


async def test_cache_key_includes_the_provider_and_model() -> None:
    """Bug fix: the reference keyed on messages and tool names only, so two models shared an
    answer."""
    store: dict[str, Any] = {}
    cheap, strong = RefProvider(["cheap answer"]), RefProvider(["strong answer"])
    cheap.name, cheap.model = "test", "small"  # type: ignore[attr-defined]
    strong.name, strong.model = "test", "large"  # type: ignore[attr-defined]
    a = await Agent(cheap, middleware=[Cache(store=store)]).run("question")
    b = await Agent(strong, middleware=[Cache(store=store)]).run("question")
    assert (a.answer, b.answer) == ("cheap answer", "strong answer")
    assert len(store) == 2


# -- Compaction ------------------------------------------------------------------------------


def test_compaction_signature() -> None:
    assert documented(Compaction, ("max_messages", POS, 40), ("keep_last", POS, 20))
    with pytest.raises(ValueError):
        Compaction(max_messages=4, keep_last=4)


async def test_compaction_sends_system_note_and_the_last_turns_only() -> None:
    provider = RefProvider(["ok"])
    history = [
        Message.user(f"m{i}") if i % 2 == 0 else Message.assistant(f"a{i}") for i in range(9)
    ]
    agent = Agent(provider, system="be brief", middleware=[Compaction(max_messages=6, keep_last=3)])
    result = await agent.run("latest", message_history=history)
    sent = provider.prompts[0]
    assert sent[0].content == "be brief" and sent[1].role is Role.SYSTEM
    assert "compacted" in (sent[1].content or "")
    assert [m.content for m in sent[2:]] == ["a7", "m8", "latest"]
    assert len(result.state.messages) == 12  # system + 9 + input + answer: nothing dropped


# -- StructuredOutput ------------------------------------------------------------------------


class Weather(BaseModel):
    city: str
    temp_c: float


def test_structured_output_signature() -> None:
    assert documented(
        StructuredOutput,
        ("schema", POS, None),
        ("max_repairs", KW, 2),
        ("key", KW, "structured_output"),
    )


async def test_structured_output_repairs_then_stashes_the_value() -> None:
    provider = RefProvider(["it is warm", '{"city": "Oslo", "temp_c": 21.5}'])
    agent = Agent(provider, middleware=[StructuredOutput(Weather, key="weather")])
    result = await agent.run("weather?")
    assert result.state.scratch["weather"] == {"city": "Oslo", "temp_c": 21.5}
    assert "Weather" in (provider.prompts[1][-1].content or "")


async def test_structured_output_fails_loudly_when_repairs_run_out() -> None:
    provider = RefProvider(["nope", "still no"])
    agent = Agent(provider, middleware=[StructuredOutput(Weather, max_repairs=1)])
    result = await agent.run("weather?")
    assert result.stopped_reason is StopReason.ERROR


# -- ToolOutputTruncation --------------------------------------------------------------------


async def test_tool_output_truncation_caps_results() -> None:
    assert documented(ToolOutputTruncation, ("max_chars", POS, 4000))
    provider = RefProvider([ask("dump"), "done"])
    agent = Agent(provider, tools=[dump], middleware=[ToolOutputTruncation(10)])
    result = await agent.run("go")
    assert tool_results(result.state.messages) == [("dump", "xxxxxxxxxx…[truncated 40 chars]")]
    with pytest.raises(ValueError):
        ToolOutputTruncation(0)


# -- TenantBudget ----------------------------------------------------------------------------


def test_tenant_budget_signature() -> None:
    assert documented(
        TenantBudget,
        ("max_cost_usd", KW, None),
        ("max_tokens", KW, None),
        ("store", KW, None),
        ("message", KW, "tenant budget exceeded"),
    )


async def test_tenant_budget_stops_a_tenant_over_its_ceiling_and_reports_spend() -> None:
    budget = TenantBudget(max_cost_usd=0.5, message="acme is out of budget")
    provider = RefProvider([costly("one", 0.4), costly("two", 0.4), costly("three", 0.4)])
    agent = Agent(provider, middleware=[budget], tenant_id="acme")
    await agent.run("1")
    await agent.run("2")
    blocked = await agent.run("3")
    assert blocked.stopped_reason is StopReason.MAX_COST
    assert (blocked.answer or "").startswith("acme is out of budget")
    spend = budget.spend("acme")
    assert spend["cost"] == pytest.approx(0.8) and spend["tokens"] == 4
    assert budget.spend("other") == {"cost": 0.0, "tokens": 0.0}


async def test_tenant_budget_token_ceiling() -> None:
    budget = TenantBudget(max_tokens=2)
    agent = Agent(RefProvider([tokens(1, 1), tokens(1, 1)]), middleware=[budget])
    await agent.run("1")
    assert (await agent.run("2")).stopped_reason is StopReason.MAX_TOKENS


# -- MemoryRecall ----------------------------------------------------------------------------


class ListMemory:
    """The reference Memory protocol, scoring records by shared words."""

    def __init__(self) -> None:
        self.records: list[MemoryRecord] = []
        self.searches = 0

    async def save(
        self, content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        record = MemoryRecord(id=str(len(self.records)), content=content, session_id=session_id)
        self.records.append(record)
        return record

    async def search(
        self, query: str, *, k: int = 5, session_id: str | None = None
    ) -> list[MemoryHit]:
        self.searches += 1
        words = set(query.lower().split())
        hits = [
            MemoryHit(record=r, score=len(words & set(r.content.lower().split())) / len(words))
            for r in self.records
            if session_id is None or r.session_id == session_id
        ]
        return sorted((h for h in hits if h.score), key=lambda h: -h.score)[:k]

    async def load(self, session_id: str, *, limit: int = 20) -> list[MemoryRecord]:
        return [r for r in self.records if r.session_id == session_id][-limit:]


def test_memory_recall_signature() -> None:
    assert documented(
        MemoryRecall,
        ("memory", POS, EMPTY),
        ("k", KW, 3),
        ("scope_session", KW, False),
        ("min_score", KW, 0.0),
        ("store_results", KW, True),
    )


async def test_memory_recall_recalls_on_every_run_of_a_session_and_saves_exchanges() -> None:
    """Bug fix: the reference kept its "already recalled" flag in the persisted state, so a
    session recalled memories on its first run only."""
    memory = ListMemory()
    await memory.save("the user lives in Lisbon")
    await memory.save("the user likes jazz music")
    provider = RefProvider(["Lisbon", "jazz"])
    agent = Agent(provider, middleware=[MemoryRecall(memory, k=1)])
    await agent.run("where does the user live", session_id="s")
    await agent.run("what music does the user like", session_id="s")
    first, second = provider.prompts
    assert "Lisbon" in first[0].text and "jazz" in second[0].text
    assert memory.records[-1].content == "Q: what music does the user like\nA: jazz"
    assert memory.records[-1].session_id == "s"


# -- Recorder / Replayer ---------------------------------------------------------------------


async def test_recorder_captures_responses_and_results_in_memory() -> None:
    documented(Recorder)
    recorder = Recorder()
    provider = RefProvider([ask("weather", city="Oslo"), "sunny"])
    await Agent(provider, tools=[weather], middleware=[recorder]).run("weather?")
    assert len(recorder.model_responses) == 2 and recorder.tool_results == ["sunny in Oslo"]
    recording = recorder.recording()
    assert set(recording) >= {"model", "tool"} and recording["tool"] == ["sunny in Oslo"]
    json.dumps(recording)  # JSON-friendly


async def test_replayer_serves_a_recording_without_provider_or_tools() -> None:
    assert documented(Replayer, ("recording", POS, None))
    recorder = Recorder()
    live = RefProvider([ask("weather", city="Oslo"), "sunny"])
    await Agent(live, tools=[weather], middleware=[recorder]).run("weather?")
    for source in (recorder, recorder.recording()):
        offline = RefProvider([])  # any call would fail the test
        result = await Agent(offline, tools=[weather], middleware=[Replayer(source)]).run("w?")
        assert result.answer == "sunny" and offline.calls == []


async def test_a_recording_file_never_leaves_its_folder(tmp_path: Path) -> None:
    """Bug fix: a session id of "../x" wrote outside the recorder's folder."""
    folder = tmp_path / "recordings"
    recorder = Recorder(path=str(folder / "{session_id}.json"))
    agent = Agent(RefProvider(["a", "b"]), middleware=[recorder])
    await agent.run("hi", session_id="../escaped")
    await agent.run("hi", session_id="/etc/evil")
    assert not (tmp_path / "escaped.json").exists()
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["%2E%2E%2Fescaped.json", "%2Fetc%2Fevil.json"]
    assert [p for p in tmp_path.rglob("*.json") if folder not in p.parents] == []
    replayed = Agent(RefProvider([]), middleware=[Replayer(path=str(folder / "{session_id}.json"))])
    assert (await replayed.run("hi", session_id="../escaped")).answer == "a"


async def test_respond_helper_is_used_by_the_doubles() -> None:
    assert respond("x").message.content == "x"
